"""Decision register: given decisions and minutes, which are verified, pending, appealed, final."""

from __future__ import annotations

from datetime import UTC, date, datetime

from projections.queries import ReadModels
from tests.projections import scenario as s
from tests.projections.conftest import Registrar, Store


def project(store: Store) -> ReadModels:
    store.runner().run_once()
    return store.read_models()


def test_the_board_decision_is_pending_until_the_committee_endorsement_is_recorded(
    store: Store, registrar: Registrar
) -> None:
    s.reference_data(registrar)
    s.agreement(registrar)
    s.board_decision(registrar)
    models = project(store)
    pending = models.decision(s.BOARD_DECISION, as_of=date(2021, 6, 1))
    s.endorsement(registrar, at="2021-04-21T09:00:00")
    models = project(store)

    met = models.decision(s.BOARD_DECISION, as_of=date(2021, 6, 1))
    before_endorsed = models.decision(s.BOARD_DECISION, as_of=date(2021, 4, 1))
    known_before = models.decision(
        s.BOARD_DECISION, as_of=date(2021, 6, 1), known_at=datetime(2021, 4, 20, tzinfo=UTC)
    )
    known_after = models.decision(
        s.BOARD_DECISION, as_of=date(2021, 6, 1), known_at=datetime(2021, 4, 22, tzinfo=UTC)
    )

    assert pending is not None and met is not None
    assert before_endorsed is not None and known_before is not None
    assert (pending.conditions_state, pending.in_effect) == ("pending", False)
    assert (met.conditions_state, met.in_effect, met.effective_on) == (
        "met",
        True,
        date(2021, 4, 20),
    )
    assert met.conditions[0].endorsement_by == "RJH/HSN"
    assert met.conditions[0].endorsed_by == ("RJH/HSN/2021-04-20 §41",)
    assert before_endorsed.conditions_state == "pending"
    assert known_before == pending
    assert known_after == met


def test_an_endorsement_by_another_body_does_not_meet_the_condition(
    store: Store, registrar: Registrar
) -> None:
    s.reference_data(registrar)
    s.agreement(registrar)
    s.board_decision(registrar)
    registrar.record(
        {
            "type": "RecordDecision",
            "ref": "Berg bakom",
            "organisation": "Berg",
            "body": "KS",
            "decided_on": "2021-04-01",
            "points": [
                {
                    "number": 1,
                    "text": "Ställer sig bakom.",
                    "effects": [{"effect": "endorse_decision", "decision": s.BOARD_DECISION}],
                }
            ],
        }
    )
    models = project(store)

    decision = models.decision(s.BOARD_DECISION, as_of=date(2021, 6, 1))

    assert decision is not None
    assert decision.conditions_state == "pending"


def test_verification_posting_and_appeals_on_a_date(store: Store, registrar: Registrar) -> None:
    s.reference_data(registrar)
    s.agreement(registrar)
    s.board_decision(registrar)
    meeting = "RJH/RS/2021-03-25"
    registrar.record(
        {
            "type": "VerifyMinutes",
            "meeting": meeting,
            "verified_on": "2021-03-30",
            "verified_by": ["ordförande", "justerare"],
        }
    )
    registrar.record({"type": "PostMinutes", "meeting": meeting, "posted_on": "2021-03-31"})
    registrar.record(
        {
            "type": "LodgeAppeal",
            "meeting": meeting,
            "paragraph": 63,
            "appeal_ref": "FR 123-21",
            "lodged_on": "2021-04-15",
            "appellant": "En kommunmedlem",
            "court": "Förvaltningsrätten",
        }
    )
    registrar.record(
        {
            "type": "ResolveAppeal",
            "meeting": meeting,
            "appeal_ref": "FR 123-21",
            "resolved_on": "2021-09-01",
            "outcome": "dismissed",
        }
    )
    models = project(store)

    def on(day: date) -> tuple[object, ...]:
        d = models.decision(s.BOARD_DECISION, as_of=day)
        assert d is not None
        return d.verified, d.appeal_status

    assert on(date(2021, 3, 26)) == (False, "not_posted")
    assert on(date(2021, 4, 10)) == (True, "appealable")
    assert on(date(2021, 5, 1)) == (True, "appealed")
    assert on(date(2021, 10, 1)) == (True, "final")


def test_the_register_by_organisation_body_and_period(store: Store, registrar: Registrar) -> None:
    s.real_history(registrar)
    models = project(store)

    region = models.decisions(organisation="rjh")
    board_2021 = models.decisions(
        organisation="RJH", body="RS", from_=date(2021, 1, 1), to=date(2021, 6, 30)
    )
    municipal_spring = models.decisions(body="KS", from_=date(2021, 4, 1), to=date(2021, 4, 30))

    assert [d.ref for d in region] == [
        s.BOARD_DECISION,
        "RJH/HSN/2021-04-20 §41",
        "RJH/RS/2021-09-28 §170",
    ]
    assert [d.ref for d in board_2021] == [s.BOARD_DECISION]
    assert [d.organisation for d in municipal_spring] == ["Berg", "Bräcke", "Härjedalen"]
    assert models.decisions(as_of=date(2021, 3, 24)) == []


def test_a_corrected_date_moves_a_decision_between_periods_with_a_link(
    store: Store, registrar: Registrar
) -> None:
    s.real_history(registrar)
    registrar.record(
        {
            "type": "CorrectEntry",
            "entry": {"kind": "decision", "ref": "Berg KS 2021-04-13"},
            "field": "decided_on",
            "right_value": "2021-05-13",
            "reason": "fel månad",
        },
        at="2024-01-10T09:00:00",
    )
    models = project(store)

    april = models.decisions(body="KS", from_=date(2021, 4, 1), to=date(2021, 4, 30))
    may = models.decisions(body="KS", from_=date(2021, 5, 1), to=date(2021, 5, 31))
    april_as_known = models.decisions(
        body="KS",
        from_=date(2021, 4, 1),
        to=date(2021, 4, 30),
        as_of=date(2023, 1, 1),
        known_at=datetime(2023, 1, 1, tzinfo=UTC),
    )

    assert [d.organisation for d in april] == ["Bräcke", "Härjedalen"]
    berg = next(d for d in may if d.organisation == "Berg")
    assert berg.decided_on == date(2021, 5, 13)
    assert (berg.corrections[0].wrong_value, berg.corrections[0].reason) == (
        "2021-04-13",
        "fel månad",
    )
    assert [d.organisation for d in april_as_known] == ["Berg", "Bräcke", "Härjedalen"]


def test_a_voided_decision_drops_out_of_the_register(store: Store, registrar: Registrar) -> None:
    s.reference_data(registrar)
    s.agreement(registrar)
    s.board_decision(registrar)
    registrar.record(
        {
            "type": "VoidEntry",
            "entry": {"kind": "decision", "ref": s.BOARD_DECISION},
            "reason": "protokollfört två gånger",
        }
    )
    models = project(store)

    assert models.decision(s.BOARD_DECISION, as_of=date(2021, 6, 1)) is None
    assert models.decisions(organisation="RJH") == []
