"""Accounts and their bearer tokens, kept hashed beside the ledger (not in it: they are
operational data, not acts of governance)."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import psycopg
from psycopg import sql

from ledger.errors import AlreadyRecorded, InvalidCommand, Problem
from ledger.settings import Settings

Role = Literal["admin", "registrar", "auditor", "reader"]
ROLES: tuple[Role, ...] = ("admin", "registrar", "auditor", "reader")
TOKEN_PREFIX = "samsyn_"


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    organisations: frozenset[str]

    @property
    def acting_for(self) -> frozenset[str] | None:
        """Whose acts the account may record: any (admin), its organisations, or none."""
        if self.role == "admin":
            return None
        if self.role == "registrar":
            return self.organisations
        return frozenset()

    @property
    def may_write(self) -> bool:
        return self.role in ("admin", "registrar")

    @property
    def sees_recorders(self) -> bool:
        """Who recorded what is shown to auditors and admins, hidden from readers."""
        return self.role in ("admin", "auditor", "registrar")


ANONYMOUS = Account("anonymous", "reader", frozenset())


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountStore:
    """Accounts in the ledger's database: SQLite file or PostgreSQL (schema optional)."""

    TABLE = "samsyn_accounts"

    def __init__(self, settings: Settings, schema: str | None = None) -> None:
        self.settings = settings
        self.schema = schema
        self._cache: dict[str, tuple[float, Account | None]] = {}
        self._execute(
            "CREATE TABLE IF NOT EXISTS {table} (name TEXT PRIMARY KEY, role TEXT NOT NULL, "
            "organisations TEXT NOT NULL, token_sha256 TEXT NOT NULL UNIQUE, "
            "created_at TEXT NOT NULL, revoked_at TEXT)"
        )

    def _execute(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.settings.is_postgres:
            table = (sql.Identifier(self.schema, self.TABLE) if self.schema
                     else sql.Identifier(self.TABLE))
            query = sql.SQL(statement.replace("?", "%s")).format(table=table)
            with psycopg.connect(self.settings.database_url,
                                 connect_timeout=self.settings.db_connect_timeout,
                                 autocommit=True) as conn:
                cursor = conn.execute(query, params)
                return list(cursor.fetchall()) if cursor.description else []
        with sqlite3.connect(self.settings.sqlite_path, timeout=5) as conn:
            rows = conn.execute(statement.format(table=self.TABLE), params).fetchall()
        return list(rows)

    def create(self, name: str, role: str, organisations: list[str]) -> str:
        """Create an account; answer its token, which is shown once and stored hashed."""
        if role not in ROLES:
            raise InvalidCommand(f"unknown role {role!r}",
                                 [Problem("role", f"one of {', '.join(ROLES)}")])
        if role == "registrar" and not organisations:
            raise InvalidCommand("a registrar acts for at least one organisation",
                                 [Problem("organisations", "name the organisations")])
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        try:
            self._execute(
                "INSERT INTO {table} (name, role, organisations, token_sha256, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, role, json.dumps(sorted(organisations)), token_hash(token),
                 datetime.now(tz=UTC).isoformat()),
            )
        except (sqlite3.IntegrityError, psycopg.errors.UniqueViolation):
            raise AlreadyRecorded(f"an account {name!r} exists",
                                  [Problem("name", "already taken")]) from None
        return token

    def revoke(self, name: str) -> bool:
        rows = self._execute(
            "UPDATE {table} SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL "
            "RETURNING name", (datetime.now(tz=UTC).isoformat(), name))
        self._cache.clear()
        return bool(rows)

    def list(self) -> list[tuple[str, str, list[str], bool]]:
        rows = self._execute(
            "SELECT name, role, organisations, revoked_at FROM {table} ORDER BY name")
        return [(r[0], r[1], json.loads(r[2]), r[3] is not None) for r in rows]

    def authenticate(self, token: str) -> Account | None:
        """The live account holding ``token``; cached briefly to keep reads cheap."""
        digest = token_hash(token)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        rows = self._execute(
            "SELECT name, role, organisations FROM {table} "
            "WHERE token_sha256 = ? AND revoked_at IS NULL", (digest,))
        account = (Account(rows[0][0], rows[0][1], frozenset(json.loads(rows[0][2])))
                   if rows else None)
        self._cache[digest] = (time.monotonic() + 30.0, account)
        return account
