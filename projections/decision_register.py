"""Read model 4, the decision register: every decision by organisation, body and period.

For each decision, on the date asked about: whether its paragraph is verified, whether its
conditions are pending or met (and so whether it is in effect), and whether it is under
appeal, annulled, still open to appeal, or final.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from projections.derivations import (
    Appeal,
    AppealStatus,
    ConditionsState,
    ConditionStatus,
    Correction,
    Registered,
    appeal_status,
    appeals_as_of,
    conditions_as_of,
    conditions_state,
    corrections_of,
    decisions,
    effective_as_of,
    endorsement_keys,
    verified_as_of,
)
from projections.events import DECISION_RECORDED
from projections.facts import JSON, Item, Loader, parse_date
from projections.readmodel import FoldedReadModel


@dataclass(frozen=True)
class DecisionPoint:
    number: int
    text: str
    effects: tuple[str, ...]


@dataclass(frozen=True)
class DecisionEntry:
    """One decision in the register on ``as_of``."""

    ref: str
    organisation: str
    body: str
    meeting: str | None
    paragraph: int | None
    decided_on: date
    outcome: str
    matter: str | None
    motion: str | None
    points: tuple[DecisionPoint, ...]
    justification: str | None
    dispatched_to: tuple[str, ...]
    as_of: date
    verified: bool
    verified_on: date | None
    conditions: tuple[ConditionStatus, ...]
    conditions_state: ConditionsState
    in_effect: bool
    effective_on: date | None
    posted_on: date | None
    appeal_period_ends: date | None
    appeals: tuple[Appeal, ...]
    appeal_status: AppealStatus
    corrections: tuple[Correction, ...]


class FoldedDecision(Registered):
    """A decision's folded state: its derived facts (:func:`derivations.decision`) with its
    paragraph's verification, posting and appeals; what :func:`decision_entry` reads."""

    organisation: str
    body: str
    meeting: str | None
    paragraph: int | None
    decided_on: str
    matter: str | None
    motion: str | None
    outcome: str
    points: list[JSON]
    conditions: list[JSON]
    justification: str | None
    dispatched_to: list[str]
    effective_on: str | None
    verified_on: str | None
    posted_on: str | None
    appeal_period_ends: str | None
    appeals: list[JSON]


class DecisionRegisterModel(FoldedReadModel[FoldedDecision]):
    """Decisions with their meetings' verification, posting and appeals, and endorsements."""

    name = "decisions"
    entity_kind = "decision"
    root_events = frozenset({DECISION_RECORDED})
    columns = (
        ("organisation", "text"),
        ("body", "text"),
        ("decided_on", "text"),
        ("decided_min", "text"),
        ("decided_max", "text"),
    )

    def extra_keys(self, item: Item) -> Sequence[str]:
        return endorsement_keys(item)

    def fold(self, entity: str, loader: Loader) -> FoldedDecision | None:
        return cast(FoldedDecision | None, decisions(loader, [entity], meetings=True).get(entity))

    def column_values(self, state: FoldedDecision) -> tuple[Any, ...]:
        dates = [c["right_value"] for c in state["corrections"] if c["field"] == "decided_on"]
        dates += [c["wrong_value"] for c in state["corrections"] if c["field"] == "decided_on"]
        dates.append(state["decided_on"])
        return (
            state["organisation"].casefold(),
            state["body"].casefold(),
            state["decided_on"],
            min(dates),
            max(dates),
        )


def _effect_text(effect: Mapping[str, Any]) -> str:
    details = ", ".join(f"{k}={v}" for k, v in effect.items() if k != "effect" and v is not None)
    return f"{effect['effect']}({details})"


def decision_entry(state: FoldedDecision, as_of: date) -> DecisionEntry | None:
    """The decision on ``as_of`` (None if voided or decided later)."""
    decided_on = parse_date(state["decided_on"])
    assert decided_on is not None
    if state["voided"] or decided_on > as_of:
        return None
    conditions = conditions_as_of(state, as_of)
    appeals = appeals_as_of(state, as_of)
    verified_on = verified_as_of(state, as_of)
    effective = effective_as_of(state, as_of)
    posted_on = parse_date(state.get("posted_on"))
    if posted_on is not None and posted_on > as_of:
        posted_on = None
    return DecisionEntry(
        ref=state["ref"],
        organisation=state["organisation"],
        body=state["body"],
        meeting=state.get("meeting"),
        paragraph=state.get("paragraph"),
        decided_on=decided_on,
        outcome=state["outcome"],
        matter=state.get("matter"),
        motion=state.get("motion"),
        points=tuple(
            DecisionPoint(
                number=p["number"],
                text=p["text"],
                effects=tuple(_effect_text(e) for e in p.get("effects") or []),
            )
            for p in state["points"]
        ),
        justification=state.get("justification"),
        dispatched_to=tuple(state.get("dispatched_to") or ()),
        as_of=as_of,
        verified=verified_on is not None,
        verified_on=verified_on,
        conditions=conditions,
        conditions_state=conditions_state(conditions),
        in_effect=effective,
        effective_on=parse_date(state["effective_on"]) if effective else None,
        posted_on=posted_on,
        appeal_period_ends=parse_date(state.get("appeal_period_ends")) if posted_on else None,
        appeals=appeals,
        appeal_status=appeal_status(state, appeals, as_of),
        corrections=corrections_of(state),
    )
