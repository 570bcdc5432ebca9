"""A running service over a real ledger, with one account of each kind."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from api.accounts import AccountStore
from api.app import create_app
from ledger.application import Ledger
from ledger.settings import Settings
from tests.ledger.world import world


@dataclass
class Service:
    client: TestClient
    ledger: Ledger
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


ACCOUNTS = {
    "admin": ("admin", []),
    "registrar-alfa": ("registrar", ["Alfa"]),
    "registrar-reg": ("registrar", ["REG"]),
    "secretariat-jb": ("registrar", ["JB"]),
    "auditor": ("auditor", []),
    "reader": ("reader", []),
}


@pytest.fixture
def service(ledger: Ledger, store: tuple[Settings, str | None]) -> Iterator[Service]:
    settings, schema = store
    world(ledger)
    settings = settings.model_copy(update={"demo_on_empty": False})
    accounts = AccountStore(settings, schema)
    tokens = {name: accounts.create(name, role, orgs) for name, (role, orgs) in ACCOUNTS.items()}
    with TestClient(create_app(settings, ledger, schema)) as client:
        yield Service(client, ledger, tokens)
