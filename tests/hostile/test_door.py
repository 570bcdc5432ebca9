"""The door, specified: what one registrar sends can never stop the ledger for everyone.

Each finding of a hostile afternoon with the ledger, reproduced: a value the read models,
the dashboard or PostgreSQL cannot hold is refused at the door with a 422 naming the field,
and nothing is written; the read models keep following the ledger afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from ledger import commands as c
from ledger.commands import COMMAND_TYPES
from ledger.errors import InvalidCommand
from ledger.importing import parse_lines
from ledger.limits import MAX_DATE, MIN_DATE
from tests.hostile.conftest import Deep, Door, encode
from tests.hostile.scenarios import EFFECTS, SCENARIOS, agreement, effect_kinds, motion


def refused(door: Door, command: dict[str, Any], field: str, status: int = 422) -> str:
    """Post ``command``: refused with ``status``, naming ``field``, nothing written; and a
    valid write afterwards still reaches every read model. Answers the reason given."""
    before = door.head()
    response = door.post(command)
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    named = [e for e in errors if e["field"].split(".")[-1] == field or e["field"] == field]
    assert named, errors
    assert door.head() == before
    door.record({"type": "RegisterOrganisation", "ref": f"After {before}", "name": "After",
                 "kind": "other", "registered_on": "2021-01-01"})
    door.caught_up()
    assert door.client.get(f"/v1/history/organisation/After {before}").status_code == 200
    return str(named[0]["reason"])


def test_every_command_type_and_every_effect_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(COMMAND_TYPES)
    assert set(EFFECTS) == effect_kinds()


def test_every_scenario_is_accepted_as_it_stands(door: Door) -> None:
    for n, scenarios in enumerate(SCENARIOS.values()):
        for k, scenario in enumerate(scenarios):
            prerequisites, command = scenario(100 * n + k)
            for step in [*prerequisites, command]:
                door.record(step)
    door.caught_up()
    assert door.client.get("/").status_code == 200


# 1. One write stops every read model, for good ---------------------------------------------


def test_a_point_numbered_ten_to_the_thirtieth_is_refused_naming_the_number(door: Door) -> None:
    command = {**motion(1), "points": [{"number": 10**30, "text": "Decide"}]}
    reason = refused(door, command, "number")
    assert "1000000" in reason


def test_numbers_outside_the_range_are_refused_wherever_they_stand(door: Door) -> None:
    for number in (2**63, 2**64, -(2**63) - 1, 0, 1_000_001):
        refused(door, {"type": "RecordParagraph", "meeting": "REG/KS/2021-03-25",
                       "number": number, "title": "§"}, "number")


def test_a_nul_in_a_reference_is_refused(door: Door) -> None:
    reason = refused(door, {"type": "RegisterOrganisation", "ref": "A\u0000B", "name": "n",
                            "kind": "principal", "registered_on": "2020-01-01"}, "ref")
    assert "U+0000" in reason


def test_a_nul_in_prose_is_refused(door: Door) -> None:
    refused(door, {**motion(2), "justification": "before\u0000after"}, "justification")
    refused(door, {**agreement(2), "title": "before\u0000after"}, "title")


def test_a_lone_surrogate_is_refused(door: Door) -> None:
    refused(door, {**agreement(3), "title": "half \ud800 a character"}, "title")


# 3. One bad command fails its whole batch (its OverflowError) -------------------------------


def test_minutes_posted_on_9999_12_25_are_refused_not_a_server_error(door: Door) -> None:
    reason = refused(door, {"type": "PostMinutes", "meeting": "REG/KS/2021-03-25",
                            "posted_on": "9999-12-25"}, "posted_on")
    assert MAX_DATE.isoformat() in reason


# 4. One agreement breaks the public dashboard ----------------------------------------------


def test_an_agreement_valid_until_9999_12_31_is_refused_and_the_dashboard_answers(
    door: Door,
) -> None:
    refused(door, {**agreement(4), "valid_until": "9999-12-31"}, "valid_until")
    assert door.client.get("/").status_code == 200


def test_a_correction_to_a_date_outside_the_range_is_refused(door: Door) -> None:
    door.record(agreement(5))
    for day in ("0001-01-01", "1799-12-31", "3000-01-01", "9999-12-31"):
        refused(door, {"type": "CorrectEntry",
                       "entry": {"kind": "agreement", "ref": "Agreement 5"},
                       "field": "valid_until", "right_value": day, "reason": "typo"},
                "right_value")


def test_the_first_and_last_accepted_days_flow_to_every_page(door: Door) -> None:
    door.record({**agreement(6), "valid_from": MIN_DATE.isoformat(),
                 "valid_until": MAX_DATE.isoformat()})
    door.record({**agreement(7), "valid_from": MAX_DATE.isoformat(), "valid_until": None})
    door.caught_up()
    for as_of in (None, MIN_DATE.isoformat(), MAX_DATE.isoformat()):
        params = {"as_of": as_of} if as_of else {}
        assert door.client.get("/", params=params).status_code == 200
        assert door.client.get("/v1/agreements/Agreement 6", params=params).status_code == 200


def test_an_agreement_recorded_before_the_door_existed_is_drawn_all_the_same(
    door: Door,
) -> None:
    """Ledgers keep what they once accepted: an agreement valid until the last day Python
    knows (recorded by a version without these limits) must not break the dashboard."""
    forever = c.RegisterAgreement.model_construct(
        **{**c.RegisterAgreement(**agreement(8)).__dict__, "valid_until": date.max})
    door.ledger.execute(forever, recorded_by="an older version")
    door.caught_up()
    page = door.client.get("/")
    assert page.status_code == 200, page.text[-2000:]
    assert "9999-12-31" in page.text


#: Every read route that answers as of a date and as known at a moment.
READ_ROUTES = [
    "/v1/agreements", "/v1/agreements/Home care agreement", "/v1/recommendations",
    "/v1/recommendations/JB 2021 §20/adoption", "/v1/consultations", "/v1/decisions",
    "/v1/assignments", "/v1/matters/REG:KS/1/2021/timeline", "/v1/audit-trail",
    "/", "/matters/REG:KS/1/2021",
]
OUTSIDE = [
    ("known_at", "0001-01-01T00:00:00+14:00"), ("known_at", "9999-12-31T23:59:59-14:00"),
    ("known_at", "0001-01-01T00:00:00Z"), ("known_at", "9999-12-31T23:59:59.999999Z"),
    ("known_at", "1800-01-01T00:30:00+01:00"), ("as_of", "0001-01-01"),
    ("as_of", "9999-12-31"), ("as_of", "3000-01-01"),
]
INSIDE = [
    ("known_at", "1800-01-01T00:00:00Z"), ("known_at", "2999-12-31T23:59:59+00:00"),
    ("known_at", "2999-12-31T12:00:00"), ("as_of", "1800-01-01"), ("as_of", "2999-12-31"),
]


def test_as_of_and_known_at_at_extreme_values_are_refused_naming_them_or_answered(
    door: Door,
) -> None:
    door.caught_up()
    headers = door.auth("auditor")
    for route in READ_ROUTES:
        for name, value in OUTSIDE:
            response = door.client.get(route, params={name: value}, headers=headers)
            assert response.status_code in (400, 422), (route, name, value,
                                                         response.status_code)
            if route.startswith("/v1/"):
                assert name in response.json()["errors"][0]["field"]
            else:  # the page says which dates it answers for
                assert MIN_DATE.isoformat() in response.text
                assert MAX_DATE.isoformat() in response.text
        for name, value in INSIDE:
            response = door.client.get(route, params={name: value}, headers=headers)
            assert response.status_code in (200, 404), (route, name, value,
                                                         response.status_code)


FILTERS = {
    "/v1/agreements": ["party"], "/v1/recommendations": ["joint_body", "addressee"],
    "/v1/consultations": ["organisation"], "/v1/decisions": ["organisation", "body"],
    "/v1/assignments": ["organisation", "owner"], "/v1/audit-trail": ["kind", "ref",
                                                                      "recorded_by"],
}


def test_a_filter_holding_a_nul_is_refused_naming_it_not_sent_to_the_database(
    door: Door,
) -> None:
    """PostgreSQL refuses NUL in a text parameter: it used to answer 500."""
    for route, names in FILTERS.items():
        for name in names:
            response = door.client.get(route, params={name: "A\u0000B"},
                                       headers=door.auth("auditor"))
            assert response.status_code == 422, (route, name, response.text[:300])
            assert response.json()["errors"][0]["field"] == f"query.{name}"
            assert door.client.get(route, params={name: "REG"},
                                   headers=door.auth("auditor")).status_code == 200


def test_decisions_from_and_to_outside_the_range_are_refused_naming_them(door: Door) -> None:
    for name in ("from", "to"):
        response = door.client.get("/v1/decisions", params={name: "0001-01-01"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == f"query.{name}"


def test_an_import_line_nested_50000_deep_is_refused_with_its_line_number(door: Door) -> None:
    good = encode(motion(9)).decode()
    deep = encode({**motion(10), "justification": Deep(50_000)}).decode()
    with pytest.raises(InvalidCommand) as caught:
        parse_lines([good, deep])
    assert [p.field for p in caught.value.problems] == ["line 2"]
    assert "nested too deeply" in caught.value.problems[0].reason

    before = door.head()
    response = door.client.post("/v1/import", content=f"{good}\n{deep}\n".encode(),
                                headers={**door.auth(), "Content-Type": "application/x-ndjson"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "line 2"
    assert door.head() == before


def test_the_cli_refuses_a_deep_line_and_a_far_date_in_one_line_naming_both(
    tmp_path: Path,
) -> None:
    lines = [encode(motion(20)).decode(),
             encode({**motion(21), "justification": Deep(50_000)}).decode(),
             encode({"type": "PostMinutes", "meeting": "M", "posted_on": "9999-12-25"}).decode()]
    commands = tmp_path / "hostile.jsonl"
    commands.write_text("\n".join(lines) + "\n", "utf-8")
    env = os.environ | {"SAMSYN_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}"}
    result = subprocess.run([sys.executable, "-m", "api.cli", "import", str(commands)],
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "line 2" in result.stderr
    assert "line 3: posted_on" in result.stderr


def test_a_body_nested_50000_deep_is_refused_naming_the_body(door: Door) -> None:
    before = door.head()
    response = door.post({**motion(11), "justification": Deep(50_000)})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "body", "reason": "the body nests too deeply to be parsed"}]
    assert door.head() == before


# 8. 100 MB unauthenticated bodies were parsed before authentication ------------------------


def test_a_body_beyond_the_limit_is_refused_before_it_is_read_or_its_sender_known(
    door: Door,
) -> None:
    limit = door.settings.max_body_bytes
    body = b'{"ref": "' + b"x" * limit + b'"}'
    for headers in ({}, door.auth()):
        response = door.client.post("/v1/organisations", content=body,
                                    headers={**headers, "Content-Type": "application/json"})
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "body"


def test_a_streamed_body_is_cut_off_at_the_limit(door: Door) -> None:
    limit = door.settings.max_body_bytes

    def chunks() -> Any:
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    response = door.client.post("/v1/organisations", content=chunks(),
                                headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["field"] == "body"


def test_an_import_may_be_larger_than_a_command_up_to_its_own_limit(door: Door) -> None:
    line = encode({**motion(12), "justification": "x" * 10_000}).decode()
    lines = [line.replace("Motion 12", f"Motion 12-{i}") for i in range(150)]
    body = "\n".join(lines).encode()
    assert door.settings.max_body_bytes < len(body) < door.settings.max_import_bytes
    response = door.client.post("/v1/import", content=body,
                                headers={**door.auth(), "Content-Type": "application/x-ndjson"})
    assert response.status_code == 201, response.text[:500]
    too_large = b"x" * (door.settings.max_import_bytes + 1)
    response = door.client.post("/v1/import", content=too_large,
                                headers={"Content-Type": "application/x-ndjson"})
    assert response.status_code == 413


# 9. Look-alike references ---------------------------------------------------------------


def test_a_precomposed_and_a_decomposed_a_ring_name_one_organisation(door: Door) -> None:
    precomposed = {"type": "RegisterOrganisation", "ref": "\u00c5re", "name": "\u00c5re kommun",
                   "kind": "principal", "registered_on": "2020-01-01"}
    door.record(precomposed)
    decomposed = {**precomposed, "ref": "A\u030are", "name": "A\u030are kommun"}
    response = door.post(decomposed)
    assert response.status_code == 409, response.text
    door.caught_up()
    found = door.client.get("/v1/history/organisation/" + quote("A\u030are"))
    assert found.status_code == 200
    assert found.json()["ref"] == "\u00c5re"


HIDDEN = [
    "\u202e", "\u202a", "\u2066", "\u2069", "\u200b", "\u200d", "\u200e", "\u00ad", "\ufeff",
    "\u0007", "\u001b", "\u0085", "\u00a0", "\u2028", "\ue000", "\U000e0041",
]


def test_bidi_overrides_control_and_invisible_characters_in_references_are_refused(
    door: Door,
) -> None:
    for char in HIDDEN:
        reason = refused(door, {"type": "OpenMatter", "title": "A matter",
                                "opened_on": "2021-01-01",
                                "case_numbers": [{"organisation": "REG",
                                                  "dnr": f"KS/{char}/1"}]}, "dnr")
        assert f"U+{ord(char):04X}" in reason


def test_prose_keeps_line_breaks_and_right_to_left_script_but_not_overrides(
    door: Door,
) -> None:
    prose = "First line.\nSecond line.\t\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd"
    door.record({**motion(13), "justification": prose})
    refused(door, {**motion(14), "justification": "invoice \u202e fdp.exe"}, "justification")
