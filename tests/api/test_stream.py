"""The live feed: Server-Sent Events, each with its position as id, resumable."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from api.app import create_app
from ledger.application import Ledger
from ledger.settings import Settings
from tests.api.live import live_server
from tests.ledger.world import run, world


def sse(lines: Iterator[str], count: int) -> list[tuple[int, dict[str, object]]]:
    """Read ``count`` entry events: (id, data)."""
    found: list[tuple[int, dict[str, object]]] = []
    event_id = None
    for line in lines:
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("data: ") and event_id is not None:
            found.append((event_id, json.loads(line[6:])))
            if len(found) == count:
                break
    return found


@pytest.fixture
def base_url(ledger: Ledger, store: tuple[Settings, str | None]) -> Iterator[str]:
    settings, schema = store
    world(ledger)
    app = create_app(settings.model_copy(update={"demo_on_empty": False}), ledger, schema)
    with live_server(app) as url:
        yield url


def test_a_new_entry_arrives_on_an_open_stream(base_url: str, ledger: Ledger) -> None:
    head = ledger.max_position()
    with httpx.stream("GET", f"{base_url}/v1/events/stream", timeout=20) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        run(ledger, {"type": "HoldMeeting", "organisation": "Alfa", "body": "KS",
                     "held_on": "2022-05-04"})
        [(event_id, data)] = sse(response.iter_lines(), 1)
    assert event_id == head + 1
    assert data["type"] == "Meeting.Held"


def test_a_client_resumes_after_its_last_event_id(base_url: str, ledger: Ledger) -> None:
    with httpx.stream("GET", f"{base_url}/v1/events/stream", params={"after": 0},
                      timeout=20) as response:
        first = sse(response.iter_lines(), 3)
    assert [i for i, _ in first] == [1, 2, 3]
    with httpx.stream("GET", f"{base_url}/v1/events/stream", timeout=20,
                      headers={"Last-Event-ID": "3"}) as response:
        resumed = sse(response.iter_lines(), 2)
    assert [i for i, _ in resumed] == [4, 5]


def test_a_bad_last_event_id_is_a_problem(base_url: str) -> None:
    response = httpx.get(f"{base_url}/v1/events/stream", headers={"Last-Event-ID": "x"},
                         timeout=20)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Last-Event-ID"
