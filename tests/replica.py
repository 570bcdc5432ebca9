"""A real PostgreSQL streaming replica on loopback, made for a test and torn down after it.

A scratch primary cluster (``initdb``, ``wal_level=replica``, replication trusted from
loopback) on a free port in a temporary directory, and a hot standby made from it with
``pg_basebackup -R`` in another, started on a third port. The server binaries come from
``/usr/lib/postgresql/<version>/bin``; without them the test is skipped with the reason,
and fails instead under ``SAMSYN_REQUIRE_POSTGRES`` (CI). The servers run as the
``postgres`` user when the tests run as root (PostgreSQL refuses root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.api.processes import free_port
from tests.backends import REQUIRE_POSTGRES

NEEDED = ("initdb", "pg_ctl", "pg_basebackup", "postgres")


def server_binaries() -> Path | None:
    """The newest PostgreSQL server binary directory holding everything needed, if any."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                   key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    for directory in reversed(found):
        if all((directory / name).exists() for name in NEEDED):
            return directory
    return None


def require_server_binaries() -> Path:
    """The binaries; skip (fail under CI) without them, or as root without a postgres user."""
    directory = server_binaries()
    reason = None
    if directory is None:
        reason = "the PostgreSQL server binaries (initdb, pg_basebackup) are not installed"
    elif os.geteuid() == 0 and not _postgres_user():
        reason = "running as root and there is no 'postgres' user to run PostgreSQL as"
    if reason is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"SAMSYN_REQUIRE_POSTGRES is set but {reason}")
        pytest.skip(reason)
    assert directory is not None
    return directory


def _postgres_user() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


@dataclass(frozen=True)
class StreamingPair:
    """URLs of the scratch primary and of its streaming replica (database ``postgres``)."""

    primary: str
    replica: str


def _run(directory: Path, *command: str) -> None:
    argv = [str(directory / command[0]), *command[1:]]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")


def _configure(data: Path, port: int, sockets: Path) -> None:
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(f"\nport = {port}\nlisten_addresses = '127.0.0.1'\n"
                   f"unix_socket_directories = '{sockets}'\nwal_level = replica\n"
                   "max_wal_senders = 4\nhot_standby = on\nfsync = off\n"
                   "full_page_writes = off\nshared_buffers = 16MB\nmax_connections = 40\n")


def _wait_accepting(url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.Error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextmanager
def streaming_pair() -> Iterator[StreamingPair]:
    """Start a scratch primary and a streaming replica of it; stop and delete both after."""
    binaries = require_server_binaries()
    base = Path(tempfile.mkdtemp(prefix="samsyn-replication-"))
    user = _postgres_user() if os.geteuid() == 0 else None
    if user is not None:
        os.chown(base, user.pw_uid, user.pw_gid)
    primary, replica = base / "primary", base / "replica"
    started: list[Path] = []
    try:
        _run(binaries, "initdb", "-D", str(primary), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--no-sync")
        primary_port, replica_port = free_port(), free_port()
        _configure(primary, primary_port, base)
        with (primary / "pg_hba.conf").open("a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        _run(binaries, "pg_ctl", "-D", str(primary), "-l", str(base / "primary.log"),
             "-w", "start")
        started.append(primary)
        primary_url = f"postgresql://postgres@127.0.0.1:{primary_port}/postgres"
        _wait_accepting(primary_url)
        _run(binaries, "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary_port),
             "-U", "postgres", "-D", str(replica), "-R", "-X", "stream", "--no-sync")
        with (replica / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {replica_port}\n")
        _run(binaries, "pg_ctl", "-D", str(replica), "-l", str(base / "replica.log"),
             "-w", "start")
        started.append(replica)
        replica_url = f"postgresql://postgres@127.0.0.1:{replica_port}/postgres"
        _wait_accepting(replica_url)
        yield StreamingPair(primary_url, replica_url)
    finally:
        for data in reversed(started):
            _run(binaries, "pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)
