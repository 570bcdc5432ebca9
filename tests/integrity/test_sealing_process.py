"""Sealing as a process of its own (``samsyn seal``), beside services that do not seal.

Given entries in the ledger, the sealing process seals them and signs checkpoints while it
runs, and on SIGTERM seals what is left, signs a last checkpoint and exits cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ledger.application import Ledger
from ledger.integrity.checkpoint import parse_and_verify_checkpoint
from ledger.integrity.log import IntegrityLog
from ledger.integrity.sealer import seal_forever
from ledger.settings import Settings
from ledger.storage import persistence_env
from tests.ledger.world import decision, run, world

ORIGIN = "samsyn.test/ledger"


def sealing_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"signing_key_path": tmp_path / "signing.key",
                                       "log_origin": ORIGIN, "checkpoint_interval": 3600.0})


def eventually(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.05)


def test_the_sealing_process_seals_while_it_runs_and_signs_on_the_way_out(
    store: tuple[Settings, str | None], ledger: Ledger, tmp_path: Path
) -> None:
    settings, schema = store
    settings = sealing_settings(settings, tmp_path)
    world(ledger)
    stop = threading.Event()
    sealing = threading.Thread(target=seal_forever, args=(settings,),
                               kwargs={"schema": schema, "stop": stop})
    sealing.start()
    try:
        with IntegrityLog(settings, schema) as log:
            eventually(lambda: log.sealed_position == ledger.max_position())
            later = run(ledger, decision("Alfa", "2021-07-01")).positions[-1]
            eventually(lambda: log.sealed_position == later)
    finally:
        stop.set()
        sealing.join(30)
    assert not sealing.is_alive()
    with IntegrityLog(settings, schema) as log:
        latest = log.latest_checkpoint()
        assert latest is not None and latest.tree_size == later
        assert parse_and_verify_checkpoint(latest.note, log.public_key).tree_size == later


def test_samsyn_seal_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    # The command seals the configured database (on PostgreSQL its public schema, which the
    # tests leave alone), so it runs here on an SQLite file; the loop it runs is the one
    # tested above on both backends.
    settings = sealing_settings(
        Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}"), tmp_path)
    ledger = Ledger(env=persistence_env(settings))
    try:
        world(ledger)
        env = os.environ | {"SAMSYN_DATABASE_URL": settings.database_url,
                            "SAMSYN_SIGNING_KEY_PATH": str(tmp_path / "signing.key"),
                            "SAMSYN_LOG_ORIGIN": ORIGIN, "SAMSYN_LOG_FORMAT": "json"}
        process = subprocess.Popen([sys.executable, "-m", "api.cli", "seal"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            with IntegrityLog(settings) as log:
                eventually(lambda: log.sealed_position == ledger.max_position())
            later = run(ledger, decision("Alfa", "2021-07-01")).positions[-1]
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output
        assert "sealer stopped" in output
        with IntegrityLog(settings) as log:
            latest = log.latest_checkpoint()
            assert latest is not None and latest.tree_size == later  # sealed on the way out
    finally:
        ledger.close()


def test_samsyn_seal_without_its_database_exits_with_one_line(tmp_path: Path) -> None:
    env = os.environ | {"SAMSYN_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none",
                        "SAMSYN_DB_CONNECT_TIMEOUT": "1",
                        "SAMSYN_SIGNING_KEY_PATH": str(tmp_path / "signing.key")}
    done = subprocess.run([sys.executable, "-m", "api.cli", "seal"], env=env, timeout=60,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("samsyn: the integrity log's database is unavailable")
    assert done.stderr.count("\n") == 1
