"""Read model 6, assignments and deadlines: open, done, overdue, and every deadline revision.

On a date, an assignment's due date is the latest revision by then made by a decision in
effect (else the date it was given with); the earlier ones stay in its history. It is
*done* once reported back, *overdue* once the due date has passed without a report, and
*pending* while the decision that gave it waits on a condition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypedDict, cast

from projections.derivations import (
    Correction,
    Registered,
    corrections_of,
    decisions,
    effective_as_of,
    endorsement_keys,
    entity_state,
)
from projections.events import (
    ASSIGNMENT_DEADLINE_REVISED,
    ASSIGNMENT_GIVEN,
    ASSIGNMENT_REPORTED_BACK,
)
from projections.facts import Item, Loader, key, parse_date
from projections.readmodel import FoldedReadModel

AssignmentState = Literal["pending", "open", "overdue", "done"]


@dataclass(frozen=True)
class DeadlineRevision:
    due_on: date
    decision: str
    revised_on: date
    current: bool
    position: int


@dataclass(frozen=True)
class AssignmentStatus:
    """One assignment on ``as_of``."""

    ref: str
    decision: str
    organisation: str
    owner: str
    task: str
    given_on: date
    as_of: date
    status: AssignmentState
    due_on: date | None
    original_due_on: date | None
    revisions: tuple[DeadlineRevision, ...]
    reported_on: date | None
    report_summary: str | None
    late: bool
    corrections: tuple[Correction, ...]


class RevisionFact(TypedDict):
    """A deadline revision, dated and in effect as its decision is."""

    due_on: str
    decision: str
    revised_on: str
    effective_on: str | None
    position: int


class FoldedAssignment(Registered):
    """An assignment's folded state: what :func:`assignment_status` reads (dates ISO)."""

    decision: str
    organisation: str
    owner: str
    task: str
    given_on: str
    due_on: str | None
    given_effective_on: str | None
    revisions: list[RevisionFact]
    reported_on: str | None
    report_summary: str | None


class AssignmentsModel(FoldedReadModel[FoldedAssignment]):
    """Assignments, their deadline revisions and reports, and the deciding decisions."""

    name = "assignments"
    entity_kind = "assignment"
    root_events = frozenset({ASSIGNMENT_GIVEN})
    columns = (("organisation", "text"),)

    def extra_keys(self, item: Item) -> Sequence[str]:
        return endorsement_keys(item)

    def fold(self, entity: str, loader: Loader) -> FoldedAssignment | None:
        facts = loader.get(entity)
        state = cast(FoldedAssignment | None, entity_state(facts, entity, ASSIGNMENT_GIVEN))
        if state is None:
            return None
        revised = [f for f in facts if f.event_type == ASSIGNMENT_DEADLINE_REVISED]
        deciders = {key("decision", f.data["decision"]) for f in revised}
        deciders.add(key("decision", state["decision"]))
        deciding = decisions(loader, deciders, meetings=False)
        given_by = deciding.get(key("decision", state["decision"]))
        if given_by is not None:  # given on the day of the decision that gave it, as corrected
            state["given_on"] = given_by["decided_on"]
        state["given_effective_on"] = given_by["effective_on"] if given_by else state["given_on"]
        state["revisions"] = []
        for f in revised:
            d = deciding.get(key("decision", f.data["decision"]))
            if d is None or d["voided"]:
                continue
            state["revisions"].append(
                {"due_on": f.data["due_on"], "decision": f.data["decision"],
                 "revised_on": d["decided_on"], "effective_on": d["effective_on"],
                 "position": f.position}
            )
        report = next((f for f in facts if f.event_type == ASSIGNMENT_REPORTED_BACK), None)
        state["reported_on"] = report.data["reported_on"] if report else None
        state["report_summary"] = report.data.get("summary") if report else None
        return state

    def column_values(self, state: FoldedAssignment) -> tuple[Any, ...]:
        return (state["organisation"].casefold(),)


def assignment_status(state: FoldedAssignment, as_of: date) -> AssignmentStatus | None:
    """The assignment on ``as_of`` (None if voided or given later)."""
    given_on = parse_date(state["given_on"])
    assert given_on is not None
    if state["voided"] or given_on > as_of:
        return None
    revisions = sorted(
        (r for r in state["revisions"] if effective_as_of(r, as_of)),
        key=lambda r: (r["revised_on"], r["position"]),
    )
    current = revisions[-1] if revisions else None
    original = parse_date(state.get("due_on"))
    due_on = parse_date(current["due_on"]) if current else original
    reported = parse_date(state.get("reported_on"))
    if reported is not None and reported > as_of:
        reported = None
    status: AssignmentState
    if not effective_as_of({"effective_on": state["given_effective_on"]}, as_of):
        status = "pending"
    elif reported is not None:
        status = "done"
    elif due_on is not None and as_of > due_on:
        status = "overdue"
    else:
        status = "open"
    return AssignmentStatus(
        ref=state["ref"],
        decision=state["decision"],
        organisation=state["organisation"],
        owner=state["owner"],
        task=state["task"],
        given_on=given_on,
        as_of=as_of,
        status=status,
        due_on=due_on,
        original_due_on=original,
        revisions=tuple(
            DeadlineRevision(
                due_on=parse_date(r["due_on"]),  # type: ignore[arg-type]
                decision=r["decision"],
                revised_on=parse_date(r["revised_on"]),  # type: ignore[arg-type]
                current=r is current,
                position=r["position"],
            )
            for r in revisions
        ),
        reported_on=reported,
        report_summary=state.get("report_summary") if reported else None,
        late=reported is not None and due_on is not None and reported > due_on,
        corrections=corrections_of(state),
    )
