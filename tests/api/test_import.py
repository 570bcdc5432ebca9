"""Bulk import: the whole file is checked first; one bad line writes nothing and the answer
names every bad line; the real history loads through the API and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ledger.importing import demo_lines
from ledger.settings import Settings
from tests.api.conftest import Service

MEETING = {"type": "HoldMeeting", "organisation": "Alfa", "body": "KS", "held_on": "2022-05-04"}


def ndjson(*commands: dict[str, object]) -> str:
    return "\n".join(json.dumps(c) for c in commands) + "\n"


def post_import(service: Service, text: str, who: str = "admin") -> object:
    return service.client.post("/v1/import", content=text.encode(),
                               headers=service.auth(who) | {"Content-Type": "application/x-ndjson"})


def test_a_good_file_is_recorded_in_order_with_a_receipt_per_line(service: Service) -> None:
    head = service.ledger.max_position()
    text = ndjson(MEETING, {"type": "ElectCheckers", "meeting": "Alfa/KS/2022-05-04",
                            "checkers": ["A", "B"]})
    response = post_import(service, text, who="registrar-alfa")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["commands"] == 2
    assert [line["line"] for line in body["lines"]] == [1, 2]
    assert body["first_position"] == head + 1
    assert body["last_position"] == service.ledger.max_position()


def test_one_bad_line_writes_nothing_and_every_bad_line_is_named(service: Service) -> None:
    head = service.ledger.max_position()
    text = ndjson(
        MEETING,
        {"type": "HoldMeeting", "organisation": "Alfa", "body": "KS"},           # no date
        {"type": "ElectCheckers", "meeting": "Alfa/KS/2022-05-04", "checkers": ["A"]},
    ) + "{not json\n" + ndjson({"type": "Nonsense"})
    response = post_import(service, text)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = [e["field"] for e in response.json()["errors"]]
    assert any(f.startswith("line 2: held_on") for f in fields)
    assert any(f.startswith("line 4") for f in fields)
    assert any(f.startswith("line 5") for f in fields)
    assert not any(f.startswith(("line 1", "line 3")) for f in fields)
    assert service.ledger.max_position() == head


def test_a_line_the_ledger_refuses_writes_nothing_and_is_named(service: Service) -> None:
    head = service.ledger.max_position()
    text = ndjson(
        MEETING,
        {"type": "RecordParagraph", "meeting": "Alfa/KS/2022-05-04", "number": 1, "title": "a"},
        {"type": "RecordParagraph", "meeting": "Alfa/KS/2022-05-04", "number": 1, "title": "b"},
        {"type": "ElectCheckers", "meeting": "Alfa/KS/1999-01-01", "checkers": ["A"]},
        {"type": "VerifyParagraph", "meeting": "Alfa/KS/2022-05-04", "paragraph": 1,
         "verified_on": "2022-05-04", "verified_by": ["Chair"]},
    )
    response = post_import(service, text)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["line 3: paragraph", "line 4: meeting"]
    assert "2 of 5 commands refused" in response.json()["detail"]
    assert service.ledger.max_position() == head


def test_an_empty_or_non_utf8_file_is_refused(service: Service) -> None:
    assert post_import(service, "\n\n").status_code == 422
    response = service.client.post("/v1/import", content=b"\xff\xfe",
                                   headers=service.auth("admin"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"


def test_a_registrar_cannot_import_another_organisations_acts(service: Service) -> None:
    head = service.ledger.max_position()
    response = post_import(service, ndjson(MEETING | {"organisation": "Beta"}),
                           who="registrar-alfa")
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "line 1: organisation", "reason": "the account acts for Alfa"}]
    assert service.ledger.max_position() == head


def test_the_real_history_loads_through_the_api(
    store: tuple[Settings, str | None], tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from api.accounts import AccountStore
    from api.app import create_app

    settings, schema = store
    settings = settings.model_copy(update={"demo_on_empty": False})
    token = AccountStore(settings, schema).create("loader", "admin", [])
    with TestClient(create_app(settings, schema=schema)) as client:
        response = client.post("/v1/import", content="\n".join(demo_lines()).encode(),
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 201, response.text
        assert response.json()["commands"] == len(demo_lines())
        feed = client.get("/v1/events", params={"limit": 1000}).json()
    assert feed["head"] == response.json()["last_position"]


def test_the_cli_import_refuses_a_bad_file_with_a_one_line_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(ndjson({"type": "HoldMeeting", "organisation": "Alfa"}), "utf-8")
    env = os.environ | {"SAMSYN_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}"}
    result = subprocess.run([sys.executable, "-m", "api.cli", "import", str(bad)], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "line 1: body" in result.stderr


def test_the_cli_imports_the_demo_file(tmp_path: Path) -> None:
    demo = tmp_path / "demo.jsonl"
    demo.write_text("\n".join(demo_lines()), "utf-8")
    env = os.environ | {"SAMSYN_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}"}
    result = subprocess.run([sys.executable, "-m", "api.cli", "import", str(demo)], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert f"imported {len(demo_lines())} commands" in result.stdout
