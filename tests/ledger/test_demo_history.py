"""The real history from the seeds loads on both backends and reads back in order."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from api.app import create_app
from ledger.application import Ledger
from ledger.importing import demo_lines, load_demo
from ledger.settings import Settings


def test_every_demo_line_says_where_it_comes_from() -> None:
    lines = [json.loads(line) for line in demo_lines()]
    assert lines and all(line.get("source") for line in lines)


def test_the_demo_history_loads_and_the_feed_returns_it_in_order(
    ledger: Ledger, store: tuple[Settings, str | None]
) -> None:
    receipts = load_demo(ledger)
    assert len(receipts) == len(demo_lines())
    settings, schema = store
    with TestClient(create_app(settings.model_copy(update={"demo_on_empty": False}),
                               ledger, schema)) as client:
        items, after = [], 0
        while page := client.get("/v1/events", params={"after": after, "limit": 50}
                                 ).json()["items"]:
            items += page
            after = page[-1]["position"]
    positions = [i["position"] for i in items]
    assert positions == sorted(positions) == [p for r in receipts for p in r.positions]
    organisations = [i["data"]["ref"] for i in items if i["type"] == "Organisation.Registered"]
    assert {"RJH", "Berg", "Bräcke", "Härjedalen", "Krokom", "Ragunda", "Strömsund", "Åre",
            "Östersund", "SVOM"} <= set(organisations)
    responses = [i["data"]["principal"] for i in items
                 if i["type"] == "Consultation.ResponseReceived"]
    assert sorted(responses) == sorted(["Ragunda", "Krokom", "Berg", "Strömsund", "Östersund",
                                        "RJH"])


def test_the_service_loads_the_demo_into_an_empty_ledger_only(
    store: tuple[Settings, str | None],
) -> None:
    settings, schema = store
    with TestClient(create_app(settings, schema=schema)) as client:
        head = client.get("/v1/events", params={"limit": 1}).json()["head"]
    assert head > 0
    with TestClient(create_app(settings, schema=schema)) as client:
        assert client.get("/v1/events", params={"limit": 1}).json()["head"] == head
