"""Several service processes on one PostgreSQL database: exactly one projector and one sealer
at work, handed over within seconds when their process is killed, nothing lost."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import structlog
import uvicorn

from api import cli
from api.accounts import AccountStore
from api.app import prepare_store
from ledger.application import Ledger
from ledger.integrity.log import IntegrityLog
from ledger.leadership import NAMESPACE
from ledger.settings import Settings, get_settings
from ledger.storage import persistence_env
from projections.queries import ReadModels
from tests.api.processes import Served, scratch_database, serve, wait_ready
from tests.ledger.world import world

TAKE_OVER_SECONDS = 5.0


def until(condition: Callable[[], Any], within: float) -> Any:
    """The first truthy ``condition()`` within ``within`` seconds, else None."""
    deadline = time.monotonic() + within
    while True:
        found = condition()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """``samsyn serve`` configures the process's logging (caching loggers on first use); put
    the tests' configuration back afterwards, so that later tests can capture log lines."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.mark.usefixtures("logging_restored")
def test_an_sqlite_ledger_is_served_by_one_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SAMSYN_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn was started"))
    get_settings.cache_clear()
    try:
        assert cli.main(["serve", "--workers", "3"]) == 2
    finally:
        get_settings.cache_clear()

    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("samsyn: --workers 3 needs PostgreSQL")


