"""What the home page shows, shaped from the read models: the matrix, the summary figures.

Principals are the addressees of the recommendations in view, in the order the ledger
lists them; nothing names a county or a principal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from projections.adoption import ADOPTED, Adoption, PrincipalOutcome
from projections.agreement_status import AgreementStatus
from projections.assignments import AssignmentStatus
from projections.consultations import ConsultationStatus

CellState = Literal[
    "adopted", "adopted_with_amendments", "conditional", "rejected", "pending", "overdue",
    "not_addressed",
]


def cell_state(outcome: PrincipalOutcome) -> CellState:
    """One principal's outcome as the matrix shows it.

    An adoption whose conditions do not hold (yet) is *conditional*: it does not count as
    adopted, and the matrix says so rather than showing a tick.
    """
    if outcome.outcome in ADOPTED:
        if not outcome.conditions_hold:
            return "conditional"
        return "adopted" if outcome.outcome == "adopted" else "adopted_with_amendments"
    if outcome.outcome == "rejected":
        return "rejected"
    return "overdue" if outcome.overdue else "pending"


@dataclass(frozen=True)
class Cell:
    key: str
    principal: str
    state: CellState
    outcome: PrincipalOutcome | None


@dataclass(frozen=True)
class Row:
    adoption: Adoption
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Matrix:
    principals: tuple[str, ...]
    rows: tuple[Row, ...]


def matrix(adoptions: Sequence[Adoption]) -> Matrix:
    """Recommendations by principals; a principal not addressed gets an empty cell."""
    principals: list[str] = []
    for a in adoptions:
        for p in a.principals:
            if all(p.principal.casefold() != q.casefold() for q in principals):
                principals.append(p.principal)
    rows = []
    for a in adoptions:
        by_name = {p.principal.casefold(): p for p in a.principals}
        cells = []
        for name in principals:
            outcome = by_name.get(name.casefold())
            state: CellState = cell_state(outcome) if outcome else "not_addressed"
            cells.append(Cell(f"{a.ref}|{name}", name, state, outcome))
        rows.append(Row(a, tuple(cells)))
    return Matrix(tuple(principals), tuple(rows))


@dataclass(frozen=True)
class Figure:
    """One figure at the top of the page: ``value`` of ``total``, and where to read more."""

    key: str
    value: int
    total: int
    section: str
    alert: bool = False


def summary(
    agreements: Sequence[AgreementStatus],
    adoptions: Sequence[Adoption],
    consultations: Sequence[ConsultationStatus],
    assignments: Sequence[AssignmentStatus],
) -> tuple[Figure, ...]:
    """Where do we stand, at a glance: four figures, each "n of total"."""
    overdue = sum(a.status == "overdue" for a in assignments)
    opened = [c for c in consultations if c.state != "not_yet_open"]
    return (
        Figure("agreements", sum(a.in_force for a in agreements), len(agreements), "agreements"),
        Figure("adoption", sum(a.adopted == a.addressed for a in adoptions), len(adoptions),
               "adoption"),
        Figure("consultations", sum(len(c.missing) for c in opened),
               sum(c.addressed for c in opened), "consultations"),
        Figure("assignments", overdue, len(assignments), "assignments", alert=overdue > 0),
    )


def assignment_order(assignments: Sequence[AssignmentStatus]) -> list[AssignmentStatus]:
    """Overdue first, then open and conditional ones, each by due date."""
    rank = {"overdue": 0, "open": 1, "pending": 2, "done": 3}
    return sorted(assignments, key=lambda a: (rank.get(a.status, 9),
                                              a.due_on.isoformat() if a.due_on else "9999",
                                              a.ref.casefold()))


def agreement_existed(agreement: AgreementStatus, day: date) -> bool:
    """Whether the page as of ``day`` shows ``agreement``: from the day it starts, or from a
    party's first decision on it if that came earlier (a plan being adopted). Before both it
    did not exist yet, and a page about the past never shows what came later."""
    decided = [d.decided_on for change in (*agreement.history, *agreement.pending_changes)
               for d in (*change.decided, *change.awaiting_conditions)]
    return min([agreement.valid_from, *decided]) <= day


def consultation_existed(consultation: ConsultationStatus, day: date) -> bool:
    """Whether the page as of ``day`` shows ``consultation``: from the day it opens."""
    return consultation.opens_on <= day
