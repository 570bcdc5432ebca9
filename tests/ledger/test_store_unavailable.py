"""When PostgreSQL cannot be reached, the ledger says so within seconds and writes nothing."""

from __future__ import annotations

import time

import pytest

from ledger.application import Ledger
from ledger.errors import StoreUnavailable
from ledger.settings import Settings
from ledger.storage import persistence_env
from tests.backends import POSTGRES_URL, storage
from tests.ledger.world import run, world
from tests.proxy import CuttableProxy

BOUND = 15.0  # seconds: db_attempts (2) x db_connect_timeout (3) plus slack on a busy machine


def test_opening_a_ledger_on_an_unreachable_database_fails_fast() -> None:
    settings = Settings(database_url="postgresql://postgres@127.0.0.1:9/test")
    started = time.monotonic()
    with pytest.raises(Exception, match="connection"):
        Ledger(env=persistence_env(settings))
    assert time.monotonic() - started < BOUND


def test_a_command_on_a_database_that_went_away_fails_fast(tmp_path: object) -> None:
    with storage("postgres", tmp_path) as (settings, schema):  # type: ignore[arg-type]
        proxy = CuttableProxy(("127.0.0.1", 5432))
        url = POSTGRES_URL.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        ledger = Ledger(env=persistence_env(Settings(database_url=url), schema=schema))
        world(ledger)
        head = ledger.max_position()
        proxy.cut()
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            run(ledger, {"type": "HoldMeeting", "organisation": "Alfa", "body": "KS",
                         "held_on": "2022-01-01"})
        assert time.monotonic() - started < BOUND
        ledger.close()
        assert Ledger(env=persistence_env(settings, schema=schema)).max_position() == head
