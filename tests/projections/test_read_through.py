"""Dates read through the acts they belong to: a corrected decision date reaches every read model.

A principal's decision on a recommendation, a party's decision on an agreement, an
assignment given and a deadline revised each name the decision that made them. Given a
region's decision of 2021-03-25 doing all of that, corrected to 2021-03-30: every read
model dates those acts 2021-03-30, and as known before the correction still 2021-03-25.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from projections.pipeline import TRACKING_TABLE
from projections.queries import ReadModels
from tests.projections.conftest import Registrar, Store

REGION, MUNICIPALITY = "RJH", "Berg"
DECISION = "RJH/RS/2021-03-25 §63"
BEFORE_CORRECTION = datetime(2021, 5, 1, 12, tzinfo=UTC)
WRONG, RIGHT = date(2021, 3, 25), date(2021, 3, 30)


def given_a_decision_corrected_from_the_25th_to_the_30th(registrar: Registrar) -> None:
    for ref, kind in ((REGION, "principal"), (MUNICIPALITY, "principal"), ("SVOM", "joint_body")):
        registrar.record(
            {"type": "RegisterOrganisation", "ref": ref, "name": ref, "kind": kind,
             "registered_on": "2019-01-01"},
            at="2021-01-01T09:00:00",
        )
    registrar.record({"type": "EstablishBody", "organisation": REGION, "code": "RS",
                      "name": "Regionstyrelsen", "kind": "board"})
    registrar.record({"type": "OpenMatter", "title": "Gemensam plan", "opened_on": "2021-01-10",
                      "case_numbers": [{"organisation": REGION, "dnr": "RS/203/2021"}]})
    registrar.record({"type": "RegisterAgreement", "ref": "Avtalet", "title": "Avtalet",
                      "parties": [REGION, MUNICIPALITY], "valid_from": "2020-01-01",
                      "valid_until": "2021-06-30",
                      "matter": {"organisation": REGION, "dnr": "RS/203/2021"}})
    registrar.record({
        "type": "IssueRecommendation", "ref": "SVOM §20", "joint_body": "SVOM",
        "title": "Förläng avtalet", "issued_on": "2021-03-01",
        "matter": {"organisation": REGION, "dnr": "RS/203/2021"},
        "addressees": [REGION, MUNICIPALITY], "respond_by": "2021-12-31",
        "points": [{"number": 1, "text": "Förläng", "effects": [
            {"effect": "extend_agreement", "agreement": "Avtalet", "until": "2021-12-31"}]}],
    })
    registrar.record({"type": "HoldMeeting", "organisation": REGION, "body": "RS",
                      "held_on": "2021-03-25"}, at="2021-03-26T09:00:00")
    registrar.record({
        "type": "RecordDecision", "organisation": REGION, "body": "RS",
        "meeting": "RJH/RS/2021-03-25", "paragraph": 63, "decided_on": "2021-03-25",
        "matter": {"organisation": REGION, "dnr": "RS/203/2021"},
        "points": [
            {"number": 1, "text": "Rekommendationen antas; avtalet förlängs.", "effects": [
                {"effect": "adopt_recommendation", "recommendation": "SVOM §20"},
                {"effect": "extend_agreement", "agreement": "Avtalet", "until": "2021-12-31"},
            ]},
            {"number": 2, "text": "Regiondirektören återkommer.", "effects": [
                {"effect": "give_assignment", "assignment": "Uppdrag 2",
                 "owner": "Regiondirektören", "task": "redovisa", "due_on": "2021-11-30"},
            ]},
            {"number": 3, "text": "Ny tid.", "effects": [
                {"effect": "set_deadline", "assignment": "Uppdrag 2", "due_on": "2021-12-15"},
            ]},
        ],
    })
    registrar.record({"type": "CorrectEntry", "entry": {"kind": "decision", "ref": DECISION},
                      "field": "decided_on", "right_value": "2021-03-30",
                      "reason": "protokollet justerat: sammanträdet hölls den 30 mars"},
                     at="2021-06-01T09:00:00")


def read(store: Store) -> ReadModels:
    store.runner().run_once()
    return store.read_models()


def dates(models: ReadModels, known_at: datetime | None = None) -> dict[str, object]:
    """The date of the region's decision as each read model shows it (and its acts)."""
    assignment = models.assignment("Uppdrag 2", as_of=date(2021, 12, 31), known_at=known_at)
    adoption = models.adoption("SVOM §20", as_of=date(2021, 12, 31), known_at=known_at)
    agreement = models.agreement_status("Avtalet", as_of=date(2021, 12, 31), known_at=known_at)
    timeline = models.matter_timeline(REGION, "RS/203/2021", as_of=date(2021, 12, 31),
                                      known_at=known_at)
    trail = models.audit_trail(known_at=known_at, limit=1000)
    register = models.decision(DECISION, as_of=date(2021, 12, 31), known_at=known_at)
    assert assignment and adoption and agreement and timeline and register
    (region,) = [p for p in adoption.principals if p.principal == REGION]
    (change,) = agreement.pending_changes
    (party,) = change.decided
    return {
        "register": register.decided_on,
        "assignment given": assignment.given_on,
        "deadline revised": {r.revised_on for r in assignment.revisions},
        "adoption": region.decided_on,
        "agreement": party.decided_on,
        "timeline": {e.on for e in timeline.entries if e.kind in ("decision", "assignment")
                     or e.event_type.endswith(("PrincipalDecided", "PartyDecided"))},
        "audit trail": {e.on for e in trail if e.event_type in (
            "Decision.Recorded", "Recommendation.PrincipalDecided", "Agreement.PartyDecided",
            "Assignment.Given", "Assignment.DeadlineRevised")},
    }


