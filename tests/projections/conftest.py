"""Fixtures for the read models: real ledgers on SQLite and PostgreSQL, fed by the real runner."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.application import Ledger, Receipt
from ledger.commands import parse_command
from ledger.errors import SamsynError
from ledger.settings import Settings
from ledger.storage import persistence_env
from projections.db import Database
from projections.pipeline import READ_MODELS, TRACKING_TABLE
from projections.queries import ReadModels
from projections.readmodel import FoldedReadModel
from projections.runner import ProjectionRunner
from tests.backends import POSTGRES_URL, require_postgres


class Clock:
    """The ledger's recorded-time clock, moved by hand."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2017, 1, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: str) -> None:
        moment = datetime.fromisoformat(when)
        self.now = moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def advance(self, seconds: float = 1.0) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Store:
    """One fresh, empty ledger database: an SQLite file or a PostgreSQL schema."""

    backend: str
    settings: Settings
    schema: str | None
    _open: list[Any] = field(default_factory=list)

    def ledger(self, clock: Callable[[], datetime]) -> Ledger:
        app = Ledger(env=persistence_env(self.settings, schema=self.schema), clock=clock)
        self._open.append(app)
        return app

    def runner(self, **options: Any) -> ProjectionRunner:
        runner = ProjectionRunner(self.settings, schema=self.schema, **options)
        self._open.append(runner)
        return runner

    def read_models(self, today: date = date(2024, 1, 1)) -> ReadModels:
        models = ReadModels(self.settings, schema=self.schema, today=lambda: today)
        self._open.append(models)
        return models

    def database(self) -> Database:
        database = Database(self.settings, schema=self.schema)
        self._open.append(database)
        return database

    def close(self) -> None:
        for thing in reversed(self._open):
            if isinstance(thing, ProjectionRunner):
                thing.stop()
            else:
                thing.close()
        self._open.clear()


@contextmanager
def fresh_store(backend: str, directory: Path) -> Iterator[Store]:
    """A fresh store on ``backend``; a PostgreSQL schema is dropped afterwards."""
    if backend == "sqlite":
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"ledger-{uuid.uuid4().hex[:8]}.sqlite3"
        store = Store(backend, Settings(database_url=f"sqlite:///{path}"), None)
        try:
            yield store
        finally:
            store.close()
        return
    require_postgres()
    schema = f"p_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    store = Store(backend, Settings(database_url=POSTGRES_URL, db_pool_size=4), schema)
    try:
        yield store
    finally:
        store.close()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def store(backend: str, tmp_path: Path) -> Iterator[Store]:
    with fresh_store(backend, tmp_path) as s:
        yield s


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Registrar:
    """Records commands (given as JSON-like dicts) at the recorded times a test chooses."""

    def __init__(self, ledger: Ledger, clock: Clock, recorded_by: str = "registrar") -> None:
        self.ledger = ledger
        self.clock = clock
        self.recorded_by = recorded_by
        self.log: list[tuple[datetime, dict[str, Any]]] = []

    def record(self, command: dict[str, Any], at: str | datetime | None = None) -> Receipt:
        """Record at ``at`` (ISO text, UTC if naive), or a second after the last command."""
        if isinstance(at, datetime):
            self.clock.now = at
        elif at is not None:
            self.clock.set(at)
        else:
            self.clock.advance()
        receipt = self.ledger.execute(parse_command(command), recorded_by=self.recorded_by)
        self.log.append((self.clock.now, command))
        return receipt

    def attempt(self, command: dict[str, Any], at: str | datetime | None = None) -> Receipt | None:
        """Record the command if the ledger accepts it (random sequences try invalid ones)."""
        try:
            return self.record(command, at)
        except SamsynError:
            return None


@pytest.fixture
def registrar(store: Store, clock: Clock) -> Registrar:
    return Registrar(store.ledger(clock), clock)


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every read model's rows and position, to compare two ways of building them."""
    tables = [t for model in READ_MODELS for t in model.tables()]
    result: dict[str, list[tuple[Any, ...]]] = {}
    database = store.database()
    with database.transaction(write=False) as tx:
        for table in tables:
            result[table] = sorted(tuple(r) for r in tx.query(f"SELECT * FROM {tx.table(table)}"))
        result[TRACKING_TABLE] = sorted(
            tuple(r) for r in tx.query(f"SELECT * FROM {tx.table(TRACKING_TABLE)}")
        )
    return result


def current_states(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """The folded current states only (what queries without ``known_at`` read)."""
    database = store.database()
    result: dict[str, list[tuple[Any, ...]]] = {}
    with database.transaction(write=False) as tx:
        for model in READ_MODELS:
            if isinstance(model, FoldedReadModel):
                table = model.tables_for().current
                result[table] = sorted(
                    tuple(r)
                    for r in tx.query(f"SELECT entity, voided, state FROM {tx.table(table)}")
                )
    return result
