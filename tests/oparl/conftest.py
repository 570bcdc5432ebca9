"""A service over a real ledger (the demo history, or a synthetic one with every act), and an
OParl crawler that knows nothing of Samsyn: it starts at ``/oparl/v1/system`` and follows
links, validating every object against the OParl 1.1 JSON Schemas."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import rfc3339_validator
import rfc3986_validator
from fastapi.testclient import TestClient
from jsonschema import Draft7Validator, FormatChecker

from api.app import create_app
from bench.synthetic import generate
from ledger.application import Ledger
from ledger.commands import parse_command
from ledger.importing import load_demo
from ledger.settings import Settings

SCHEMAS = Path(__file__).parent.parent / "data" / "oparl"
OPARL = "https://schema.oparl.org/1.1/"

FORMATS = FormatChecker()


@FORMATS.checks("url")
def _is_url(value: object) -> bool:
    """OParl's ``format: url``: an absolute http(s) URL (RFC 3986)."""
    return (isinstance(value, str) and rfc3986_validator.validate_rfc3986(value, rule="URI")
            and urlsplit(value).scheme in ("http", "https"))


@FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    return isinstance(value, str) and rfc3339_validator.validate_rfc3339(value)


@FORMATS.checks("date")
def _is_date(value: object) -> bool:
    import datetime

    try:
        datetime.date.fromisoformat(str(value))
    except ValueError:
        return False
    return isinstance(value, str) and len(value) == 10


VALIDATORS = {
    path.stem: Draft7Validator(json.loads(path.read_text()), format_checker=FORMATS)
    for path in SCHEMAS.glob("*.json")
}


@dataclass
class Crawl:
    """What a crawl saw: every object by id (as last seen), every error, every URL."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    invalid: list[str] = field(default_factory=list)
    fetched: set[str] = field(default_factory=set)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects.values() if o["type"] == OPARL + kind]


def validate(node: Any, crawl: Crawl, where: str) -> None:
    """Validate every OParl object in ``node`` (embedded ones too) against its type's schema."""
    if isinstance(node, list):
        for item in node:
            validate(item, crawl, where)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if isinstance(kind, str) and kind.startswith(OPARL):
        name = kind.removeprefix(OPARL)
        validator = VALIDATORS.get(name)
        if validator is None:
            crawl.invalid.append(f"{where}: unknown type {kind}")
        else:
            crawl.invalid.extend(f"{where} {node.get('id')}: {e.message}"
                                 for e in validator.iter_errors(node))
        if "id" in node:
            crawl.objects[node["id"]] = node
    for value in node.values():
        validate(value, crawl, where)


def links(node: Any, base: str) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from links(value, base)
    elif isinstance(node, list):
        for value in node:
            yield from links(value, base)
    elif isinstance(node, str) and node.startswith(base):
        yield node


def crawl(client: TestClient, start: str = "http://testserver/oparl/v1/system") -> Crawl:
    """Follow every link under ``/oparl/v1/`` from ``start`` to the last object."""
    base = "http://testserver/oparl/v1/"
    seen = Crawl()
    queue = [start]
    while queue:
        url = queue.pop()
        if url in seen.fetched:
            continue
        seen.fetched.add(url)
        response = client.get(url)
        assert response.status_code == 200, f"{url}: {response.status_code} {response.text}"
        document = response.json()
        validate(document.get("data", document), seen, url)
        queue.extend(u for u in links(document, base) if u not in seen.fetched)
    return seen


@pytest.fixture
def service(ledger: Ledger, store: tuple[Settings, str | None]) -> Callable[..., TestClient]:
    """``service(history)``: a running service over ``ledger`` with ``history`` loaded."""
    settings, schema = store
    settings = settings.model_copy(update={"demo_on_empty": False})
    clients: list[Any] = []

    def start(history: Callable[[Ledger], None]) -> TestClient:
        history(ledger)
        manager = TestClient(create_app(settings, ledger, schema))
        client = manager.__enter__()
        clients.append(manager)
        client.app.state.runner.wait_until(ledger.max_position(), timeout=60)  # type: ignore[attr-defined]
        return client

    yield start  # type: ignore[misc]
    for manager in clients:
        manager.__exit__(None, None, None)


def demo(ledger: Ledger) -> None:
    load_demo(ledger)


def synthetic(events: int, seed: int = 0) -> Callable[[Ledger], None]:
    def record(ledger: Ledger) -> None:
        commands = list(generate(events, seed=seed))
        for start in range(0, len(commands), 250):
            ledger.execute_many([parse_command(c) for c in commands[start:start + 250]],
                                recorded_by="synthetic")
    return record
