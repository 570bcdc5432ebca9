"""Who may do what: every role x every write route x own and other organisation.

Anonymous callers get 401; readers and auditors 403; a registrar records its own
organisation's acts (201) and not another's (403); reference data is for admins only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from api.routes.registrar import ROUTES
from ledger import commands as c
from ledger.application import Ledger
from tests.api.conftest import Service
from tests.ledger.world import decision, run

Body = Callable[[str, int], dict[str, Any]]

ADMIN_ONLY = {c.RegisterOrganisation, c.EstablishBody, c.AssignRole, c.EndRole}


def m(org: str, which: str) -> str:
    return f"{org}/KS/2022-01-{which}"


BODIES: dict[type[c.Command], Body] = {
    c.RegisterOrganisation: lambda o, n: {"ref": f"New{n}", "name": "New", "kind": "principal",
                                          "registered_on": "2022-01-01"},
    c.EstablishBody: lambda o, n: {"organisation": o, "code": f"C{n}", "name": "Council",
                                   "kind": "council"},
    c.AssignRole: lambda o, n: {"organisation": o, "person": f"P{n}", "role": "chair",
                                "valid_from": "2022-01-01"},
    c.EndRole: lambda o, n: {"organisation": o, "person": "Person", "role": "chair",
                             "valid_until": "2022-12-31"},
    c.OpenMatter: lambda o, n: {"title": "New", "opened_on": "2022-01-01",
                                "case_numbers": [{"organisation": o, "dnr": f"KS/{n}/2022"}]},
    c.AddCaseNumber: lambda o, n: {"matter": {"organisation": "REG", "dnr": "KS/1/2021"},
                                   "case_number": {"organisation": o, "dnr": f"KS/{n}/2022"}},
    c.LinkMatters: lambda o, n: {"matter": {"organisation": o, "dnr": "KS/9/2022"},
                                 "other": {"organisation": "REG", "dnr": "KS/1/2021"},
                                 "relation": "relates_to"},
    c.RegisterDocument: lambda o, n: {"matter": {"organisation": o, "dnr": "KS/9/2022"},
                                      "document_ref": f"D{n}", "title": "Memo", "kind": "memo",
                                      "dated": "2022-01-02", "organisation": o,
                                      "sha256": "a" * 64},
    c.HoldMeeting: lambda o, n: {"organisation": o, "body": "KS", "held_on": f"2022-02-{n:02d}"},
    c.ElectCheckers: lambda o, n: {"meeting": m(o, "10"), "checkers": ["A", "B"]},
    c.RecordParagraph: lambda o, n: {"meeting": m(o, "10"), "number": 10 + n, "title": "Item"},
    c.VerifyMinutes: lambda o, n: {"meeting": m(o, "10"), "verified_on": "2022-01-12",
                                   "verified_by": ["Chair", "A"]},
    c.VerifyParagraph: lambda o, n: {"meeting": m(o, "10"), "paragraph": 1,
                                     "verified_on": "2022-01-10", "verified_by": ["Chair"]},
    c.PostMinutes: lambda o, n: {"meeting": m(o, "11"), "posted_on": "2022-01-14"},
    c.LodgeAppeal: lambda o, n: {"meeting": m(o, "11"), "paragraph": 1, "appeal_ref": f"X{n}",
                                 "lodged_on": "2022-01-20", "appellant": "A resident"},
    c.ResolveAppeal: lambda o, n: {"meeting": m(o, "11"), "appeal_ref": "Appeal",
                                   "resolved_on": "2022-06-01", "outcome": "dismissed"},
    c.TableMotion: lambda o, n: {"ref": f"{o}-M{n}", "organisation": o, "body": "KS",
                                 "proposer": "Director", "tabled_on": "2022-01-05",
                                 "points": [{"number": 1, "text": "Decide"}]},
    c.RecordDecision: lambda o, n: decision(o, "2022-03-01", ref=f"{o}-D{n}"),
    c.IssueRecommendation: lambda o, n: {"ref": f"R{n}", "joint_body": o, "title": "Do it",
                                         "issued_on": "2022-01-01",
                                         "addressees": ["REG", "Alfa", "Beta"],
                                         "points": [{"number": 1, "text": "Do it"}]},
    c.OpenConsultation: lambda o, n: {"ref": f"C{n}", "organisation": o, "subject": "Plan",
                                      "addressees": ["REG", "Alfa"], "opens_on": "2022-01-01",
                                      "closes_on": "2022-02-01"},
    c.RecordConsultationResponse: lambda o, n: {"consultation": f"{o}-C", "principal": o,
                                                "received_on": "2022-01-20",
                                                "stance": "supports"},
    c.CloseConsultation: lambda o, n: {"consultation": f"{o}-C", "closed_on": "2022-02-01"},
    c.RegisterAgreement: lambda o, n: {"ref": f"AG{n}", "title": "Agreement",
                                       "parties": [o, "REG"], "valid_from": "2022-01-01"},
    c.ReportBack: lambda o, n: {"assignment": f"{o}-AS", "reported_on": "2022-06-01"},
    c.CorrectEntry: lambda o, n: {"entry": {"kind": "decision", "ref": f"{o}-D"},
                                  "field": "decided_on", "right_value": "2022-01-03",
                                  "reason": "typo"},
    c.VoidEntry: lambda o, n: {"entry": {"kind": "decision", "ref": f"{o}-D"},
                               "reason": "registered twice"},
}


def prerequisites(ledger: Ledger) -> None:
    """For Alfa and Beta alike: a matter, meetings at each stage, a consultation, a
    decision that gave an assignment, a role."""
    for org in ("Alfa", "Beta"):
        run(ledger, {"type": "OpenMatter", "title": "M", "opened_on": "2022-01-01",
                     "case_numbers": [{"organisation": org, "dnr": "KS/9/2022"}]})
        run(ledger, {"type": "AssignRole", "organisation": org, "person": "Person",
                     "role": "chair", "valid_from": "2022-01-01"})
        for day in ("10", "11"):
            run(ledger, {"type": "HoldMeeting", "organisation": org, "body": "KS",
                         "held_on": f"2022-01-{day}"})
            run(ledger, {"type": "RecordParagraph", "meeting": m(org, day), "number": 1,
                         "title": "Item"})
        run(ledger, {"type": "VerifyMinutes", "meeting": m(org, "11"),
                     "verified_on": "2022-01-12", "verified_by": ["Chair"]})
        run(ledger, {"type": "PostMinutes", "meeting": m(org, "11"), "posted_on": "2022-01-13"})
        run(ledger, {"type": "LodgeAppeal", "meeting": m(org, "11"), "paragraph": 1,
                     "appeal_ref": "Appeal", "lodged_on": "2022-01-20", "appellant": "Someone"})
        run(ledger, {"type": "OpenConsultation", "ref": f"{org}-C", "organisation": org,
                     "subject": "Plan", "addressees": ["Alfa", "Beta"],
                     "opens_on": "2022-01-01", "closes_on": "2022-02-01"})
        run(ledger, decision(org, "2022-01-02", {"effect": "give_assignment",
                                                 "assignment": f"{org}-AS", "owner": "Director",
                                                 "task": "Report"}, ref=f"{org}-D"))


@pytest.mark.parametrize("command", list(ROUTES), ids=lambda cls: cls.__name__)
def test_each_role_may_do_exactly_what_it_should(service: Service, command: type[c.Command]
                                                  ) -> None:
    prerequisites(service.ledger)
    path, body = f"/v1{ROUTES[command]}", BODIES[command]
    joint = command is c.IssueRecommendation  # only a joint body's secretariat recommends
    own, own_registrar = ("JB", "secretariat-jb") if joint else ("Alfa", "registrar-alfa")

    def attempt(who: str | None, org: str, n: int) -> int:
        headers = service.auth(who) if who else {}
        head = service.ledger.max_position()
        response = service.client.post(path, json=body(org, n), headers=headers)
        if response.status_code != 201:
            assert service.ledger.max_position() == head, "a refusal writes nothing"
            assert response.headers["content-type"] == "application/problem+json"
        return response.status_code

    assert attempt(None, own, 1) == 401
    assert attempt("reader", own, 2) == 403
    assert attempt("auditor", own, 3) == 403
    # registrar-alfa acting for an organisation not its own (the joint body, or Beta)
    assert attempt("registrar-alfa", "JB" if joint else "Beta", 4) == 403
    if command in ADMIN_ONLY:
        assert attempt(own_registrar, own, 5) == 403
        assert attempt("admin", own, 6) == 201
    else:
        assert attempt(own_registrar, own, 5) == 201
        assert attempt("admin", own if joint else "Beta", 6) == 201
