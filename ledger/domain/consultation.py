"""Consultations (remisser): a draft sent to principals for comment within a period."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from ledger.domain.base import LedgerAggregate, parse_date, parse_text
from ledger.errors import AlreadyRecorded, Problem, RuleViolation

STANCES = ("supports", "supports_with_comments", "objects", "no_opinion", "not_stated")


class Consultation(LedgerAggregate):
    """A consultation round. Late responses are accepted (and flagged by the read models)."""

    kind: ClassVar[str] = "consultation"
    correctable: ClassVar[dict[str, Any]] = {
        "opens_on": parse_date,
        "closes_on": parse_date,
        "subject": parse_text,
    }

    class Opened(LedgerAggregate.Created):
        """The consultation was sent out."""

        organisation: str
        subject: str
        matter: str | None
        decision: str | None
        addressees: list[str]
        opens_on: date
        closes_on: date

    class ResponseReceived(LedgerAggregate.Event):
        """An addressed principal answered."""

        principal: str
        received_on: date
        stance: str
        summary: str | None
        decision: str | None

        def apply(self, aggregate: Consultation) -> None:
            aggregate.responded.add(self.principal.casefold())

    class Closed(LedgerAggregate.Event):
        """The round was closed."""

        closed_on: date

        def apply(self, aggregate: Consultation) -> None:
            aggregate.closed_on = self.closed_on

    organisation: str
    subject: str
    addressees: list[str]
    opens_on: date
    closes_on: date
    closed_on: date | None
    responded: set[str]

    def __init__(
        self,
        ref: str,
        organisation: str,
        subject: str,
        matter: str | None,
        decision: str | None,
        addressees: list[str],
        opens_on: date,
        closes_on: date,
    ) -> None:
        super().__init__(ref)
        self.organisation = organisation
        self.subject = subject
        self.addressees = list(addressees)
        self.opens_on = opens_on
        self.closes_on = closes_on
        self.closed_on = None
        self.responded = set()

    def owners(self) -> set[str]:
        return {self.organisation}

    @classmethod
    def open(cls, ref: str, **fields: Any) -> Consultation:
        if fields["closes_on"] < fields["opens_on"]:
            raise RuleViolation(
                "the consultation period ends before it starts",
                [Problem("closes_on", f"before {fields['opens_on'].isoformat()}")],
            )
        consultation: Consultation = cls._create(cls.Opened, id=cls.id_for(ref), ref=ref, **fields)
        return consultation

    def receive_response(
        self,
        principal: str,
        received_on: date,
        stance: str,
        summary: str | None,
        decision: str | None,
    ) -> None:
        self.check_not_voided()
        if principal.casefold() not in {a.casefold() for a in self.addressees}:
            raise RuleViolation(
                f"consultation {self.ref!r} was not sent to {principal!r}",
                [Problem("principal", f"not among {', '.join(self.addressees)}")],
            )
        if received_on < self.opens_on:
            raise RuleViolation(
                "a response cannot arrive before the consultation opened",
                [Problem("received_on", f"before {self.opens_on.isoformat()}")],
            )
        self.trigger_event(
            self.ResponseReceived,
            principal=principal,
            received_on=received_on,
            stance=stance,
            summary=summary,
            decision=decision,
        )

    def close(self, closed_on: date) -> None:
        self.check_not_voided()
        if self.closed_on is not None:
            raise AlreadyRecorded(
                f"consultation {self.ref!r} is already closed",
                [Problem("consultation", f"closed on {self.closed_on.isoformat()}")],
            )
        if closed_on < self.opens_on:
            raise RuleViolation(
                "a consultation cannot close before it opened",
                [Problem("closed_on", f"before {self.opens_on.isoformat()}")],
            )
        self.trigger_event(self.Closed, closed_on=closed_on)
