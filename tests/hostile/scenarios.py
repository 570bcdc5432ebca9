"""One valid scenario per command type: the entries a command needs, then the command itself.

Each scenario is fresh for its number ``n`` (its own meeting, agreement, consultation ...),
so the same command can be tried again and again with one field made hostile, without an
earlier try changing whether the next one is coherent. The ledger is the small world of
``tests/ledger/world.py`` (REG, Alfa, Beta, Gamma; the joint body JB).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, get_args

from ledger import commands as c

Json = dict[str, Any]
#: The entries a command needs, and the command.
Scenario = tuple[list[Json], Json]

MATTER = {"organisation": "REG", "dnr": "KS/1/2021"}


def meeting(n: int, *then: str) -> list[Json]:
    """A meeting of its own, and what happened in it: a § 1, verified, posted, appealed."""
    ref = f"Meet {n}"
    steps: dict[str, Json] = {
        "paragraph": {"type": "RecordParagraph", "meeting": ref, "number": 1, "title": "§ 1",
                      "matter": MATTER},
        "verified": {"type": "VerifyMinutes", "meeting": ref, "verified_on": "2021-04-05",
                     "verified_by": ["Anna"]},
        "posted": {"type": "PostMinutes", "meeting": ref, "posted_on": "2021-04-06"},
        "appealed": {"type": "LodgeAppeal", "meeting": ref, "paragraph": 1,
                     "appeal_ref": f"Appeal {n}", "lodged_on": "2021-04-10",
                     "appellant": "A citizen"},
    }
    held = {"type": "HoldMeeting", "ref": ref, "organisation": "REG", "body": "KS",
            "held_on": "2021-04-01", "title": "Board meeting"}
    return [held, *(steps[s] for s in then)]


def agreement(n: int) -> Json:
    return {"type": "RegisterAgreement", "ref": f"Agreement {n}", "title": "Home care",
            "kind": "agreement", "parties": ["REG", "Alfa"], "matter": MATTER,
            "valid_from": "2021-01-01", "valid_until": "2022-12-31", "concluded": True}


def plan(n: int) -> Json:
    return {"type": "RegisterAgreement", "ref": f"Plan {n}", "title": "Joint plan",
            "kind": "joint_plan", "parties": ["REG", "Alfa"], "valid_from": "2023-10-01",
            "concluded": False}


def recommendation(n: int) -> Json:
    return {"type": "IssueRecommendation", "ref": f"Recommendation {n}", "joint_body": "JB",
            "title": "Extend the agreement", "matter": MATTER, "issued_on": "2021-06-04",
            "addressees": ["REG", "Alfa"], "respond_by": "2021-09-30",
            "points": [{"number": 1, "text": "Extend it", "effects": [
                {"effect": "extend_agreement", "agreement": f"Agreement {n}",
                 "until": "2023-12-31"}]}],
            "justification": "The plan is late."}


def consultation(n: int) -> Json:
    return {"type": "OpenConsultation", "ref": f"Consultation {n}", "organisation": "JB",
            "subject": "The joint plan", "matter": MATTER, "addressees": ["REG", "Alfa"],
            "opens_on": "2023-05-29", "closes_on": "2023-08-31"}


def decision(n: int, *effects: Json, ref: str | None = None) -> Json:
    return {"type": "RecordDecision", "ref": ref or f"Decision {n}", "organisation": "REG",
            "body": "KS", "decided_on": "2021-05-01", "matter": MATTER,
            "motion": f"Motion {n}", "outcome": "amended",
            "points": [{"number": 1, "text": "Decided", "effects": list(effects)},
                       {"number": 2, "text": "Noted"}],
            "conditions": [{"text": "Provided that HC endorses it",
                            "endorsement_by": {"organisation": "REG", "body": "HC"}}],
            "justification": "As the memo says.", "dispatched_to": ["Alfa", "JB"]}


def motion(n: int) -> Json:
    return {"type": "TableMotion", "ref": f"Motion {n}", "organisation": "REG", "body": "KS",
            "proposer": "Anna Berg", "matter": MATTER, "tabled_on": "2021-03-01",
            "points": [{"number": 1, "text": "Decide"}, {"number": 2, "text": "Note"}],
            "justification": "Because."}


def given_assignment(n: int) -> Json:
    return {"effect": "give_assignment", "assignment": f"Assignment {n}",
            "owner": "The regional director", "task": "Report back", "due_on": "2021-10-31"}


#: Each effect a decision point can carry, with the entries it needs.
EFFECTS: dict[str, Callable[[int], Scenario]] = {
    "adopt_recommendation": lambda n: (
        [agreement(n), recommendation(n)],
        {"effect": "adopt_recommendation", "recommendation": f"Recommendation {n}",
         "with_amendments": True}),
    "reject_recommendation": lambda n: (
        [agreement(n), recommendation(n)],
        {"effect": "reject_recommendation", "recommendation": f"Recommendation {n}"}),
    "endorse_decision": lambda n: (
        [motion(n), decision(n, ref=f"Endorsed {n}")],
        {"effect": "endorse_decision", "decision": f"Endorsed {n}"}),
    "adopt_agreement": lambda n: (
        [plan(n)], {"effect": "adopt_agreement", "agreement": f"Plan {n}"}),
    "extend_agreement": lambda n: (
        [agreement(n)],
        {"effect": "extend_agreement", "agreement": f"Agreement {n}", "until": "2023-12-31"}),
    "revise_agreement": lambda n: (
        [agreement(n)],
        {"effect": "revise_agreement", "agreement": f"Agreement {n}",
         "summary": "New prices", "effective_on": "2022-01-01"}),
    "terminate_agreement": lambda n: (
        [agreement(n)],
        {"effect": "terminate_agreement", "agreement": f"Agreement {n}",
         "effective_on": "2022-06-30"}),
    "replace_agreement": lambda n: (
        [agreement(n), plan(n)],
        {"effect": "replace_agreement", "agreement": f"Agreement {n}",
         "replaced_by": f"Plan {n}", "effective_on": "2022-06-30"}),
    "allocate_funds": lambda n: (
        [], {"effect": "allocate_funds", "amount": "1500000.50", "currency": "SEK",
             "purpose": "The project", "funding_source": "State grant"}),
    "give_assignment": lambda n: ([], given_assignment(n)),
    "set_deadline": lambda n: (
        [motion(n), decision(n, given_assignment(n), ref=f"Assigning {n}")],
        {"effect": "set_deadline", "assignment": f"Assignment {n}", "due_on": "2022-03-31"}),
}


def decision_with(effect: str) -> Callable[[int], Scenario]:
    def scenario(n: int) -> Scenario:
        needed, chosen = EFFECTS[effect](n)
        prerequisites = needed if any(p.get("ref") == f"Motion {n}" for p in needed) else [
            *needed, motion(n)]
        return prerequisites, decision(n, chosen)

    return scenario


def correction(field: str, value: str) -> Callable[[int], Scenario]:
    return lambda n: ([agreement(n)], {
        "type": "CorrectEntry", "entry": {"kind": "agreement", "ref": f"Agreement {n}"},
        "field": field, "right_value": value, "reason": "Registered wrongly."})


#: Every command type, with one or more scenarios (RecordDecision: one per effect).
SCENARIOS: dict[str, list[Callable[[int], Scenario]]] = {
    "RegisterOrganisation": [lambda n: ([], {
        "type": "RegisterOrganisation", "ref": f"Org {n}", "name": "A municipality",
        "kind": "principal", "registered_on": "2020-01-01"})],
    "EstablishBody": [lambda n: ([], {
        "type": "EstablishBody", "organisation": "REG", "code": f"B{n}",
        "name": "A committee", "kind": "committee"})],
    "AssignRole": [lambda n: ([], {
        "type": "AssignRole", "organisation": "REG", "person": f"Person {n}", "role": "chair",
        "body": "KS", "valid_from": "2021-01-01"})],
    "EndRole": [lambda n: ([{
        "type": "AssignRole", "organisation": "REG", "person": f"Person {n}", "role": "chair",
        "valid_from": "2021-01-01"}], {
        "type": "EndRole", "organisation": "REG", "person": f"Person {n}", "role": "chair",
        "valid_until": "2022-01-01"})],
    "OpenMatter": [lambda n: ([], {
        "type": "OpenMatter", "title": "A matter", "opened_on": "2021-01-01",
        "case_numbers": [{"organisation": "REG", "dnr": f"KS/{n}/2022"},
                         {"organisation": "Alfa", "dnr": f"A/{n}"}]})],
    "AddCaseNumber": [lambda n: ([{
        "type": "OpenMatter", "title": "A matter", "opened_on": "2021-01-01",
        "case_numbers": [{"organisation": "REG", "dnr": f"KS/{n}/2022"}]}], {
        "type": "AddCaseNumber", "matter": {"organisation": "REG", "dnr": f"KS/{n}/2022"},
        "case_number": {"organisation": "Beta", "dnr": f"B/{n}"}})],
    "LinkMatters": [lambda n: ([{
        "type": "OpenMatter", "title": "A matter", "opened_on": "2021-01-01",
        "case_numbers": [{"organisation": "REG", "dnr": f"KS/{n}/2022"}]}], {
        "type": "LinkMatters", "matter": {"organisation": "REG", "dnr": f"KS/{n}/2022"},
        "other": MATTER, "relation": "follows_up"})],
    "RegisterDocument": [lambda n: ([], {
        "type": "RegisterDocument", "matter": MATTER, "document_ref": f"Memo {n}",
        "title": "Memo", "kind": "memo", "dated": "2021-02-01", "organisation": "REG",
        "sha256": "0" * 64, "media_type": "application/pdf"})],
    "HoldMeeting": [lambda n: ([], meeting(n)[0])],
    "ElectCheckers": [lambda n: (meeting(n), {
        "type": "ElectCheckers", "meeting": f"Meet {n}", "checkers": ["Anna", "Bo"]})],
    "RecordParagraph": [lambda n: (meeting(n), meeting(n, "paragraph")[1])],
    "VerifyMinutes": [lambda n: (meeting(n, "paragraph"), meeting(n, "verified")[1])],
    "VerifyParagraph": [lambda n: (meeting(n, "paragraph"), {
        "type": "VerifyParagraph", "meeting": f"Meet {n}", "paragraph": 1,
        "verified_on": "2021-04-01", "verified_by": ["Anna", "Bo"]})],
    "PostMinutes": [lambda n: (meeting(n, "paragraph", "verified"), {
        "type": "PostMinutes", "meeting": f"Meet {n}", "posted_on": "2021-04-06",
        "appeal_period_ends": "2021-04-27"})],
    "LodgeAppeal": [lambda n: (meeting(n, "paragraph", "verified", "posted"), {
        "type": "LodgeAppeal", "meeting": f"Meet {n}", "paragraph": 1,
        "appeal_ref": f"Appeal {n}", "lodged_on": "2021-04-10", "appellant": "A citizen",
        "court": "The administrative court"})],
    "ResolveAppeal": [lambda n: (meeting(n, "paragraph", "verified", "posted", "appealed"), {
        "type": "ResolveAppeal", "meeting": f"Meet {n}", "appeal_ref": f"Appeal {n}",
        "resolved_on": "2021-06-01", "outcome": "dismissed"})],
    "TableMotion": [lambda n: ([], motion(n))],
    "RecordDecision": [decision_with(effect) for effect in EFFECTS],
    "IssueRecommendation": [lambda n: ([agreement(n)], recommendation(n))],
    "OpenConsultation": [lambda n: ([], consultation(n))],
    "RecordConsultationResponse": [lambda n: ([consultation(n)], {
        "type": "RecordConsultationResponse", "consultation": f"Consultation {n}",
        "principal": "REG", "received_on": "2023-06-01", "stance": "supports_with_comments",
        "summary": "Yes, with comments."})],
    "CloseConsultation": [lambda n: ([consultation(n)], {
        "type": "CloseConsultation", "consultation": f"Consultation {n}",
        "closed_on": "2023-09-01"})],
    "RegisterAgreement": [lambda n: ([], agreement(n)), lambda n: ([], plan(n))],
    "ReportBack": [lambda n: ([motion(n), decision(n, given_assignment(n))], {
        "type": "ReportBack", "assignment": f"Assignment {n}", "reported_on": "2021-10-01",
        "summary": "Done.", "decision": f"Decision {n}"})],
    "CorrectEntry": [correction("valid_until", "2023-12-31"), correction("title", "Home care")],
    "VoidEntry": [lambda n: ([agreement(n)], {
        "type": "VoidEntry", "entry": {"kind": "agreement", "ref": f"Agreement {n}"},
        "reason": "Registered twice."})],
}


def effect_kinds() -> set[str]:
    """Every effect a decision point may carry, from the command model itself."""
    union = get_args(get_args(c.Effect)[0])
    return {model.model_fields["effect"].default for model in union}
