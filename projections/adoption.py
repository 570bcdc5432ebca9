"""Read model 2, adoption per principal: where each addressed principal stands on a recommendation.

Each principal's outcome is its latest decision on the recommendation by the date asked
about (a later decision supersedes an earlier one; both stay in the history), with the
body, date and § of that decision, whether the paragraph is verified and whether its
conditions hold. A principal without a decision after the respond-by date is overdue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypedDict, cast

from projections.derivations import (
    ConditionsState,
    ConditionStatus,
    Correction,
    Registered,
    conditions_as_of,
    conditions_state,
    corrections_of,
    decisions,
    effective_as_of,
    endorsement_keys,
    entity_state,
    same,
    verified_as_of,
)
from projections.events import (
    RECOMMENDATION_ISSUED,
    RECOMMENDATION_PRINCIPAL_DECIDED,
    RECOMMENDATION_PRINCIPAL_DECISION_WITHDRAWN,
)
from projections.facts import JSON, Item, Loader, key, parse_date
from projections.readmodel import FoldedReadModel

Outcome = Literal["adopted", "adopted_with_amendments", "rejected", "no_decision"]
ADOPTED = ("adopted", "adopted_with_amendments")


@dataclass(frozen=True)
class EarlierDecision:
    """A principal's decision superseded by a later one."""

    decision: str
    outcome: str
    decided_on: date


@dataclass(frozen=True)
class PrincipalOutcome:
    """One addressed principal's standing on the recommendation."""

    principal: str
    outcome: Outcome
    decision: str | None
    body: str | None
    decided_on: date | None
    meeting: str | None
    paragraph: int | None
    verified: bool
    verified_on: date | None
    conditions: tuple[ConditionStatus, ...]
    conditions_state: ConditionsState
    conditions_hold: bool
    overdue: bool
    late: bool
    earlier: tuple[EarlierDecision, ...]


@dataclass(frozen=True)
class Adoption:
    """A recommendation and each addressed principal's outcome on ``as_of``.

    ``adopted`` counts principals whose adoption is in effect (conditions hold), so
    "6 of 9" is ``adopted`` of ``addressed``.
    """

    ref: str
    title: str
    joint_body: str
    matter: str | None
    decision: str | None
    issued_on: date
    respond_by: date | None
    as_of: date
    principals: tuple[PrincipalOutcome, ...]
    addressed: int
    decided: int
    adopted: int
    rejected: int
    not_decided: tuple[str, ...]
    overdue: tuple[str, ...]
    corrections: tuple[Correction, ...]


class ResponseFact(TypedDict):
    """A principal's decision on the recommendation, standing as its decision does."""

    principal: str
    decision: str
    outcome: str
    decided_on: str
    position: int
    body: str
    meeting: str | None
    paragraph: int | None
    verified_on: str | None
    effective_on: str | None
    conditions: list[JSON]


class FoldedRecommendation(Registered):
    """A recommendation's folded state: what :func:`adoption` reads (dates ISO)."""

    joint_body: str
    title: str
    matter: str | None
    decision: str | None
    issued_on: str
    addressees: list[str]
    respond_by: str | None
    responses: list[ResponseFact]


