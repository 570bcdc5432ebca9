"""Audit trail: who recorded what and when; corrections and voidings with their reasons."""

from __future__ import annotations

from datetime import UTC, date, datetime

from projections.queries import ReadModels
from tests.projections import scenario as s
from tests.projections.conftest import Registrar, Store


def project(store: Store) -> ReadModels:
    store.runner().run_once()
    return store.read_models()


def test_every_entry_with_who_recorded_it_and_when(store: Store, registrar: Registrar) -> None:
    s.reference_data(registrar)
    registrar.recorded_by = "registrator@rjh"
    s.agreement(registrar)
    models = project(store)

    trail = models.audit_trail(recorded_by="registrator@rjh")

    assert [(e.event_type, e.kind, e.ref) for e in trail] == [
        ("Matter.Opened", "matter", "RJH:RS/730/2017"),
        ("CaseNumber.Claimed", "case-number", "RJH:RS/730/2017"),
        ("Agreement.Registered", "agreement", s.AGREEMENT),
    ]
    assert trail[0].recorded_at == datetime(2017, 1, 3, 9, tzinfo=UTC)
    assert trail[2].on == date(2017, 1, 1)
    assert trail[2].summary == "agreement registered: Samverkan kring hemsjukvård"
    assert len(models.audit_trail(limit=1000)) == trail[-1].position


def test_corrections_and_voidings_keep_their_reasons_and_voided_entries_stay(
    store: Store, registrar: Registrar
) -> None:
    s.reference_data(registrar)
    s.agreement(registrar)
    registrar.record(
        {
            "type": "CorrectEntry",
            "entry": {"kind": "agreement", "ref": s.AGREEMENT},
            "field": "title",
            "right_value": "Hemsjukvårdsavtalet",
            "reason": "förkortat namn",
        },
        at="2018-01-01T09:00:00",
    )
    registrar.record(
        {
            "type": "VoidEntry",
            "entry": {"kind": "agreement", "ref": s.AGREEMENT},
            "reason": "registrerat i fel län",
        },
        at="2019-01-01T09:00:00",
    )
    models = project(store)

    adjustments = models.audit_trail(adjustments_only=True)
    history = models.audit_trail(kind="agreement", ref=s.AGREEMENT)
    known_in_2018 = models.audit_trail(
        kind="agreement", ref=s.AGREEMENT, known_at=datetime(2018, 6, 1, tzinfo=UTC)
    )

    assert [(e.adjustment, e.reason) for e in adjustments] == [
        ("correction", "förkortat namn"),
        ("voiding", "registrerat i fel län"),
    ]
    correction = adjustments[0].correction
    assert correction is not None
    assert (correction.wrong_value, correction.right_value) == (
        "Samverkan kring hemsjukvård",
        "Hemsjukvårdsavtalet",
    )
    assert [e.event_type for e in history] == [
        "Agreement.Registered",
        "Agreement.FactCorrected",
        "Agreement.EntryVoided",
    ]
    assert all(e.entity_voided for e in history)
    assert [e.entity_voided for e in known_in_2018] == [False, False]
    assert models.agreement_status(s.AGREEMENT) is None


def test_paging_and_filters_by_time(store: Store, registrar: Registrar) -> None:
    s.reference_data(registrar)
    s.agreement(registrar)
    models = project(store)

    first = models.audit_trail(limit=5)
    second = models.audit_trail(after=first[-1].position, limit=5)
    in_2017 = models.audit_trail(
        recorded_from=datetime(2017, 1, 3, tzinfo=UTC),
        recorded_to=datetime(2017, 12, 31, tzinfo=UTC),
    )
    organisations = models.audit_trail(kind="organisation", limit=1000)

    assert [e.position for e in first] == [1, 2, 3, 4, 5]
    assert [e.position for e in second] == [6, 7, 8, 9, 10]
    assert [e.event_type for e in in_2017] == [
        "Matter.Opened",
        "CaseNumber.Claimed",
        "Agreement.Registered",
    ]
    assert {e.kind for e in organisations} == {"organisation"}
    assert models.audit_trail(as_of=date(2016, 12, 31), kind="agreement") == []
