"""A history written by an earlier Samsyn still loads, reads the same and verifies.

``tests/fixtures/history_v1`` holds the integrity export of a ledger written by the code
of commit a954fe4 (the demo history, every other act type, an idempotent write and a
correction of a decision's date) and what its read routes answered then. Each test loads
those stored entries verbatim into a fresh store, as a restored database would hold them,
and reads them with today's code.
"""

from __future__ import annotations

import argparse
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from fastapi.testclient import TestClient

from api.accounts import AccountStore
from api.app import create_app
from api.integrity_cli import verify
from ledger.application import Ledger
from ledger.integrity.log import IntegrityLog
from ledger.settings import Settings
from ledger.storage import persistence_env

FIXTURE = Path(__file__).parent.parent / "fixtures" / "history_v1"

#: Answers the earlier code gave that were wrong, and what is right instead. Each key is
#: ``route -> JSON path``; the value replaces the recorded one.
CORRECTED_SINCE: dict[tuple[str, str], Any] = {
    # The assignment is given on the date of the decision that gave it, as corrected
    # (2021-04-01 -> 2021-04-02), in the assignments read model and the matter timeline.
    **{(route, path): "2021-04-02" for route, path in (
        ("/v1/assignments", "items.1.given_on"),
        ("/v1/assignments?as_of=2021-12-31", "items.1.given_on"),
        ("/v1/assignments/Norrby%2Futredning-hemtjanst", "given_on"),
        ("/v1/assignments/Norrby%2Futredning-hemtjanst?as_of=2021-12-31", "given_on"),
        ("/v1/matters/Norrby%3AKS%2F11%2F2021/timeline", "entries.6.on"),
        ("/v1/matters/Norrby%3AKS%2F11%2F2021/timeline?as_of=2021-12-31", "entries.6.on"),
    )},
}


def stored_entries() -> list[StoredEvent]:
    entries = []
    for line in (FIXTURE / "export.jsonl").read_text("utf-8").splitlines():
        record = json.loads(line)
        if record.get("kind") != "entry":
            continue
        leaf = record["entry"]
        entries.append(StoredEvent(
            originator_id=UUID(leaf["originator_id"]),
            originator_version=leaf["originator_version"],
            topic=leaf["topic"],
            state=base64.b64decode(leaf["state_b64"]),
        ))
    return entries


@pytest.fixture
def restored(store: tuple[Settings, str | None]) -> Iterator[tuple[Ledger, Settings, str | None]]:
    """A fresh store holding the fixture's entries, at the positions they had."""
    settings, schema = store
    settings = settings.model_copy(update={"demo_on_empty": False})
    ledger = Ledger(env=persistence_env(settings, schema=schema))
    entries = stored_entries()
    ledger.recorder.insert_events(entries)
    assert ledger.max_position() == len(entries)
    yield ledger, settings, schema
    ledger.close()


def test_every_stored_entry_still_loads_as_an_event(
    restored: tuple[Ledger, Settings, str | None],
) -> None:
    ledger, _, _ = restored
    loaded = list(ledger.read_all())
    assert [entry.position for entry in loaded] == list(range(1, len(stored_entries()) + 1))


def _matches(recorded: Any, answered: Any, where: str) -> list[str]:
    """Where ``answered`` differs from ``recorded`` (fields added since are fine)."""
    if isinstance(recorded, dict):
        if not isinstance(answered, dict):
            return [f"{where}: {answered!r} instead of an object"]
        return [difference for key, value in recorded.items()
                for difference in (_matches(value, answered[key], f"{where}.{key}")
                                   if key in answered else [f"{where}.{key}: missing"])]
    if isinstance(recorded, list):
        if not isinstance(answered, list) or len(answered) != len(recorded):
            return [f"{where}: {answered!r} instead of {recorded!r}"]
        return [difference for index, (r, a) in enumerate(zip(recorded, answered, strict=True))
                for difference in _matches(r, a, f"{where}[{index}]")]
    return [] if recorded == answered else [f"{where}: {answered!r} instead of {recorded!r}"]


def _expected(route: str, body: Any) -> Any:
    if isinstance(body, dict) and "as_of=" not in route and "known_at=" not in route:
        body = {key: value for key, value in body.items() if key != "as_of"}
    for (corrected_route, path), value in CORRECTED_SINCE.items():
        if corrected_route == route:
            target = body
            *parents, last = path.split(".")
            for key in parents:
                target = target[int(key)] if isinstance(target, list) else target[key]
            target[last] = value
    return body


def test_the_read_routes_answer_what_they_answered_then(
    restored: tuple[Ledger, Settings, str | None],
) -> None:
    ledger, settings, schema = restored
    token = AccountStore(settings, schema).create("auditor", "admin", [])
    auth = {"Authorization": f"Bearer {token}"}
    answers = json.loads((FIXTURE / "answers.json").read_text("utf-8"))
    with TestClient(create_app(settings, ledger, schema)) as client:
        client.app.state.runner.wait_until(ledger.max_position(), timeout=60)  # type: ignore[attr-defined]
        differences = []
        for route, recorded in answers.items():
            response = client.get(route, headers=auth)
            if response.status_code != recorded["status"]:
                differences.append(f"{route}: {response.status_code}")
            elif response.status_code == 200:
                differences += _matches(_expected(route, recorded["body"]), response.json(), route)
    assert differences == []


def test_the_export_written_then_still_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(file=str(FIXTURE / "export.jsonl"), trusted_checkpoint=None,
                              key=None, workers=1, live=False)
    assert verify(args) == 0
    assert "147 entries" in capsys.readouterr().out


def test_the_restored_entries_seal_to_the_same_root(
    restored: tuple[Ledger, Settings, str | None], tmp_path: Path
) -> None:
    ledger, settings, schema = restored
    settings = settings.model_copy(update={"signing_key_path": tmp_path / "new.key"})
    with IntegrityLog(settings, schema=schema, ledger=ledger) as log:
        log.seal_all(ledger)
        note = log.issue_checkpoint()
    exported = (FIXTURE / "export.jsonl").read_text("utf-8").splitlines()[-1]
    recorded_root = json.loads(exported)["note"].split("\n")[2]
    assert note.split("\n")[2] == recorded_root
