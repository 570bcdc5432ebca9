"""An SQLite ledger: its file never vanishes unnoticed, one service writes it, and a
connection that went bad is never used again. (PostgreSQL has none of these: its server
keeps the data, several services may share it, its pool drops broken connections.)"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ledger.application import Ledger
from ledger.errors import StoreUnavailable
from ledger.integrity.log import IntegrityLog
from ledger.settings import Settings
from ledger.storage import persistence_env
from tests.ledger.world import run, world


def settings_for(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}", demo_on_empty=False)


def samsyn(settings: Settings, *args: str) -> subprocess.Popen[str]:
    env = os.environ | {"SAMSYN_DATABASE_URL": settings.database_url,
                        "SAMSYN_DEMO_ON_EMPTY": "false", "SAMSYN_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "api.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_deleted_ledger_file_is_an_error_not_a_new_ledger(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    ledger = Ledger(env=persistence_env(settings))
    world(ledger)
    IntegrityLog(settings, ledger=ledger).close()  # the first start makes the signing key
    ledger.close()
    settings.sqlite_path.unlink()

    with pytest.raises(StoreUnavailable, match="is missing but its signing key"):
        Ledger(env=persistence_env(settings))
    served = samsyn(settings, "serve", "--port", str(free_port()))
    _, err = served.communicate(timeout=120)

    assert served.returncode == 1
    assert err.strip().startswith("samsyn: the ledger file")
    assert len(err.strip().splitlines()) == 1
    assert not settings.sqlite_path.exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_second_service_on_one_sqlite_file_refuses_to_start(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    port = free_port()
    first = samsyn(settings, "serve", "--port", str(port))
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)

        second = samsyn(settings, "serve", "--port", str(free_port()))
        _, err = second.communicate(timeout=120)

        assert second.returncode == 1
        assert err.strip() == (
            f"samsyn: another samsyn service (process {first.pid}) is using the ledger "
            f"{settings.sqlite_path}; one service per SQLite file (use PostgreSQL for several)"
        )
        assert first.poll() is None
    finally:
        first.terminate()
        first.communicate(timeout=60)


def test_a_connection_that_went_read_only_is_dropped_not_pooled_again(tmp_path: Path) -> None:
    """Connections opened while the file could not be written stay read-only; each is
    closed on its first failure, so writes succeed again once the file is right."""
    ledger = Ledger(env=persistence_env(settings_for(tmp_path)))
    world(ledger)
    pool = ledger.recorder.datastore.pool
    bad = len(pool._pool)
    for conn in pool._pool:
        conn._sqlite_conn.execute("PRAGMA query_only = ON")  # as if opened read-only

    outcomes = []
    for n in range(bad + 5):
        try:
            run(ledger, {"type": "HoldMeeting", "organisation": "Alfa", "body": "KS",
                         "held_on": f"2022-01-{n + 1:02d}"})
            outcomes.append("written")
        except StoreUnavailable:
            outcomes.append("refused")
    ledger.close()

    assert bad >= 1 and "refused" in outcomes
    assert outcomes.count("refused") <= bad
    assert outcomes[-5:] == ["written"] * 5
