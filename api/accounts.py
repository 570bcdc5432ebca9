"""Accounts and their bearer tokens, kept hashed beside the ledger (not in it: they are
operational data, not acts of governance)."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import psycopg

from ledger.database import Database
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
    """Accounts in the ledger's database (the SQLite file, or the PostgreSQL schema), reached
    through the one database helper: a database that cannot be reached is
    :class:`~ledger.errors.StoreUnavailable` (503 with Retry-After), as everywhere.

    Every token is looked up when it is used (an indexed read of one row): a revocation
    takes effect at once, in every process, and no cache of tokens grows.
    """

    TABLE = "samsyn_accounts"

    def __init__(self, settings: Settings, schema: str | None = None) -> None:
        self.settings = settings
        self.database = Database(settings, name="samsyn-accounts",
                                 what="the accounts' database", schema=schema,
                                 max_connections=max(2, settings.db_pool_size // 2))
        with self.database.transaction(write=True) as tx:
            tx.execute(
                f"CREATE TABLE IF NOT EXISTS {tx.table(self.TABLE)} (name TEXT PRIMARY KEY,"
                " role TEXT NOT NULL, organisations TEXT NOT NULL,"
                " token_sha256 TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, revoked_at TEXT)"
            )

    def close(self) -> None:
        self.database.close()

    def __del__(self) -> None:
        # A store made for one call (the command line, a test's set-up) gives back its
        # connections when dropped, not when the process ends.
        if hasattr(self, "database"):
            self.database.close()

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
            with self.database.transaction(write=True) as tx:
                tx.execute(
                    f"INSERT INTO {tx.table(self.TABLE)} (name, role, organisations,"
                    " token_sha256, created_at) VALUES (?, ?, ?, ?, ?)",
                    (name, role, json.dumps(sorted(organisations)), token_hash(token),
                     datetime.now(tz=UTC).isoformat()),
                )
        except (sqlite3.IntegrityError, psycopg.errors.UniqueViolation):
            raise AlreadyRecorded(f"an account {name!r} exists",
                                  [Problem("name", "already taken")]) from None
        return token

    def revoke(self, name: str) -> bool:
        with self.database.transaction(write=True) as tx:
            rows = tx.query(
                f"UPDATE {tx.table(self.TABLE)} SET revoked_at = ?"
                " WHERE name = ? AND revoked_at IS NULL RETURNING name",
                (datetime.now(tz=UTC).isoformat(), name),
            )
        return bool(rows)

    def list(self) -> list[tuple[str, str, list[str], bool]]:
        with self.database.transaction(write=False) as tx:
            rows = tx.query(f"SELECT name, role, organisations, revoked_at"
                            f" FROM {tx.table(self.TABLE)} ORDER BY name")
        return [(r[0], r[1], json.loads(r[2]), r[3] is not None) for r in rows]

    def authenticate(self, token: str) -> Account | None:
        """The live account holding ``token`` (None if there is none, or it is revoked)."""
        with self.database.transaction(write=False) as tx:
            rows = tx.query(
                f"SELECT name, role, organisations FROM {tx.table(self.TABLE)}"
                " WHERE token_sha256 = ? AND revoked_at IS NULL",
                (token_hash(token),),
            )
        if not rows:
            return None
        return Account(rows[0][0], rows[0][1], frozenset(json.loads(rows[0][2])))
