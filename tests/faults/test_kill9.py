"""kill -9 of the service, the projector and the sealer, each its own process, while
registrars write: nothing acknowledged is lost or written twice, no 5xx but 503, the read
models catch up with the ledger, and the integrity log verifies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.faults.harness import (
    Processes,
    Registrars,
    assert_nothing_lost,
    read_feed,
    reference_data,
    report,
    scratch_cluster,
    wait_for,
)

ROUNDS = 2
REGISTRARS = 6


@contextmanager
def database(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database only these processes use (they work on its default schema)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
        return
    with scratch_cluster() as cluster:
        yield cluster.url


def caught_up(url: str) -> bool:
    try:
        response = httpx.get(f"{url}/ready", timeout=5)
    except httpx.TransportError:
        return False
    body = response.json()
    return response.status_code == 200 and body["read_models"] == body["head"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_kill_9_under_write_load_loses_nothing(backend: str, tmp_path: Path) -> None:
    with database(backend, tmp_path) as url:
        processes = Processes(url, tmp_path)
        created = processes.samsyn("token", "create", "registrar", "--role", "admin")
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip()
        processes.start_all()
        try:
            shared = reference_data(processes.url, token)
            with Registrars(processes.url, token, REGISTRARS, shared) as registrars:
                for _ in range(ROUNDS):
                    for name in ("serve", "project", "seal"):
                        time.sleep(1.5)
                        processes.kill(name)
                time.sleep(1.5)
            wait_for(lambda: caught_up(processes.url), "the read models' catching up")
            findings = read_feed(processes.url, token, registrars.tally)
        finally:
            processes.stop_all()
        verified = processes.samsyn("verify", "--live")
        status = processes.samsyn("status")

    report(f"kill -9 ({backend})", registrars.tally, findings, kills=processes.kills,
           head=findings.head)
    assert_nothing_lost(registrars.tally, findings)
    assert status.returncode == 0, status.stderr
    assert verified.returncode == 0, verified.stdout + verified.stderr
