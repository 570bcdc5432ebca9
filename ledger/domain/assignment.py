"""Assignments (uppdrag): an owner, a task and a due date, revised and reported back."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from ledger.domain.base import LedgerAggregate, parse_text
from ledger.errors import AlreadyRecorded, Problem, RuleViolation


class Assignment(LedgerAggregate):
    """A task a decision gives to someone ("the regional director reports back in autumn").

    A revised deadline replaces the old one; both stay in history.
    """

    kind: ClassVar[str] = "assignment"
    correctable: ClassVar[dict[str, Any]] = {"task": parse_text, "owner": parse_text}

    class Given(LedgerAggregate.Created):
        """A decision gave the assignment."""

        decision: str
        organisation: str
        owner: str
        task: str
        given_on: date
        due_on: date | None

    class DeadlineRevised(LedgerAggregate.Event):
        """A decision set or moved the due date."""

        due_on: date
        decision: str
        revised_on: date

        def apply(self, aggregate: Assignment) -> None:
            aggregate.due_on = self.due_on

    class ReportedBack(LedgerAggregate.Event):
        """The owner reported back; the assignment is done."""

        reported_on: date
        summary: str | None
        decision: str | None

        def apply(self, aggregate: Assignment) -> None:
            aggregate.reported_on = self.reported_on

    organisation: str
    owner: str
    task: str
    given_on: date
    due_on: date | None
    reported_on: date | None

    def __init__(
        self,
        ref: str,
        decision: str,
        organisation: str,
        owner: str,
        task: str,
        given_on: date,
        due_on: date | None,
    ) -> None:
        super().__init__(ref)
        self.organisation = organisation
        self.owner = owner
        self.task = task
        self.given_on = given_on
        self.due_on = due_on
        self.reported_on = None

    @classmethod
    def give(cls, ref: str, **fields: Any) -> Assignment:
        if fields["due_on"] is not None and fields["due_on"] < fields["given_on"]:
            raise RuleViolation(
                "the assignment is due before it was given",
                [Problem("due_on", f"before {fields['given_on'].isoformat()}")],
            )
        assignment: Assignment = cls._create(cls.Given, id=cls.id_for(ref), ref=ref, **fields)
        return assignment

    def owners(self) -> set[str]:
        return {self.organisation}

    def revise_deadline(self, due_on: date, decision: str, revised_on: date, field: str) -> None:
        self.check_not_voided()
        if due_on < self.given_on:
            raise RuleViolation(
                "a deadline cannot fall before the assignment was given",
                [Problem(field, f"before {self.given_on.isoformat()}")],
            )
        self.trigger_event(
            self.DeadlineRevised, due_on=due_on, decision=decision, revised_on=revised_on
        )

    def report_back(self, reported_on: date, summary: str | None, decision: str | None) -> None:
        self.check_not_voided()
        if self.reported_on is not None:
            raise AlreadyRecorded(
                f"assignment {self.ref!r} was already reported back",
                [Problem("assignment", f"reported on {self.reported_on.isoformat()}")],
            )
        if reported_on < self.given_on:
            raise RuleViolation(
                "cannot report back before the assignment was given",
                [Problem("reported_on", f"before {self.given_on.isoformat()}")],
            )
        self.trigger_event(
            self.ReportedBack, reported_on=reported_on, summary=summary, decision=decision
        )
