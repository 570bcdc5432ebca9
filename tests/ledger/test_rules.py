"""The ledger keeps the record coherent: each incoherent command is refused with its own
error and writes nothing; each irregular-but-real act is accepted."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ledger.application import Ledger
from ledger.commands import parse_command
from ledger.errors import AlreadyRecorded, RuleViolation, SamsynError, UnknownReference
from tests.ledger.world import decision, run, world


@pytest.fixture
def given(ledger: Ledger) -> Ledger:
    world(ledger)
    return ledger


def refused(ledger: Ledger, command: dict[str, Any], error: type[SamsynError]) -> SamsynError:
    """Assert the command is refused with ``error`` and the ledger is unchanged."""
    before = ledger.max_position()
    with pytest.raises(error) as caught:
        run(ledger, command)
    assert ledger.max_position() == before, "a refused command must write nothing"
    assert caught.value.problems, "a refusal names the offending field"
    return caught.value


def test_a_reference_to_an_unknown_organisation_is_refused(given: Ledger) -> None:
    error = refused(given, {"type": "EstablishBody", "organisation": "Nowhere", "code": "KS",
                            "name": "Board", "kind": "board"}, UnknownReference)
    assert error.problems[0].field == "organisation"
    assert "Nowhere" in error.detail


def test_a_meeting_of_an_unknown_body_is_refused(given: Ledger) -> None:
    error = refused(given, {"type": "HoldMeeting", "organisation": "Alfa", "body": "HSN",
                            "held_on": "2021-01-01"}, UnknownReference)
    assert error.problems[0].field == "body"


def test_an_effect_on_an_unknown_agreement_is_refused_and_nothing_else_is_written(
    given: Ledger,
) -> None:
    command = decision("REG", "2021-03-25",
                       {"effect": "give_assignment", "assignment": "A1", "owner": "Director",
                        "task": "Report back"},
                       {"effect": "extend_agreement", "agreement": "No such agreement",
                        "until": "2021-12-31"})
    error = refused(given, command, UnknownReference)
    assert error.problems[0].field == "points[1].effects[0].agreement"


def test_a_second_paragraph_with_the_same_number_in_one_meeting_is_refused(given: Ledger) -> None:
    run(given, decision("REG", "2021-03-25", meeting="REG/KS/2021-03-25", paragraph=45, ref=None))
    error = refused(given, {"type": "RecordParagraph", "meeting": "REG/KS/2021-03-25",
                            "number": 45, "title": "Again"}, AlreadyRecorded)
    assert error.problems[0].field == "paragraph"


def test_verifying_a_paragraph_that_does_not_exist_is_refused(given: Ledger) -> None:
    refused(given, {"type": "VerifyParagraph", "meeting": "REG/KS/2021-03-25", "paragraph": 7,
                    "verified_on": "2021-03-25", "verified_by": ["Chair"]}, RuleViolation)


def test_verifying_before_the_meeting_is_refused(given: Ledger) -> None:
    run(given, {"type": "RecordParagraph", "meeting": "REG/KS/2021-03-25", "number": 7,
                "title": "Item"})
    error = refused(given, {"type": "VerifyParagraph", "meeting": "REG/KS/2021-03-25",
                            "paragraph": 7, "verified_on": "2021-03-24",
                            "verified_by": ["Chair"]}, RuleViolation)
    assert error.problems[0].field == "verified_on"
    refused(given, {"type": "VerifyMinutes", "meeting": "REG/KS/2021-03-25",
                    "verified_on": "2021-03-01", "verified_by": ["Chair"]}, RuleViolation)


def test_a_decision_on_a_recommendation_not_addressed_to_the_principal_is_refused(
    given: Ledger,
) -> None:
    error = refused(given, decision("Gamma", "2021-07-01",
                                    {"effect": "adopt_recommendation",
                                     "recommendation": "JB 2021 §20"}), RuleViolation)
    assert "not addressed to 'Gamma'" in error.detail


def test_a_change_by_an_organisation_that_is_not_a_party_is_refused(given: Ledger) -> None:
    run(given, {"type": "RegisterAgreement", "ref": "Bilateral", "title": "Bilateral",
                "parties": ["REG", "Alfa"], "valid_from": "2020-01-01"})
    error = refused(given, decision("Beta", "2021-07-01",
                                    {"effect": "extend_agreement", "agreement": "Bilateral",
                                     "until": "2022-12-31"}), RuleViolation)
    assert "not a party" in error.detail


def test_changing_an_agreement_every_party_has_terminated_is_refused(given: Ledger) -> None:
    run(given, {"type": "RegisterAgreement", "ref": "Bilateral", "title": "Bilateral",
                "parties": ["REG", "Alfa"], "valid_from": "2020-01-01"})
    for party in ("REG", "Alfa"):
        run(given, decision(party, "2021-05-01",
                            {"effect": "terminate_agreement", "agreement": "Bilateral",
                             "effective_on": "2021-12-31"}))
    error = refused(given, decision("REG", "2021-06-01",
                                    {"effect": "extend_agreement", "agreement": "Bilateral",
                                     "until": "2023-12-31"}, ref="late"), RuleViolation)
    assert "already terminated" in error.detail


def test_changing_a_superseded_agreement_is_refused(given: Ledger) -> None:
    for party in ("REG", "Alfa", "Beta", "Gamma"):
        run(given, decision(party, "2021-05-01",
                            {"effect": "replace_agreement", "agreement": "Home care agreement",
                             "replaced_by": "Joint plan"}))
    error = refused(given, decision("Alfa", "2021-06-01",
                                    {"effect": "extend_agreement",
                                     "agreement": "Home care agreement", "until": "2023-12-31"},
                                    ref="late"), RuleViolation)
    assert "already superseded" in error.detail


def test_validity_that_ends_before_it_starts_is_refused(given: Ledger) -> None:
    refused(given, {"type": "RegisterAgreement", "ref": "Backwards", "title": "Backwards",
                    "parties": ["REG", "Alfa"], "valid_from": "2022-01-01",
                    "valid_until": "2021-12-31"}, RuleViolation)
    refused(given, decision("REG", "2021-05-01",
                            {"effect": "extend_agreement", "agreement": "Home care agreement",
                             "until": "2017-12-31"}), RuleViolation)
    refused(given, {"type": "OpenConsultation", "ref": "C", "organisation": "JB",
                    "subject": "Plan", "addressees": ["REG"], "opens_on": "2023-05-29",
                    "closes_on": "2023-05-01"}, RuleViolation)


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_correction_or_voiding_without_a_reason_is_refused(given: Ledger, reason: str) -> None:
    before = given.max_position()
    target = {"kind": "agreement", "ref": "Home care agreement"}
    for command in (
        {"type": "CorrectEntry", "entry": target, "field": "title", "right_value": "X",
         "reason": reason},
        {"type": "VoidEntry", "entry": target, "reason": reason},
    ):
        with pytest.raises(ValidationError) as caught:
            parse_command(command)
        assert caught.value.errors()[0]["loc"] == (command["type"], "reason")
    assert given.max_position() == before


def test_a_correction_of_a_field_that_cannot_be_corrected_names_the_allowed_fields(
    given: Ledger,
) -> None:
    from ledger.errors import InvalidCommand

    error = refused(given, {"type": "CorrectEntry",
                            "entry": {"kind": "agreement", "ref": "Home care agreement"},
                            "field": "parties", "right_value": "REG, Alfa", "reason": "typo"},
                    InvalidCommand)
    assert "valid_until" in error.problems[0].reason


def test_a_voided_entry_can_no_longer_be_referenced(given: Ledger) -> None:
    run(given, {"type": "VoidEntry", "entry": {"kind": "agreement", "ref": "Joint plan"},
                "reason": "registered twice by mistake"})
    error = refused(given, decision("REG", "2021-05-01",
                                    {"effect": "adopt_agreement", "agreement": "Joint plan"}),
                    RuleViolation)
    assert "voided" in error.detail


# Irregular but real: accepted -------------------------------------------------------------


def test_a_late_consultation_response_is_accepted(given: Ledger) -> None:
    run(given, {"type": "OpenConsultation", "ref": "Plan consultation", "organisation": "JB",
                "subject": "Joint plan", "addressees": ["REG", "Alfa"],
                "opens_on": "2023-05-29", "closes_on": "2023-08-31"})
    receipt = run(given, {"type": "RecordConsultationResponse",
                          "consultation": "Plan consultation", "principal": "Alfa",
                          "received_on": "2023-09-15", "stance": "supports"})
    assert receipt.entries[0]["event_type"] == "Consultation.ResponseReceived"


def test_a_decision_that_differs_from_the_motion_is_accepted(given: Ledger) -> None:
    run(given, {"type": "TableMotion", "ref": "M1", "organisation": "REG", "body": "KS",
                "proposer": "Director", "tabled_on": "2021-03-01",
                "points": [{"number": 1, "text": "Extend by one year"}]})
    amended = decision("REG", "2021-03-25", motion="M1", outcome="amended",
                       justification="Added a condition")
    receipt = run(given, amended)
    assert receipt.entries[0]["event_type"] == "Decision.Recorded"


def test_a_rejection_is_accepted(given: Ledger) -> None:
    run(given, {"type": "TableMotion", "ref": "M2", "organisation": "Alfa", "body": "KS",
                "proposer": "Member", "tabled_on": "2021-03-01",
                "points": [{"number": 1, "text": "Leave the cooperation"}]})
    run(given, decision("Alfa", "2021-04-01", motion="M2", outcome="rejected"))
    run(given, decision("Beta", "2021-07-01", {"effect": "reject_recommendation",
                                               "recommendation": "JB 2021 §20"}))


def test_a_principal_deciding_twice_keeps_both_decisions_and_the_later_counts(
    given: Ledger,
) -> None:
    adopt = {"effect": "adopt_recommendation", "recommendation": "JB 2021 §20"}
    run(given, decision("Alfa", "2021-07-01", {"effect": "reject_recommendation",
                                               "recommendation": "JB 2021 §20"}, ref="first"))
    run(given, decision("Alfa", "2021-08-01", adopt, ref="second"))
    decided = [e for e in given.read(0, 1000) if e.event_type == "Recommendation.PrincipalDecided"]
    assert [(e.data["decision"], e.data["outcome"]) for e in decided] == [
        ("first", "rejected"), ("second", "adopted"),
    ]


def test_every_event_carries_its_recorder_recorded_time_and_domain_dates(
    given: Ledger, clock: Any
) -> None:
    clock.set("2024-03-26T09:00:00")
    run(given, decision("REG", "2021-03-25"), by="registrar-7")
    last = given.read(given.max_position() - 1, 1)[0]
    assert last.recorded_by == "registrar-7"
    assert last.recorded_at.isoformat() == "2024-03-26T09:00:00+00:00"
    assert last.domain_dates == {"decided_on": "2021-03-25"}
