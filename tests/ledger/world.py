"""A small, made-up cooperation to write ledger tests against: one region, three
municipalities, a joint body, an agreement. Nothing here is specific to any county."""

from __future__ import annotations

from typing import Any

from ledger.application import Ledger, Receipt
from ledger.commands import parse_command

PRINCIPALS = ["REG", "Alfa", "Beta", "Gamma"]


def run(ledger: Ledger, command: dict[str, Any], *, by: str = "registrar-1",
        key: str | None = None) -> Receipt:
    return ledger.execute(parse_command(command), recorded_by=by, idempotency_key=key)


def world(ledger: Ledger) -> None:
    """Reference data, a matter, an agreement, a meeting and a recommendation."""
    for ref in PRINCIPALS:
        run(ledger, {"type": "RegisterOrganisation", "ref": ref, "name": f"{ref} org",
                     "kind": "principal", "registered_on": "2020-01-01"})
        run(ledger, {"type": "EstablishBody", "organisation": ref, "code": "KS",
                     "name": "Board", "kind": "board"})
    run(ledger, {"type": "EstablishBody", "organisation": "REG", "code": "HC",
                 "name": "Health committee", "kind": "committee"})
    run(ledger, {"type": "RegisterOrganisation", "ref": "JB", "name": "Joint body",
                 "kind": "joint_body", "registered_on": "2020-01-01"})
    run(ledger, {"type": "EstablishBody", "organisation": "JB", "code": "JB",
                 "name": "Joint council", "kind": "council"})
    run(ledger, {"type": "OpenMatter", "title": "Home care", "opened_on": "2021-01-10",
                 "case_numbers": [{"organisation": "REG", "dnr": "KS/1/2021"}]})
    run(ledger, {"type": "RegisterAgreement", "ref": "Home care agreement",
                 "title": "Home care agreement", "parties": PRINCIPALS,
                 "valid_from": "2018-01-01", "valid_until": "2020-12-31"})
    run(ledger, {"type": "RegisterAgreement", "ref": "Joint plan", "kind": "joint_plan",
                 "title": "Joint plan", "parties": PRINCIPALS, "valid_from": "2023-10-01",
                 "concluded": False})
    run(ledger, {"type": "HoldMeeting", "organisation": "REG", "body": "KS",
                 "held_on": "2021-03-25"})
    run(ledger, {"type": "IssueRecommendation", "ref": "JB 2021 §20", "joint_body": "JB",
                 "title": "Extend the agreement", "issued_on": "2021-06-04",
                 "addressees": ["REG", "Alfa", "Beta"], "respond_by": "2021-09-30",
                 "points": [{"number": 1, "text": "Extend to 2022-12-31"}]})


def decision(organisation: str, decided_on: str, *effects: dict[str, Any], ref: str | None = None,
             **extra: Any) -> dict[str, Any]:
    """A RecordDecision command of ``organisation``'s board with one point per effect."""
    points = [{"number": i + 1, "text": e.get("effect", "decided"), "effects": [e]}
              for i, e in enumerate(effects)] or [{"number": 1, "text": "noted"}]
    return {"type": "RecordDecision", "ref": ref or f"{organisation} {decided_on}",
            "organisation": organisation, "body": "KS", "decided_on": decided_on,
            "points": points, **extra}
