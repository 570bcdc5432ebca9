"""Consultations: given these responses, this many answered, these did not, these were late."""

from __future__ import annotations

from datetime import date

from projections.queries import ReadModels
from tests.projections import scenario as s
from tests.projections.conftest import Registrar, Store


def project(store: Store) -> ReadModels:
    store.runner().run_once()
    return store.read_models()


def test_six_of_nine_answered_and_the_three_silent_are_named(
    store: Store, registrar: Registrar
) -> None:
    s.reference_data(registrar)
    s.consultation(registrar)
    models = project(store)

    round_ = models.consultation(s.CONSULTATION, as_of=date(2023, 9, 30))

    assert round_ is not None
    assert (round_.answered, round_.addressed) == (6, 9)
    assert round_.missing == tuple(s.SILENT)
    assert set(round_.responded) == set(s.RESPONDENTS)
    assert round_.overdue == tuple(s.SILENT)
    assert round_.late == ()
    assert round_.state == "period_ended"
    assert [(r.principal, r.received_on, r.stance) for r in round_.responses[:1]] == [
        ("Ragunda", date(2023, 8, 10), "supports_with_comments")
    ]


def test_on_a_date_during_the_round_only_earlier_answers_count(
    store: Store, registrar: Registrar
) -> None:
    s.reference_data(registrar)
    s.consultation(registrar)
    models = project(store)

    mid = models.consultation(s.CONSULTATION, as_of=date(2023, 8, 12))
    before = models.consultation(s.CONSULTATION, as_of=date(2023, 5, 1))

    assert mid is not None and before is not None
    assert (mid.answered, mid.state, mid.overdue) == (3, "open", ())
    assert (before.answered, before.state) == (0, "not_yet_open")


def test_a_late_answer_is_flagged_and_closing_is_shown(store: Store, registrar: Registrar) -> None:
    s.reference_data(registrar)
    s.consultation(registrar)
    registrar.record(
        {
            "type": "RecordConsultationResponse",
            "consultation": s.CONSULTATION,
            "principal": "Åre",
            "received_on": "2023-09-05",
            "stance": "objects",
            "summary": "Vill ha mer tid.",
        }
    )
    registrar.record(
        {"type": "CloseConsultation", "consultation": s.CONSULTATION, "closed_on": "2023-09-15"}
    )
    models = project(store)

    closed = models.consultation(s.CONSULTATION, as_of=date(2023, 10, 1))

    assert closed is not None
    assert (closed.answered, closed.late, closed.overdue) == (7, ("Åre",), ("Bräcke", "Härjedalen"))
    assert (closed.state, closed.closed_on) == ("closed", date(2023, 9, 15))
    assert [c.ref for c in models.consultations(state="closed", as_of=date(2023, 10, 1))] == [
        s.CONSULTATION
    ]
    assert models.consultations(state="open", as_of=date(2023, 10, 1)) == []


def test_a_corrected_closing_date_changes_who_was_late(store: Store, registrar: Registrar) -> None:
    s.reference_data(registrar)
    s.consultation(registrar)
    registrar.record(
        {
            "type": "CorrectEntry",
            "entry": {"kind": "consultation", "ref": s.CONSULTATION},
            "field": "closes_on",
            "right_value": "2023-08-12",
            "reason": "sista svarsdag var 12 augusti",
        }
    )
    models = project(store)

    round_ = models.consultation(s.CONSULTATION, as_of=date(2023, 9, 30))

    assert round_ is not None
    assert round_.closes_on == date(2023, 8, 12)
    assert round_.late == (s.REGION, "Strömsund", "Östersund")
    assert round_.corrections[0].reason == "sista svarsdag var 12 augusti"
