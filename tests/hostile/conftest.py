"""A running service over a real ledger, as a registrar (and a careless or hostile one) sees it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.accounts import AccountStore
from api.app import create_app
from api.routes.registrar import ROUTES
from ledger.application import Ledger
from ledger.commands import COMMAND_TYPES
from ledger.settings import Settings
from projections.runner import ProjectionRunner
from tests.ledger.world import world

#: Stands for a value nested deeper than any JSON encoder here would write: the body is
#: spliced as text (see :func:`encode`).
DEEP = "\x00samsyn-deep-nesting\x00"


@dataclass(frozen=True)
class Deep:
    """A JSON array nested ``depth`` levels deep, in place of a value."""

    depth: int


def encode(command: Any) -> bytes:
    """The command as JSON text, as a client may send it: integers of any size, lone
    surrogates escaped, and :class:`Deep` values spliced in as raw text."""
    deep: list[Deep] = []

    def default(value: Any) -> Any:
        if isinstance(value, Deep):
            deep.append(value)
            return DEEP
        raise TypeError(type(value).__name__)

    text = json.dumps(command, default=default)
    marker = json.dumps(DEEP)
    for value in deep:
        text = text.replace(marker, "[" * value.depth + "]" * value.depth, 1)
    return text.encode("utf-8")


@dataclass
class Door:
    """The registrar's door (HTTP), and what stands behind it."""

    client: TestClient
    app: FastAPI
    ledger: Ledger
    settings: Settings
    schema: str | None
    tokens: dict[str, str]

    def auth(self, who: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def post(self, command: dict[str, Any], who: str = "admin") -> httpx.Response:
        path = "/v1" + ROUTES[COMMAND_TYPES[command["type"]]]
        body = {k: v for k, v in command.items() if k != "type"}
        return self.client.post(path, content=encode(body), headers={
            **self.auth(who), "Content-Type": "application/json"})

    def record(self, command: dict[str, Any]) -> httpx.Response:
        response = self.post(command)
        assert response.status_code == 201, (command["type"], response.text[:2000])
        return response

    @property
    def runner(self) -> ProjectionRunner:
        runner: ProjectionRunner = self.app.state.runner
        return runner

    def head(self) -> int:
        return self.ledger.max_position()

    def caught_up(self) -> None:
        """Every read model has applied every entry, and set none aside as one it fails on."""
        self.runner.wait_until(self.head(), timeout=60)
        assert self.app.state.read_models.failures() == []
        ready = self.client.get("/ready")
        assert ready.status_code == 200, ready.text


@pytest.fixture
def door(ledger: Ledger, store: tuple[Settings, str | None], tmp_path: Path) -> Iterator[Door]:
    settings, schema = store
    world(ledger)
    settings = settings.model_copy(update={
        "demo_on_empty": False,
        "signing_key_path": tmp_path / "signing.key",
        "seal_in_process": False,  # sealed and signed when a test exports
    })
    accounts = AccountStore(settings, schema)
    tokens = {who: accounts.create(who, who, []) for who in ("admin", "auditor")}
    app = create_app(settings, ledger, schema)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Door(client, app, ledger, settings, schema, tokens)