def every_read_model_says(day: date) -> dict[str, object]:
    return {
        "register": day, "assignment given": day, "deadline revised": {day}, "adoption": day,
        "agreement": day, "timeline": {day}, "audit trail": {day},
    }


def test_a_corrected_decision_date_reaches_every_act_that_names_the_decision(
    store: Store, registrar: Registrar
) -> None:
    given_a_decision_corrected_from_the_25th_to_the_30th(registrar)
    models = read(store)

    assert dates(models) == every_read_model_says(RIGHT)


def test_as_known_before_the_correction_every_read_model_says_the_old_date(
    store: Store, registrar: Registrar
) -> None:
    given_a_decision_corrected_from_the_25th_to_the_30th(registrar)
    models = read(store)

    assert dates(models, known_at=BEFORE_CORRECTION) == every_read_model_says(WRONG)


def test_between_the_two_dates_the_decision_and_its_acts_have_not_happened_yet(
    store: Store, registrar: Registrar
) -> None:
    given_a_decision_corrected_from_the_25th_to_the_30th(registrar)
    models = read(store)
    day = date(2021, 3, 27)

    assert models.assignment("Uppdrag 2", as_of=day) is None
    adoption = models.adoption("SVOM §20", as_of=day)
    assert adoption is not None and adoption.adopted == 0
    agreement = models.agreement_status("Avtalet", as_of=day)
    assert agreement is not None and agreement.pending_changes[0].decided == ()
    timeline = models.matter_timeline(REGION, "RS/203/2021", as_of=day)
    assert timeline is not None
    assert [e for e in timeline.entries if e.kind in ("decision", "assignment")] == []
    assert [e.event_type for e in models.audit_trail(as_of=day, limit=1000)
            if e.adjustment is None and (e.kind in ("decision", "assignment")
            or e.event_type.endswith(("PrincipalDecided", "PartyDecided")))] == []
    before = models.assignment("Uppdrag 2", as_of=day, known_at=BEFORE_CORRECTION)
    assert before is not None and before.given_on == WRONG


def test_the_timeline_never_shows_an_act_before_the_decision_that_made_it(
    store: Store, registrar: Registrar
) -> None:
    given_a_decision_corrected_from_the_25th_to_the_30th(registrar)
    models = read(store)
    timeline = models.matter_timeline(REGION, "RS/203/2021", as_of=date(2021, 12, 31))
    assert timeline is not None

    decided = next(e.on for e in timeline.entries if e.event_type == "Decision.Recorded")
    assert decided == RIGHT
    assert all(e.on is not None and e.on >= decided for e in timeline.entries
               if e.event_type.startswith("Assignment."))


def test_an_audit_trail_kept_by_the_earlier_version_is_rebuilt_and_reads_through(
    store: Store, registrar: Registrar
) -> None:
    given_a_decision_corrected_from_the_25th_to_the_30th(registrar)
    store.runner().run_once()
    database = store.database()
    with database.transaction(write=True) as tx:  # the tables as the earlier version kept them
        for column in ("dated_by", "sets_date"):
            tx.execute(f"ALTER TABLE {tx.table('rm_audit_entry')} DROP COLUMN {column}")
        tx.execute(f"UPDATE {tx.table(TRACKING_TABLE)} SET version = 1"
                   " WHERE read_model = 'audit'")

    models = read(store)

    assert dates(models) == every_read_model_says(RIGHT)
    assert dates(models, known_at=BEFORE_CORRECTION) == every_read_model_says(WRONG)
