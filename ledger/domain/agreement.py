"""Agreements and joint plans: parties, validity, and every change decided by the parties."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from ledger.domain.base import LedgerAggregate, parse_date, parse_optional_date, parse_text
from ledger.errors import Problem, RuleViolation

AGREEMENT_KINDS = ("agreement", "joint_plan")
CHANGE_KINDS = ("adopt", "extend", "revise", "terminate", "replace")
ENDING_CHANGES = ("terminate", "replace")


def change_key(change: dict[str, Any]) -> tuple[str, str]:
    """Two parties decided *the same* change when kind and its defining value agree.

    An extension is defined by its new end date, a termination by its date, a replacement
    by what replaces it, a revision by its effective date and summary.
    """
    kind = change["kind"]
    if kind == "extend":
        return kind, str(change["until"])
    if kind == "replace":
        return kind, str(change["replaced_by"]).casefold()
    if kind == "revise":
        return kind, f"{change.get('effective_on')}|{change.get('summary', '')}"
    return kind, str(change.get("effective_on"))


class Agreement(LedgerAggregate):
    """An agreement (avtal) or joint plan (gemensam plan) between principals.

    A change needs a decision of every party; each party's decision is recorded here as it
    comes. An agreement registered as already concluded is in force from ``valid_from``;
    one registered as a draft (a joint plan) needs every party's adoption first.
    """

    kind: ClassVar[str] = "agreement"
    correctable: ClassVar[dict[str, Any]] = {
        "title": parse_text,
        "valid_from": parse_date,
        "valid_until": parse_optional_date,
    }

    class Registered(LedgerAggregate.Created):
        """The agreement entered the ledger."""

        title: str
        agreement_kind: str
        parties: list[str]
        matter: str | None
        valid_from: date
        valid_until: date | None
        concluded: bool

    class PartyDecided(LedgerAggregate.Event):
        """One party decided a change to the agreement (adopt, extend, revise, end)."""

        party: str
        decision: str
        decided_on: date
        change: dict[str, Any]

        def apply(self, aggregate: Agreement) -> None:
            aggregate.party_decisions.append(
                {"party": self.party, "decision": self.decision, "change": self.change}
            )

    class PartyDecisionWithdrawn(LedgerAggregate.Event):
        """A party's decision no longer counts (it was voided)."""

        party: str
        decision: str
        reason: str

        def apply(self, aggregate: Agreement) -> None:
            aggregate.party_decisions = [
                d for d in aggregate.party_decisions
                if d["decision"].casefold() != self.decision.casefold()
            ]

    title: str
    agreement_kind: str
    parties: list[str]
    valid_from: date
    valid_until: date | None
    concluded: bool
    party_decisions: list[dict[str, Any]]

    def __init__(
        self,
        ref: str,
        title: str,
        agreement_kind: str,
        parties: list[str],
        matter: str | None,
        valid_from: date,
        valid_until: date | None,
        concluded: bool,
    ) -> None:
        super().__init__(ref)
        self.title = title
        self.agreement_kind = agreement_kind
        self.parties = list(parties)
        self.valid_from = valid_from
        self.valid_until = valid_until
        self.concluded = concluded
        self.party_decisions = []

    def owners(self) -> set[str]:
        return set(self.parties)

    @classmethod
    def register(cls, ref: str, **fields: Any) -> Agreement:
        until = fields["valid_until"]
        if until is not None and until < fields["valid_from"]:
            raise RuleViolation(
                "the agreement's validity ends before it starts",
                [Problem("valid_until", f"before {fields['valid_from'].isoformat()}")],
            )
        agreement: Agreement = cls._create(cls.Registered, id=cls.id_for(ref), ref=ref, **fields)
        return agreement

    def is_party(self, organisation: str) -> bool:
        return organisation.casefold() in {p.casefold() for p in self.parties}

    def decided_by_all(self, key: tuple[str, str]) -> bool:
        deciders = {
            d["party"].casefold() for d in self.party_decisions if change_key(d["change"]) == key
        }
        return deciders >= {p.casefold() for p in self.parties}

    @property
    def ended_by(self) -> str | None:
        """``terminated`` or ``superseded`` once every party has decided so, else None."""
        for decision in self.party_decisions:
            key = change_key(decision["change"])
            if key[0] in ENDING_CHANGES and self.decided_by_all(key):
                return "terminated" if key[0] == "terminate" else "superseded"
        return None

    def record_party_decision(
        self, party: str, decision: str, decided_on: date, change: dict[str, Any], field: str
    ) -> None:
        self.check_not_voided()
        if not self.is_party(party):
            raise RuleViolation(
                f"{party!r} is not a party to agreement {self.ref!r}",
                [Problem(field, f"parties are {', '.join(self.parties)}")],
            )
        ended = self.ended_by
        if ended is not None:
            raise RuleViolation(
                f"agreement {self.ref!r} is already {ended}",
                [Problem(field, f"{self.ref} was {ended} by all its parties")],
            )
        for date_field in ("until", "effective_on"):
            when = change.get(date_field)
            if when is not None and date.fromisoformat(str(when)) < self.valid_from:
                raise RuleViolation(
                    "the agreement's validity would end before it starts",
                    [Problem(f"{field}.{date_field}", f"before {self.valid_from.isoformat()}")],
                )
        self.trigger_event(
            self.PartyDecided, party=party, decision=decision, decided_on=decided_on, change=change
        )

    def withdraw_party_decision(self, party: str, decision: str, reason: str) -> None:
        self.trigger_event(
            self.PartyDecisionWithdrawn, party=party, decision=decision, reason=reason
        )
