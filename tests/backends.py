"""Test storage: a fresh SQLite file or a fresh PostgreSQL schema per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from ledger.settings import Settings

POSTGRES_URL = os.environ.get("SAMSYN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgres"]
REQUIRE_POSTGRES = os.environ.get("SAMSYN_REQUIRE_POSTGRES", "") not in ("", "0", "false")


def postgres_unavailable() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as e:
        return f"PostgreSQL at {POSTGRES_URL} is unreachable ({e.__class__.__name__}: {e})".strip()
    return None


def require_postgres() -> None:
    """Skip (with the reason) when PostgreSQL is unreachable; fail instead under CI."""
    reason = postgres_unavailable()
    if reason is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"SAMSYN_REQUIRE_POSTGRES is set but {reason}")
        pytest.skip(reason)


@contextmanager
def storage(backend: str, tmp_path: Path) -> Iterator[tuple[Settings, str | None]]:
    """Settings for a fresh, empty ledger on ``backend``, and the PostgreSQL schema if any."""
    if backend == "sqlite":
        yield Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}"), None
        return
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield Settings(database_url=POSTGRES_URL,
                       signing_key_path=tmp_path / "signing.key"), schema
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
