"""The service answers /health and serves the ordered feed, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ledger.application import Ledger
from tests.api.conftest import Service
from tests.ledger.world import run


@pytest.fixture
def client(service: Service) -> TestClient:
    return service.client


def test_health_answers(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_the_feed_pages_through_every_entry_in_order(client: TestClient, ledger: Ledger) -> None:
    seen: list[int] = []
    after = 0
    while True:
        page = client.get("/v1/events", params={"after": after, "limit": 7}).json()
        if not page["items"]:
            break
        seen += [item["position"] for item in page["items"]]
        after = page["next_after"]
    assert seen == [e.position for e in ledger.read_all()]
    assert seen == sorted(seen) and len(seen) == ledger.max_position()


def test_a_feed_item_carries_type_dates_recorder_and_data(
    service: Service, ledger: Ledger
) -> None:
    run(ledger, {"type": "HoldMeeting", "organisation": "Alfa", "body": "KS",
                 "held_on": "2022-05-04"}, by="secretariat-alfa")
    head = ledger.max_position()
    item = service.client.get("/v1/events", params={"after": head - 1},
                              headers=service.auth("auditor")).json()["items"][0]
    assert item["type"] == "Meeting.Held"
    assert item["domain_dates"] == {"held_on": "2022-05-04"}
    assert item["recorded_by"] == "secretariat-alfa"
    assert item["data"]["ref"] == "Alfa/KS/2022-05-04"
    assert item["recorded_at"].startswith("2024-01-01T12:00:00")


@pytest.mark.parametrize("query", [{"after": -1}, {"limit": 0}, {"limit": 5000}, {"after": "x"},
                                   {"after": 2**63}, {"after": 10**30}])
def test_a_bad_cursor_is_a_problem_document_naming_the_parameter(
    client: TestClient, query: dict[str, object]
) -> None:
    response = client.get("/v1/events", params=query)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422 and body["type"].endswith("/invalid-request")
    assert body["errors"][0]["field"] == f"query.{next(iter(query))}"


def test_an_unknown_route_is_a_problem_document(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_anonymous_readers_do_not_see_who_recorded_an_entry(client: TestClient) -> None:
    items = client.get("/v1/events").json()["items"]
    assert items and all(item["recorded_by"] is None for item in items)
