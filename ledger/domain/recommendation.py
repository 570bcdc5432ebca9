"""Recommendations: a joint body asks a set of principals to decide the same thing."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from ledger.domain.base import LedgerAggregate, parse_date, parse_optional_date, parse_text
from ledger.errors import Problem, RuleViolation

RESPONSE_OUTCOMES = ("adopted", "adopted_with_amendments", "rejected")


class Recommendation(LedgerAggregate):
    """A joint body's recommendation: it cannot bind a principal; each decides on its own.

    Principals' decisions on it are recorded here as responses, in order. A principal may
    decide twice; the later decision supersedes the earlier, and both stay in history.
    """

    kind: ClassVar[str] = "recommendation"
    correctable: ClassVar[dict[str, Any]] = {
        "issued_on": parse_date,
        "respond_by": parse_optional_date,
        "title": parse_text,
    }

    class Issued(LedgerAggregate.Created):
        """The joint body issued the recommendation."""

        joint_body: str
        title: str
        matter: str | None
        decision: str | None
        issued_on: date
        addressees: list[str]
        respond_by: date | None
        points: list[dict[str, Any]]
        justification: str | None

    class PrincipalDecided(LedgerAggregate.Event):
        """An addressed principal decided on the recommendation."""

        principal: str
        decision: str
        outcome: str
        decided_on: date

        def apply(self, aggregate: Recommendation) -> None:
            aggregate.responses.append(
                {"principal": self.principal, "decision": self.decision, "outcome": self.outcome}
            )

    class PrincipalDecisionWithdrawn(LedgerAggregate.Event):
        """A principal's decision no longer counts (it was voided)."""

        principal: str
        decision: str
        reason: str

        def apply(self, aggregate: Recommendation) -> None:
            withdrawn = self.decision.casefold()
            aggregate.responses = [
                r for r in aggregate.responses if r["decision"].casefold() != withdrawn
            ]

    joint_body: str
    title: str
    issued_on: date
    addressees: list[str]
    respond_by: date | None
    responses: list[dict[str, str]]

    def __init__(
        self,
        ref: str,
        joint_body: str,
        title: str,
        matter: str | None,
        decision: str | None,
        issued_on: date,
        addressees: list[str],
        respond_by: date | None,
        points: list[dict[str, Any]],
        justification: str | None,
    ) -> None:
        super().__init__(ref)
        self.joint_body = joint_body
        self.title = title
        self.issued_on = issued_on
        self.addressees = list(addressees)
        self.respond_by = respond_by
        self.responses = []

    def owners(self) -> set[str]:
        return {self.joint_body}

    @classmethod
    def issue(cls, ref: str, **fields: Any) -> Recommendation:
        if fields["respond_by"] is not None and fields["respond_by"] < fields["issued_on"]:
            raise RuleViolation(
                "the respond-by date is before the recommendation was issued",
                [Problem("respond_by", f"before {fields['issued_on'].isoformat()}")],
            )
        recommendation: Recommendation = cls._create(
            cls.Issued, id=cls.id_for(ref), ref=ref, **fields
        )
        return recommendation

    def is_addressed_to(self, principal: str) -> bool:
        return principal.casefold() in {a.casefold() for a in self.addressees}

    def record_principal_decision(
        self, principal: str, decision: str, outcome: str, decided_on: date, field: str
    ) -> None:
        self.check_not_voided()
        if not self.is_addressed_to(principal):
            raise RuleViolation(
                f"recommendation {self.ref!r} is not addressed to {principal!r}",
                [Problem(field, f"{principal} is not among {', '.join(self.addressees)}")],
            )
        self.trigger_event(
            self.PrincipalDecided,
            principal=principal,
            decision=decision,
            outcome=outcome,
            decided_on=decided_on,
        )

    def withdraw_principal_decision(self, principal: str, decision: str, reason: str) -> None:
        self.trigger_event(
            self.PrincipalDecisionWithdrawn, principal=principal, decision=decision, reason=reason
        )
