"""SIGTERM stops ``samsyn serve`` and ``samsyn import`` within 10 seconds, whatever is in
flight, and an import cut short leaves nothing half-written (all or nothing)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from bench.synthetic import generate
from ledger.application import Ledger
from ledger.importing import parse_lines, read_file, record_lines
from ledger.settings import Settings
from ledger.storage import persistence_env
from tests.backends import POSTGRES_URL, require_postgres

SAMSYN = [sys.executable, "-m", "api.cli"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def environment(backend: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a samsyn process on a fresh database of its own."""
    env = dict(os.environ, SAMSYN_SIGNING_KEY_PATH=str(tmp_path / "signing.key"),
               SAMSYN_LOG_FORMAT="json", SAMSYN_DEMO_ON_EMPTY="false")
    if backend == "sqlite":
        yield env | {"SAMSYN_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}"}
        return
    require_postgres()
    name = f"samsyn_stop_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield env | {"SAMSYN_DATABASE_URL": POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"}
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def import_file(tmp_path: Path) -> tuple[Path, int]:
    """A file of commands that takes the ledger seconds to check and write."""
    path = tmp_path / "history.jsonl"
    lines = [json.dumps(command) for command in generate(30_000, seed=3)]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path, len(lines)


def recorded(env: dict[str, str]) -> int:
    ledger = Ledger(env=persistence_env(Settings(database_url=env["SAMSYN_DATABASE_URL"])))
    try:
        return ledger.max_position()
    finally:
        ledger.close()


def stops_within_ten_seconds(process: subprocess.Popen[Any]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail("SIGTERM did not stop the process within 10 s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sigterm_stops_an_import_within_10_s_and_nothing_is_written(
    environment: dict[str, str], import_file: tuple[Path, int]
) -> None:
    path, _ = import_file
    process = subprocess.Popen([*SAMSYN, "import", str(path)], env=environment, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)  # reading, checking or writing: it is all one transaction
    status = stops_within_ten_seconds(process)
    assert recorded(environment) == 0
    assert process.stderr is not None
    if status == 143:  # stopped by Samsyn's handler, not before it was installed
        assert "nothing was written" in process.stderr.read()
    else:
        assert status == -signal.SIGTERM


def test_sigterm_stops_the_service_within_10_s_with_an_import_in_flight(
    environment: dict[str, str], import_file: tuple[Path, int], tmp_path: Path
) -> None:
    path, lines = import_file
    token = subprocess.run([*SAMSYN, "token", "create", "importer", "--role", "admin"],
                           env=environment, cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.strip()
    port = free_port()
    process = subprocess.Popen([*SAMSYN, "serve", "--port", str(port)], env=environment,
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        answers: list[Any] = []

        def send() -> None:
            try:
                answers.append(httpx.post(
                    f"{base}/v1/import", content=path.read_bytes(), timeout=120,
                    headers={"Authorization": f"Bearer {token}",
                             "Content-Type": "application/x-ndjson"}))
            except httpx.TransportError as e:
                answers.append(e)

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(3)  # the import is being parsed, checked or written
        stops_within_ten_seconds(process)
        sender.join(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    answer = answers[0] if answers else None
    if isinstance(answer, httpx.Response) and answer.status_code == 201:  # done in the grace
        assert recorded(environment) == answer.json()["last_position"]
        assert answer.json()["commands"] == lines
    else:  # abandoned, or committed as the answer was cut off: all or nothing either way
        assert recorded(environment) in (0, entries_of_the_whole(path, tmp_path))


def entries_of_the_whole(path: Path, tmp_path: Path) -> int:
    """How many entries the whole file makes, recorded on a ledger of its own."""
    ledger = Ledger(env=persistence_env(Settings(
        database_url=f"sqlite:///{tmp_path / 'whole.sqlite3'}")))
    try:
        record_lines(ledger, parse_lines(read_file(path)), "test")
        return ledger.max_position()
    finally:
        ledger.close()
