"""Operations: request ids, health and readiness, and a database that goes away (503)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.accounts import AccountStore
from api.app import create_app
from ledger.application import Ledger
from ledger.leadership import process_name
from ledger.settings import Settings
from ledger.storage import persistence_env
from tests.api.conftest import Service
from tests.backends import POSTGRES_URL, storage
from tests.ledger.world import world
from tests.proxy import CuttableProxy


def test_a_request_id_is_returned_as_given_or_made(service: Service) -> None:
    given = service.client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = service.client.get("/health")
    assert len(made.headers["x-request-id"]) == 32


def test_ready_reports_the_head_of_the_ledger_and_the_read_models(service: Service) -> None:
    head = service.ledger.max_position()
    service.client.app.state.runner.wait_until(head)  # type: ignore[attr-defined]
    body = service.client.get("/ready").json()
    assert body == {"status": "ready", "head": head, "read_models": head,
                    "process": process_name(),
                    "roles": {"projector": "leader", "sealer": "leader"}}


def test_a_database_that_went_away_is_a_503_with_retry_after(tmp_path: Path) -> None:
    with storage("postgres", tmp_path) as (settings, schema):
        token = AccountStore(settings, schema).create("admin", "admin", [])
        proxy = CuttableProxy(("127.0.0.1", 5432))
        url = POSTGRES_URL.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        proxied = Settings(database_url=url, demo_on_empty=False)
        ledger = Ledger(env=persistence_env(proxied, schema=schema))
        world(ledger)
        app = create_app(settings.model_copy(update={"demo_on_empty": False}), ledger, schema)
        with TestClient(app) as client:
            proxy.cut()
            write = client.post("/v1/meetings", headers={"Authorization": f"Bearer {token}"},
                                json={"organisation": "Alfa", "body": "KS",
                                      "held_on": "2022-01-01"})
            read = client.get("/v1/events")
            ready = client.get("/ready")
        for response in (write, read, ready):
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "5"
            assert response.headers["content-type"] == "application/problem+json"
        ledger.close()