@pytest.mark.usefixtures("logging_restored")
def test_workers_are_uvicorn_processes_each_making_the_service_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    with scratch_database() as url:
        monkeypatch.setenv("SAMSYN_DATABASE_URL", url)
        monkeypatch.setenv("SAMSYN_SIGNING_KEY_PATH", str(tmp_path / "signing.key"))
        monkeypatch.setenv("SAMSYN_DEMO_ON_EMPTY", "true")
        get_settings.cache_clear()
        try:
            assert cli.main(["serve", "--workers", "4", "--port", "8124", "--no-demo"]) == 0
        finally:
            get_settings.cache_clear()

        [(app, options)] = calls
        assert app == "api.app:served_app" and options["factory"] is True
        assert options["workers"] == 4 and options["port"] == 8124
        assert options["timeout_worker_healthcheck"] == cli.WORKER_START_SECONDS
        # The parent made the store and the key once; the workers load no demo.
        with psycopg.connect(url) as conn:
            tables = {name for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'public'").fetchall()}
        assert {"samsyn_events", "samsyn_integrity_leaves", "rm_tracking"} <= tables
        assert (tmp_path / "signing.key").exists()
        assert os.environ["SAMSYN_DEMO_ON_EMPTY"] == "false"


class Writer(threading.Thread):
    """Registers organisations through whichever processes answer, one after the other,
    keeping the ref and ledger position of every 201."""

    def __init__(self, processes: list[Served], token: str) -> None:
        super().__init__(daemon=True)
        self.processes = processes
        self.headers = {"Authorization": f"Bearer {token}"}
        self.written: list[tuple[str, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        number = 0
        while not self.stop.is_set():
            served = self.processes[number % len(self.processes)]
            number += 1
            if served.process.poll() is not None:
                continue
            ref = f"Org{number}"
            try:
                answer = httpx.post(f"{served.url}/v1/organisations", headers=self.headers,
                                    timeout=10, json={"ref": ref, "name": f"Organisation {number}",
                                                      "kind": "other",
                                                      "registered_on": "2024-01-01"})
            except httpx.HTTPError:
                continue  # the process was killed under the request
            assert answer.status_code == 201, answer.text
            position = int(answer.headers["X-Samsyn-Position"])
            assert answer.json()["ledger_position"] == position
            self.written.append((ref, position))

    def wait_for(self, count: int) -> None:
        assert until(lambda: len(self.written) >= count, 60), "the writer made no progress"


def leaders(processes: list[Served], role: str) -> list[Served]:
    return [p for p in processes if p.process.poll() is None
            and ((p.ready() or {}).get("roles") or {}).get(role) == "leader"]  # type: ignore[union-attr]


def leadership_locks(url: str) -> int:
    with psycopg.connect(url) as conn:
        [(count,)] = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = hashtext(%s)::oid AND objsubid = 2", (NAMESPACE,)).fetchall()
    return int(count)


def test_three_processes_run_one_projector_and_one_sealer_and_survive_a_kill_minus_9(
    tmp_path: Path,
) -> None:
    with scratch_database() as url:
        settings = Settings(database_url=url, demo_on_empty=False,
                            signing_key_path=tmp_path / "signing.key",
                            log_origin="test.samsyn.example/processes")
        prepare_store(settings)
        token = AccountStore(settings).create("admin", "admin", [])
        env = {"SAMSYN_DATABASE_URL": url,
               "SAMSYN_SIGNING_KEY_PATH": str(settings.signing_key_path),
               "SAMSYN_LOG_ORIGIN": "test.samsyn.example/processes",
               "SAMSYN_LEADER_POLL_INTERVAL": "0.5", "SAMSYN_CHECKPOINT_INTERVAL": "1"}
        processes = [serve(tmp_path, f"api-{n}", env) for n in range(3)]
        writer = Writer(processes, token)
        try:
            for served in processes:
                wait_ready(served)
            # Exactly one of the three leads each role; PostgreSQL holds exactly two locks.
            assert len(leaders(processes, "projector")) == 1
            assert len(leaders(processes, "sealer")) == 1
            assert leadership_locks(url) == 2
            roles = [p.ready()["roles"] for p in processes]  # type: ignore[index]
            assert sorted(r["projector"] for r in roles) == ["leader", "standby", "standby"]  # type: ignore[index]

            writer.start()
            writer.wait_for(10)
            [victim] = leaders(processes, "projector")
            victim.kill()
            killed_at = time.monotonic()
            survivors = [p for p in processes if p is not victim]

            successor = until(lambda: leaders(survivors, "projector"), TAKE_OVER_SECONDS)
            took = time.monotonic() - killed_at
            assert successor, f"no projector leader {TAKE_OVER_SECONDS} s after the kill"
            assert until(lambda: leaders(survivors, "sealer"), TAKE_OVER_SECONDS)
            assert took <= TAKE_OVER_SECONDS
            written = len(writer.written)
            writer.wait_for(written + 10)
        finally:
            writer.stop.set()
            writer.join(15)
        try:
            assert len(leaders(survivors, "projector")) == 1
            assert len(leaders(survivors, "sealer")) == 1
            assert leadership_locks(url) == 2

            # Every 201, before, during and after the switch, is in the read models of
            # every survivor when read with its position.
            headers = {"Authorization": f"Bearer {token}"}
            for number, (ref, position) in enumerate(writer.written):
                served = survivors[number % len(survivors)]
                answer = httpx.get(f"{served.url}/v1/audit-trail", headers=headers, timeout=30,
                                   params={"kind": "organisation", "ref": ref,
                                           "min_position": position})
                assert answer.status_code == 200, answer.text
                assert [e["position"] for e in answer.json()] == [position]

            # Nothing applied or sealed twice, nothing left out.
            with psycopg.connect(url) as conn:
                [(events,)] = conn.execute("SELECT count(*) FROM samsyn_events").fetchall()
            head = max(position for _, position in writer.written)
            trail = httpx.get(f"{survivors[0].url}/v1/audit-trail", headers=headers, timeout=30,
                              params={"limit": 500, "min_position": head}).json()
            positions = [e["position"] for e in trail]
            assert len(positions) == len(set(positions)) == events

            def sealed() -> bool:
                with psycopg.connect(url) as conn:
                    [(leaves, distinct)] = conn.execute(
                        "SELECT count(*), count(DISTINCT position)"
                        " FROM samsyn_integrity_leaves").fetchall()
                return bool(leaves == distinct == events)

            assert until(sealed, 30)
        finally:
            for served in processes:
                served.stop()


def holders(url: str, role: str) -> list[int]:
    """Process ids (as PostgreSQL's clients name them) holding ``role``'s leadership."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2"
            " AND l.classid = hashtext(%s)::oid AND a.application_name LIKE %s",
            (NAMESPACE, f"samsyn {role} %")).fetchall()
    return [int(name.rsplit(":", 1)[1]) for (name,) in rows]


def test_project_and_seal_processes_stand_by_and_take_over(tmp_path: Path) -> None:
    """``samsyn project`` and ``samsyn seal`` as their own processes, two of each, as the
    Kubernetes manifests run them."""
    with scratch_database() as url:
        settings = Settings(database_url=url, demo_on_empty=False,
                            signing_key_path=tmp_path / "signing.key",
                            log_origin="test.samsyn.example/processes")
        prepare_store(settings)
        env = {**os.environ, "SAMSYN_DATABASE_URL": url, "SAMSYN_LOG_FORMAT": "json",
               "SAMSYN_SIGNING_KEY_PATH": str(settings.signing_key_path),
               "SAMSYN_LOG_ORIGIN": "test.samsyn.example/processes",
               "SAMSYN_LEADER_POLL_INTERVAL": "0.5"}
        started = {(role, n): subprocess.Popen(
            [sys.executable, "-m", "api.cli", role], env=env, cwd=tmp_path,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for role in ("project", "seal") for n in range(2)}
        ledger = Ledger(env=persistence_env(settings))
        models = ReadModels(settings)
        try:
            for role in ("projector", "sealer"):
                assert until(lambda role=role: len(holders(url, role)) == 1, 60)  # type: ignore[misc]
            [leader] = holders(url, "projector")
            [victim] = [p for p in started.values() if p.pid == leader]
            victim.kill()
            victim.wait(10)
            successor = until(lambda: holders(url, "projector"), TAKE_OVER_SECONDS)
            assert successor and successor != [leader]

            world(ledger)
            head = ledger.max_position()
            assert until(lambda: models.position() >= head, 60)
            with IntegrityLog(settings) as integrity:
                assert until(lambda: integrity.sealed_position >= head, 60)
        finally:
            models.close()
            ledger.close()
            for process in started.values():
                process.terminate()
                process.wait(15)


def test_serve_with_workers_runs_that_many_processes_with_one_projector_among_them(
    tmp_path: Path,
) -> None:
    with scratch_database() as url:
        env = {"SAMSYN_DATABASE_URL": url, "SAMSYN_SIGNING_KEY_PATH": str(tmp_path / "key"),
               "SAMSYN_LOG_ORIGIN": "test.samsyn.example/workers"}
        served = serve(tmp_path, "workers", env, "--workers", "2")
        try:
            wait_ready(served)
            seen: dict[str, dict[str, str]] = {}

            def both_answered() -> bool:
                answer = served.ready()
                if answer is not None:
                    seen[str(answer["process"])] = answer["roles"]  # type: ignore[assignment]
                return len(seen) == 2

            assert until(both_answered, 60), f"only {sorted(seen)} answered"
            pids = {int(name.rsplit(":", 1)[1]) for name in seen}
            assert served.process.pid not in pids  # the parent only supervises
            for role in ("projector", "sealer"):
                assert until(lambda role=role: len(holders(url, role)) == 1, 30)  # type: ignore[misc]
                assert set(holders(url, role)) <= pids
        finally:
            served.stop()
