"""Decisions (beslut): a body's numbered points, their effects, conditions and grounds."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from ledger.domain.base import LedgerAggregate, parse_date, parse_text

DECISION_OUTCOMES = ("as_proposed", "amended", "rejected", "without_motion")


class Decision(LedgerAggregate):
    """What a body decided, usually as a paragraph (§) of a meeting's minutes.

    Each numbered point may carry *effects* on other records (adopt a recommendation,
    extend an agreement, give an assignment, ...). A decision may hold *conditions*: it
    takes effect only when another body endorses it. Whether a condition is met is derived
    by the read models from later decisions; the decision itself never changes for it.
    """

    kind: ClassVar[str] = "decision"
    correctable: ClassVar[dict[str, Any]] = {
        "decided_on": parse_date,
        "justification": parse_text,
    }

    class Recorded(LedgerAggregate.Created):
        """A body's decision was recorded."""

        organisation: str
        body: str
        meeting: str | None
        paragraph: int | None
        decided_on: date
        matter: str | None
        motion: str | None
        outcome: str
        points: list[dict[str, Any]]
        conditions: list[dict[str, Any]]
        justification: str | None
        dispatched_to: list[str]

    organisation: str
    body: str
    meeting: str | None
    paragraph: int | None
    decided_on: date
    points: list[dict[str, Any]]
    conditions: list[dict[str, Any]]
    justification: str | None

    def __init__(
        self,
        ref: str,
        organisation: str,
        body: str,
        meeting: str | None,
        paragraph: int | None,
        decided_on: date,
        matter: str | None,
        motion: str | None,
        outcome: str,
        points: list[dict[str, Any]],
        conditions: list[dict[str, Any]],
        justification: str | None,
        dispatched_to: list[str],
    ) -> None:
        super().__init__(ref)
        self.organisation = organisation
        self.body = body
        self.meeting = meeting
        self.paragraph = paragraph
        self.decided_on = decided_on
        self.points = points
        self.conditions = conditions
        self.justification = justification

    def owners(self) -> set[str]:
        return {self.organisation}

    @classmethod
    def record(cls, ref: str, **fields: Any) -> Decision:
        decision: Decision = cls._create(cls.Recorded, id=cls.id_for(ref), ref=ref, **fields)
        return decision

    @property
    def effects(self) -> list[dict[str, Any]]:
        return [effect for point in self.points for effect in point.get("effects", [])]