class AdoptionModel(FoldedReadModel[FoldedRecommendation]):
    """Recommendations, the principals' decisions on them, and those decisions' standing."""

    name = "adoption"
    entity_kind = "recommendation"
    root_events = frozenset({RECOMMENDATION_ISSUED})
    columns = (("joint_body", "text"),)

    def extra_keys(self, item: Item) -> Sequence[str]:
        return endorsement_keys(item)

    def fold(self, entity: str, loader: Loader) -> FoldedRecommendation | None:
        facts = loader.get(entity)
        state = cast(
            FoldedRecommendation | None, entity_state(facts, entity, RECOMMENDATION_ISSUED)
        )
        if state is None:
            return None
        own = [f for f in facts if f.entity == entity]
        withdrawn = {
            (f.data["principal"].casefold(), f.data["decision"].casefold()) for f in own
            if f.event_type == RECOMMENDATION_PRINCIPAL_DECISION_WITHDRAWN
        }
        decided = [f for f in own if f.event_type == RECOMMENDATION_PRINCIPAL_DECIDED]
        deciding = decisions(
            loader, {key("decision", f.data["decision"]) for f in decided}, meetings=True
        )
        responses: list[ResponseFact] = []
        for f in decided:
            d = deciding.get(key("decision", f.data["decision"]))
            if d is None or d["voided"]:
                continue
            if (f.data["principal"].casefold(), f.data["decision"].casefold()) in withdrawn:
                continue
            responses.append(
                {
                    "principal": f.data["principal"],
                    "decision": f.data["decision"],
                    "outcome": f.data["outcome"],
                    "decided_on": d["decided_on"],
                    "position": f.position,
                    "body": d["body"],
                    "meeting": d.get("meeting"),
                    "paragraph": d.get("paragraph"),
                    "verified_on": d.get("verified_on"),
                    "effective_on": d["effective_on"],
                    "conditions": d["conditions"],
                }
            )
        state["responses"] = responses
        return state

    def column_values(self, state: FoldedRecommendation) -> tuple[Any, ...]:
        return (state["joint_body"].casefold(),)


def _outcome(
    principal: str, responses: list[Mapping[str, Any]], respond_by: date | None, as_of: date
) -> PrincipalOutcome:
    ordered = sorted(responses, key=lambda r: (r["decided_on"], r["position"]))
    overdue = respond_by is not None and as_of > respond_by and not ordered
    if not ordered:
        return PrincipalOutcome(
            principal=principal, outcome="no_decision", decision=None, body=None,
            decided_on=None, meeting=None, paragraph=None, verified=False, verified_on=None,
            conditions=(), conditions_state="none", conditions_hold=False, overdue=overdue,
            late=False, earlier=(),
        )
    latest = ordered[-1]
    decided_on = parse_date(latest["decided_on"])
    assert decided_on is not None
    conditions = conditions_as_of(latest, as_of)
    verified_on = verified_as_of(latest, as_of)
    return PrincipalOutcome(
        principal=principal,
        outcome=latest["outcome"],
        decision=latest["decision"],
        body=latest["body"],
        decided_on=decided_on,
        meeting=latest.get("meeting"),
        paragraph=latest.get("paragraph"),
        verified=verified_on is not None,
        verified_on=verified_on,
        conditions=conditions,
        conditions_state=conditions_state(conditions),
        conditions_hold=effective_as_of(latest, as_of),
        overdue=False,
        late=respond_by is not None and decided_on > respond_by,
        earlier=tuple(
            EarlierDecision(r["decision"], r["outcome"], parse_date(r["decided_on"]))  # type: ignore[arg-type]
            for r in ordered[:-1]
        ),
    )


def adoption(state: FoldedRecommendation, as_of: date) -> Adoption | None:
    """Where each principal stands on ``as_of`` (None if voided or not yet issued)."""
    issued_on = parse_date(state["issued_on"])
    assert issued_on is not None
    if state["voided"] or issued_on > as_of:
        return None
    respond_by = parse_date(state.get("respond_by"))
    seen = [r for r in state["responses"] if parse_date(r["decided_on"]) <= as_of]  # type: ignore[operator]
    principals = tuple(
        _outcome(p, [r for r in seen if same(r["principal"], p)], respond_by, as_of)
        for p in state["addressees"]
    )
    return Adoption(
        ref=state["ref"],
        title=state["title"],
        joint_body=state["joint_body"],
        matter=state.get("matter"),
        decision=state.get("decision"),
        issued_on=issued_on,
        respond_by=respond_by,
        as_of=as_of,
        principals=principals,
        addressed=len(principals),
        decided=sum(p.outcome != "no_decision" for p in principals),
        adopted=sum(p.outcome in ADOPTED and p.conditions_hold for p in principals),
        rejected=sum(p.outcome == "rejected" for p in principals),
        not_decided=tuple(p.principal for p in principals if p.outcome == "no_decision"),
        overdue=tuple(p.principal for p in principals if p.overdue),
        corrections=corrections_of(state),
    )
