"""Assignments and deadlines: given these decisions, the assignment is open, overdue or done."""

from __future__ import annotations

from datetime import date

from projections.queries import ReadModels
from tests.projections import scenario as s
from tests.projections.conftest import Registrar, Store


def project(store: Store) -> ReadModels:
    store.runner().run_once()
    return store.read_models()


def given(registrar: Registrar) -> None:
    s.reference_data(registrar)
    s.agreement(registrar)
    s.board_decision(registrar)
    s.endorsement(registrar)


def test_overdue_is_judged_against_the_date_asked_about(store: Store, registrar: Registrar) -> None:
    given(registrar)
    models = project(store)

    def status(day: date) -> str | None:
        a = models.assignment(s.ASSIGNMENT, as_of=day)
        return a.status if a else None

    assert status(date(2021, 3, 1)) is None
    assert status(date(2021, 4, 1)) == "pending"
    assert status(date(2021, 11, 30)) == "open"
    assert status(date(2021, 12, 1)) == "overdue"
    assert [a.ref for a in models.assignments(status="overdue", as_of=date(2022, 1, 1))] == [
        s.ASSIGNMENT
    ]


def test_a_revised_deadline_replaces_the_old_one_and_both_stay(
    store: Store, registrar: Registrar
) -> None:
    given(registrar)
    registrar.record(
        {
            "type": "RecordDecision",
            "ref": "RS ny tid",
            "organisation": "RJH",
            "body": "RS",
            "decided_on": "2021-11-15",
            "points": [
                {
                    "number": 1,
                    "text": "Återrapport i februari.",
                    "effects": [
                        {
                            "effect": "set_deadline",
                            "assignment": s.ASSIGNMENT,
                            "due_on": "2022-02-28",
                        }
                    ],
                }
            ],
        }
    )
    registrar.record(
        {
            "type": "ReportBack",
            "assignment": s.ASSIGNMENT,
            "reported_on": "2022-03-10",
            "summary": "Arbetet fortlöper.",
        }
    )
    models = project(store)

    december = models.assignment(s.ASSIGNMENT, as_of=date(2021, 12, 15))
    march = models.assignment(s.ASSIGNMENT, as_of=date(2022, 3, 5))
    done = models.assignment(s.ASSIGNMENT, as_of=date(2022, 4, 1))

    assert december is not None and march is not None and done is not None
    assert (december.status, december.due_on, december.original_due_on) == (
        "open",
        date(2022, 2, 28),
        date(2021, 11, 30),
    )
    assert [(r.due_on, r.decision, r.current) for r in december.revisions] == [
        (date(2022, 2, 28), "RS ny tid", True)
    ]
    assert march.status == "overdue"
    assert (done.status, done.reported_on, done.late, done.report_summary) == (
        "done",
        date(2022, 3, 10),
        True,
        "Arbetet fortlöper.",
    )


def test_a_voided_decision_takes_its_assignment_with_it(store: Store, registrar: Registrar) -> None:
    given(registrar)
    registrar.record(
        {
            "type": "VoidEntry",
            "entry": {"kind": "decision", "ref": s.BOARD_DECISION},
            "reason": "fel protokoll",
        }
    )
    models = project(store)

    assert models.assignment(s.ASSIGNMENT, as_of=date(2022, 1, 1)) is None
    assert models.assignments(as_of=date(2022, 1, 1)) == []


def test_assignments_by_organisation_and_owner(store: Store, registrar: Registrar) -> None:
    given(registrar)
    models = project(store)

    assert [a.owner for a in models.assignments(organisation="rjh")] == ["Regiondirektören"]
    assert models.assignments(owner="Någon annan") == []
    assert models.assignments(organisation="Berg") == []
