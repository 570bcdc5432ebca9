"""Matter timeline: given entries on a matter under several case numbers, this is its history."""

from __future__ import annotations

from datetime import UTC, date, datetime

from projections.queries import ReadModels
from tests.projections import scenario as s
from tests.projections.conftest import Registrar, Store


def project(store: Store) -> ReadModels:
    store.runner().run_once()
    return store.read_models()


def test_one_history_under_every_case_number(store: Store, registrar: Registrar) -> None:
    s.reference_data(registrar)
    s.agreement(registrar)
    s.board_decision(registrar)
    s.endorsement(registrar)
    models = project(store)

    by_board = models.matter_timeline("RJH", "RS/203/2021")
    by_committee = models.matter_timeline("rjh", "hsn/485/2021")

    assert by_board is not None
    assert by_board == by_committee
    assert [(c.organisation, c.dnr) for c in by_board.case_numbers] == [
        ("RJH", "RS/203/2021"),
        ("RJH", "HSN/485/2021"),
    ]
    assert [(e.event_type, e.on) for e in by_board.entries if e.kind != "meeting"] == [
        ("Matter.Opened", date(2021, 3, 1)),
        ("Decision.Recorded", date(2021, 3, 25)),
        ("Assignment.Given", date(2021, 3, 25)),
        ("Matter.CaseNumberAdded", date(2021, 3, 1)),
        ("Decision.Recorded", date(2021, 4, 20)),
    ]
    paragraph = next(e for e in by_board.entries if e.event_type == "Meeting.ParagraphRecorded")
    assert paragraph.summary == "§ 63 recorded: Följande mål för god och nära vård antas."
    assert models.matter_timeline("RJH", "RS/999/2021") is None


def test_as_of_and_known_at(store: Store, registrar: Registrar) -> None:
    s.reference_data(registrar)
    s.agreement(registrar)
    s.board_decision(registrar)
    s.endorsement(registrar, at="2021-05-01T09:00:00")
    models = project(store)

    in_march = models.matter_timeline("RJH", "RS/203/2021", as_of=date(2021, 3, 31))
    known_in_april = models.matter_timeline(
        "RJH", "RS/203/2021", as_of=date(2021, 4, 30), known_at=datetime(2021, 4, 30, tzinfo=UTC)
    )

    assert in_march is not None and known_in_april is not None
    assert not any(e.on == date(2021, 4, 20) for e in in_march.entries)
    assert [c.dnr for c in known_in_april.case_numbers] == ["RS/203/2021"]
    assert (
        models.matter_timeline("RJH", "HSN/485/2021", known_at=datetime(2021, 4, 30, tzinfo=UTC))
        is None
    )


def test_voided_entries_drop_out_and_corrections_show_with_their_link(
    store: Store, registrar: Registrar
) -> None:
    s.reference_data(registrar)
    s.agreement(registrar)
    s.board_decision(registrar)
    s.endorsement(registrar)
    registrar.record(
        {
            "type": "VoidEntry",
            "entry": {"kind": "decision", "ref": "RJH/HSN/2021-04-20 §41"},
            "reason": "fel ärende",
        }
    )
    fix = registrar.record(
        {
            "type": "CorrectEntry",
            "entry": {"kind": "decision", "ref": s.BOARD_DECISION},
            "field": "decided_on",
            "right_value": "2021-03-26",
            "reason": "sammanträdet fortsatte dagen efter",
        }
    )
    models = project(store)

    timeline = models.matter_timeline("RJH", "RS/203/2021")

    assert timeline is not None
    decisions = [e for e in timeline.entries if e.event_type == "Decision.Recorded"]
    [board] = decisions
    assert (board.on, board.corrected_by) == (date(2021, 3, 26), (fix.positions[0],))
    correction = next(e for e in timeline.entries if e.event_type == "Decision.FactCorrected")
    assert correction.summary == (
        "decided_on corrected from 2021-03-25 to 2021-03-26: sammanträdet fortsatte dagen efter"
    )


def test_links_between_matters_show_on_both(store: Store, registrar: Registrar) -> None:
    s.reference_data(registrar)
    s.agreement(registrar)
    s.board_decision(registrar)
    registrar.record(
        {
            "type": "LinkMatters",
            "matter": {"organisation": "RJH", "dnr": "RS/203/2021"},
            "other": {"organisation": "RJH", "dnr": "RS/730/2017"},
            "relation": "relates_to",
        }
    )
    models = project(store)

    plan = models.matter_timeline("RJH", "RS/203/2021")
    agreement = models.matter_timeline("RJH", "RS/730/2017")

    assert plan is not None and agreement is not None
    assert [(link.other, link.direction) for link in plan.links] == [("RJH:RS/730/2017", "to")]
    assert [(link.other, link.direction) for link in agreement.links] == [
        ("RJH:RS/203/2021", "from")
    ]
    assert [e.event_type for e in agreement.entries] == [
        "Matter.Opened",
        "Agreement.Registered",
        "Agreement.PartyDecided",
    ]
