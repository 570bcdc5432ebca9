"""One redaction policy for readers, route by route: who recorded what, and the ledger's
bookkeeping of retries (idempotency keys, named ``<account>:<key>``), are shown to
auditors, registrars and admins, and to no reader, anonymous or not, on any route."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from api.app import create_app
from ledger.settings import Settings
from tests.api.conftest import Service
from tests.api.live import live_server
from tests.api.test_stream import sse

MATTER = {"title": "Primary care", "opened_on": "2024-02-01",
          "case_numbers": [{"organisation": "Alfa", "dnr": "KS/9/2024"}]}
READERS = ["anonymous", "reader"]


@pytest.fixture
def recorded(service: Service) -> Service:
    """A matter opened by Alfa's registrar with an idempotency key, and a correction."""
    auth = service.auth("registrar-alfa")
    opened = service.client.post("/v1/matters", json=MATTER,
                                 headers={**auth, "Idempotency-Key": "secret-key-1"})
    assert opened.status_code == 201, opened.text
    corrected = service.client.post("/v1/corrections", headers=auth, json={
        "entry": {"kind": "matter", "ref": "Alfa:KS/9/2024"}, "field": "title",
        "right_value": "Primary care (near)", "reason": "typo"})
    assert corrected.status_code == 201, corrected.text
    service.client.app.state.runner.wait_until(  # type: ignore[attr-defined]
        corrected.json()["entries"][-1]["position"], timeout=30)
    return service


def headers(service: Service, who: str) -> dict[str, str]:
    return {} if who == "anonymous" else service.auth(who)


def assert_redacted(text: str) -> None:
    assert "registrar-alfa" not in text
    assert "secret-key-1" not in text
    assert "IdempotencyKey" not in text


def recorders(node: object) -> list[object]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "recorded_by"] + [
            r for v in node.values() for r in recorders(v)]
    if isinstance(node, list):
        return [r for v in node for r in recorders(v)]
    return []


ROUTES = [
    "/v1/events?limit=1000",
    "/v1/history/matter/Alfa:KS/9/2024",
    f"/v1/matters/{quote('Alfa:KS/9/2024', safe='')}/timeline",
]


@pytest.mark.parametrize("who", READERS)
@pytest.mark.parametrize("path", ROUTES)
def test_a_reader_sees_no_recorder_and_no_bookkeeping(
    recorded: Service, who: str, path: str
) -> None:
    response = recorded.client.get(path, headers=headers(recorded, who))
    assert response.status_code == 200, response.text
    assert_redacted(response.text)
    found = recorders(response.json())
    assert found and set(found) == {None}


@pytest.mark.parametrize("path", ROUTES)
def test_an_auditor_sees_who_recorded_what(recorded: Service, path: str) -> None:
    response = recorded.client.get(path, headers=recorded.auth("auditor"))
    assert response.status_code == 200, response.text
    assert "registrar-alfa" in recorders(response.json())


def test_an_entry_by_id_is_redacted_like_its_history(recorded: Service) -> None:
    opened = recorded.client.get("/v1/history/matter/Alfa:KS/9/2024").json()
    by_id = recorded.client.get(f"/v1/entries/{opened['id']}")
    assert by_id.status_code == 200
    assert_redacted(by_id.text)
    assert by_id.json() == opened


def test_the_feed_shows_bookkeeping_to_auditors_only(recorded: Service) -> None:
    auditor = recorded.client.get("/v1/events?limit=1000", headers=recorded.auth("auditor"))
    anonymous = recorded.client.get("/v1/events?limit=1000")
    # Keys are kept beside the ledger now, never as entries: only histories recorded by
    # earlier versions hold IdempotencyKey entries, and those are an auditor's alone.
    assert "secret-key-1" not in auditor.text
    kept = [i["position"] for i in auditor.json()["items"]
            if not i["type"].startswith("IdempotencyKey")]
    assert [i["position"] for i in anonymous.json()["items"]] == kept
    assert anonymous.json()["next_after"] == auditor.json()["next_after"]


@pytest.mark.parametrize("who", READERS)
def test_the_audit_trail_is_for_auditors(recorded: Service, who: str) -> None:
    response = recorded.client.get("/v1/audit-trail", headers=headers(recorded, who))
    assert response.status_code in (401, 403)
    assert_redacted(response.text)
    seen = recorded.client.get("/v1/audit-trail", headers=recorded.auth("auditor"))
    assert "registrar-alfa" in recorders(seen.json())


@pytest.fixture
def live(recorded: Service, store: tuple[Settings, str | None]) -> Iterator[str]:
    """The same ledger served by a live server of its own (for the stream)."""
    settings, schema = store
    app = create_app(settings.model_copy(update={"demo_on_empty": False}), recorded.ledger,
                     schema)
    with live_server(app) as url:
        yield url


def test_the_live_stream_is_redacted_like_the_feed(recorded: Service, live: str) -> None:
    feed = recorded.client.get("/v1/events?limit=1000").json()["items"]
    with httpx.stream("GET", f"{live}/v1/events/stream", params={"after": 0},
                      timeout=20) as response:
        streamed = sse(response.iter_lines(), len(feed))
    assert [data for _, data in streamed] == json.loads(json.dumps(feed))
    assert_redacted(json.dumps(streamed))
