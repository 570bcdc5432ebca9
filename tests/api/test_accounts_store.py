"""Accounts reach the database like everything else: revocation is at once, everywhere,
and a database that went away is a 503 with Retry-After, never a 500."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.accounts import AccountStore
from api.app import create_app
from ledger.application import Ledger
from ledger.settings import Settings
from ledger.storage import persistence_env
from tests.api.conftest import Service
from tests.backends import POSTGRES_URL, storage
from tests.ledger.world import world
from tests.proxy import CuttableProxy


def test_a_revoked_token_is_refused_at_once_by_another_process(
    service: Service, store: tuple[Settings, str | None]
) -> None:
    settings, schema = store
    auth = service.auth("auditor")
    assert service.client.get("/v1/audit-trail", headers=auth).status_code == 200

    elsewhere = AccountStore(settings, schema)  # the operator's `samsyn token revoke`
    assert elsewhere.revoke("auditor")
    elsewhere.close()

    refused = service.client.get("/v1/audit-trail", headers=auth)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "unknown or revoked token"


def test_authentication_while_the_database_is_away_is_a_503(tmp_path: Path) -> None:
    with storage("postgres", tmp_path) as (settings, schema):
        token = AccountStore(settings, schema).create("auditor", "auditor", [])
        proxy = CuttableProxy(("127.0.0.1", 5432))
        url = POSTGRES_URL.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        proxied = settings.model_copy(update={
            "database_url": url, "demo_on_empty": False, "projections_in_process": False,
            "seal_in_process": False, "db_connect_timeout": 1})
        ledger = Ledger(env=persistence_env(proxied, schema=schema))
        world(ledger)
        with TestClient(create_app(proxied, ledger, schema)) as client:
            proxy.cut()
            responses = [client.get(path, headers={"Authorization": f"Bearer {token}"})
                         for path in ("/v1/audit-trail", "/v1/events", "/v1/agreements")]
        ledger.close()
    for response in responses:
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "5"
        assert response.headers["content-type"] == "application/problem+json"
