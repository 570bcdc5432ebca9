"""Real ``samsyn serve`` processes on loopback, and PostgreSQL databases of their own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from tests.backends import POSTGRES_URL, require_postgres


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_url(url: str, name: str) -> str:
    """``url`` with its database replaced by ``name``."""
    return url.rsplit("/", 1)[0] + "/" + name


@contextmanager
def scratch_database(server_url: str = POSTGRES_URL) -> Iterator[str]:
    """A new, empty PostgreSQL database (processes cannot be given a schema, only a URL),
    dropped afterwards."""
    require_postgres()
    name = f"samsyn_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Served:
    """One ``samsyn serve`` process."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def ready(self) -> dict[str, object] | None:
        """``/ready``'s answer, or None if it is not ready (or not answering)."""
        try:
            answer = httpx.get(f"{self.url}/ready", timeout=5)
        except httpx.HTTPError:
            return None
        return answer.json() if answer.status_code == 200 else None

    def kill(self) -> None:
        """``kill -9``: no shutdown, no release of anything."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def serve(directory: Path, name: str, env: dict[str, str], *args: str) -> Served:
    """Start ``samsyn serve --no-demo`` on a free loopback port with ``env`` added."""
    port = free_port()
    log = directory / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--no-demo", "--host", "127.0.0.1",
             "--port", str(port), *args],
            env={**os.environ, "SAMSYN_LOG_FORMAT": "json", **env},
            stdout=out, stderr=subprocess.STDOUT, cwd=directory,
        )
    return Served(name, process, f"http://127.0.0.1:{port}", log)


def wait_ready(served: Served, within: float = 60.0) -> dict[str, object]:
    """``/ready``'s answer once the process is ready; fails with its log if it never is."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            break
        answer = served.ready()
        if answer is not None:
            return answer
        time.sleep(0.2)
    raise AssertionError(f"{served.name} never became ready:\n{served.log.read_text()[-3000:]}")
