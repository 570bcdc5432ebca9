"""Fixtures shared by every test: real ledgers on SQLite and PostgreSQL, never mocks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger.application import Ledger
from ledger.settings import Settings
from ledger.storage import persistence_env
from tests.backends import BACKENDS, storage


class Clock:
    """A recorded-time clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: str) -> None:
        self.now = datetime.fromisoformat(when).replace(tzinfo=UTC)

    def advance(self, seconds: float = 1.0) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2024, 1, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def store(backend: str, tmp_path: Path) -> Iterator[tuple[Settings, str | None]]:
    """A fresh, empty store: settings for it, and its PostgreSQL schema if any."""
    with storage(backend, tmp_path) as found:
        yield found


@pytest.fixture
def make_ledger(store: tuple[Settings, str | None]) -> Iterator[Callable[..., Ledger]]:
    """Build Ledger applications on one fresh store (call it again for a second process)."""
    settings, schema = store
    apps: list[Ledger] = []

    def make(clock: Callable[[], datetime] | None = None) -> Ledger:
        env = persistence_env(settings, schema=schema)
        app = Ledger(env=env, clock=clock) if clock else Ledger(env=env)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


@pytest.fixture
def ledger(make_ledger: Callable[..., Ledger], clock: Clock) -> Ledger:
    return make_ledger(clock)
