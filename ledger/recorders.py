"""The ledger's recorders: the library's, writing under the ledger's lock with idempotency keys.

Every write of the ledger goes through :meth:`insert_stamped` of one of these two recorders.
In one transaction it takes the ledger's lock (PostgreSQL: the library's EXCLUSIVE table
lock; SQLite: the database's write lock, ``BEGIN IMMEDIATE``), reads the recorded time of
the entry stored last, stamps the new entries (see ``ledger/stamping.py``), inserts them,
and records the idempotency keys that guard them. So a key is stored if and only if the
entries it guards are, and keys are client bookkeeping beside the ledger: never entries,
never in the feed, never sealed. A key is scoped by the account that used it, as two
columns, so no pair of account and key can pass for another.

Large writes are streamed, never sent as one statement: PostgreSQL receives them with
``COPY`` in chunks (each chunk one statement, within the statement timeout), SQLite with
``executemany``. The positions a write received are read back under the lock it still
holds, so they are exactly its own.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
import psycopg.errors
from eventsourcing.persistence import IntegrityError, OperationalError
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
from psycopg.sql import SQL, Identifier

from ledger.errors import Problem, StoreUnavailable, WriteTimedOut
from ledger.stamping import Unstamped, next_recorded_time, recorded_time, stamp_text

#: The table of idempotency keys, beside the ledger's events.
IDEMPOTENCY_TABLE = "samsyn_idempotency"

#: Rows per ``COPY`` statement of a large PostgreSQL write.
COPY_CHUNK = 10_000

#: Writes of more rows than this go through ``COPY`` instead of one ``INSERT``.
COPY_ABOVE = 500

#: Bytes of a stored state read back to find its recorded time.
HEAD_BYTES = 100


@dataclass(frozen=True)
class IdempotencyClaim:
    """A client's key for a write: the commands it guards and their spans of the rows."""

    account: str
    key: str
    command_type: str
    command_hash: str
    spans: Sequence[tuple[int, int]]  # each command's rows, as [begin, end) of the write

    def positions(self, written: Sequence[int]) -> str:
        return json.dumps([written[b:e] for b, e in self.spans], separators=(",", ":"))


@dataclass(frozen=True)
class StoredClaim:
    """A key as stored: what it guarded and the positions of each command's entries."""

    command_type: str
    command_hash: str
    positions: list[list[int]]


def _too_slow(error: Exception) -> StoreUnavailable:
    """A write cancelled by the statement timeout, or one that waited too long for the lock
    (the ledger busy with another write: nothing about this one was wrong)."""
    if isinstance(error, psycopg.errors.LockNotAvailable):
        return StoreUnavailable(
            "the ledger is busy: another write held its lock too long; nothing was written")
    return WriteTimedOut(
        "the write took too long and was cancelled; nothing was written",
        [Problem("command", f"the database cancelled it: {str(error).strip()}")],
    )


class PostgresLedgerRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder, writing stamped entries with their keys."""

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self._keys = SQL("{}.{}").format(
            Identifier(self.datastore.schema), Identifier(IDEMPOTENCY_TABLE))
        self._events = SQL("{}.{}").format(
            Identifier(self.datastore.schema), Identifier(self.events_table_name))
        self.sql_create_statements.append(SQL(
            "CREATE TABLE IF NOT EXISTS {} (account text NOT NULL, key text NOT NULL, "
            "command_type text NOT NULL, command_hash text NOT NULL, positions text NOT NULL, "
            "PRIMARY KEY (account, key))"
        ).format(self._keys))

    def insert_stamped(
        self,
        rows: Sequence[Unstamped],
        clock: Callable[[], datetime],
        *,
        idempotency: Sequence[IdempotencyClaim] = (),
        **_: Any,
    ) -> tuple[list[int], datetime]:
        """Write ``rows`` stamped under the ledger's lock; answer positions and the time."""
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            try:
                curs.execute(SQL(
                    "SET LOCAL lock_timeout = '{}s'; LOCK TABLE {} IN EXCLUSIVE MODE; "
                    "SELECT notification_id, substring(state from 1 for {}) AS head "
                    "FROM {} ORDER BY notification_id DESC LIMIT 1"
                ).format(self.datastore.lock_timeout, self._events, HEAD_BYTES, self._events))
                while curs.nextset():
                    pass
                last = curs.fetchone()
                at = next_recorded_time(clock, recorded_time(bytes(last["head"]) if last else None))
                text = stamp_text(at)
                if len(rows) > COPY_ABOVE:
                    positions = self._copy(curs, rows, text, last["notification_id"] if last else 0)
                else:
                    positions = self._insert(curs, rows, text)
                if idempotency:
                    curs.executemany(
                        SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s)").format(self._keys),
                        [(c.account, c.key, c.command_type, c.command_hash,
                          c.positions(positions)) for c in idempotency],
                    )
                self._notify_channel(curs)
            except (psycopg.errors.QueryCanceled, psycopg.errors.LockNotAvailable) as e:
                raise _too_slow(e) from None
        return positions, at

    def _insert(self, curs: Any, rows: Sequence[Unstamped], text: bytes) -> list[int]:
        curs.execute(self.insert_events_statement, ([
            self.construct_pg_stored_event(r.originator_id, r.originator_version, r.topic,
                                           r.stamped(text))
            for r in rows
        ],))
        return [row["notification_id"] for row in curs.fetchall()]

    def _copy(self, curs: Any, rows: Sequence[Unstamped], text: bytes, after: int) -> list[int]:
        statement = SQL(
            "COPY {} (originator_id, originator_version, topic, state) FROM STDIN (FORMAT BINARY)"
        ).format(self._events)
        for begin in range(0, len(rows), COPY_CHUNK):
            with curs.copy(statement) as copy:
                copy.set_types(["uuid", "int8", "text", "bytea"])
                for r in rows[begin:begin + COPY_CHUNK]:
                    copy.write_row((r.originator_id, r.originator_version, r.topic,
                                    r.stamped(text)))
        curs.execute(SQL(
            "SELECT notification_id FROM {} WHERE notification_id > %s ORDER BY notification_id"
        ).format(self._events), (after,))
        positions = [row["notification_id"] for row in curs.fetchall()]
        if len(positions) != len(rows):  # pragma: no cover - the lock keeps others out
            msg = f"wrote {len(rows)} entries but found {len(positions)} after position {after}"
            raise IntegrityError(msg)
        return positions

    def existing(self, ids: Collection[UUID]) -> set[UUID]:
        """Which of these aggregate ids have stored events."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(SQL(
                "SELECT DISTINCT originator_id FROM {} WHERE originator_id = ANY(%s)"
            ).format(self._events), (list(ids),))
            return {row["originator_id"] for row in curs.fetchall()}

    def idempotency_claim(self, account: str, key: str) -> StoredClaim | None:
        """What ``account`` recorded under ``key``, if anything."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(SQL(
                "SELECT command_type, command_hash, positions FROM {} "
                "WHERE account = %s AND key = %s"
            ).format(self._keys), (account, key), prepare=True)
            row = curs.fetchone()
        if row is None:
            return None
        return StoredClaim(row["command_type"], row["command_hash"],
                           json.loads(row["positions"]))

    def positions_of(self, entries: Sequence[tuple[UUID, int]]) -> dict[tuple[UUID, int], int]:
        """Notification ids (positions) of stored events given by aggregate id and version."""
        if not entries:
            return {}
        statement = SQL(
            "SELECT originator_id, originator_version, notification_id FROM {} "
            "WHERE (originator_id, originator_version) IN ({})"
        ).format(self._events, SQL(", ").join([SQL("(%s, %s)")] * len(entries)))
        params = [v for entry in entries for v in entry]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params)
            return {
                (row["originator_id"], row["originator_version"]): row["notification_id"]
                for row in curs.fetchall()
            }

    def originators_after(self, position: int, limit: int) -> list[tuple[int, UUID]]:
        """Position and aggregate id of the entries stored after ``position``, oldest first
        (at most ``limit``): what changed since, without the events' content."""
        statement = SQL(
            "SELECT notification_id, originator_id FROM {} "
            "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(self._events)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (position, limit), prepare=True)
            return [(row["notification_id"], row["originator_id"]) for row in curs.fetchall()]


class SQLiteLedgerRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, writing stamped entries with their keys."""

    def __init__(
        self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name)
        self.create_table_statements.append(
            f"CREATE TABLE IF NOT EXISTS {IDEMPOTENCY_TABLE} (account TEXT NOT NULL, "
            "key TEXT NOT NULL, command_type TEXT NOT NULL, command_hash TEXT NOT NULL, "
            "positions TEXT NOT NULL, PRIMARY KEY (account, key))"
        )

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """One write transaction holding the database's write lock from its start."""
        with self.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")
                yield cursor
                conn.commit()
            except sqlite3.IntegrityError as e:
                conn.rollback()
                raise IntegrityError(str(e)) from e
            except sqlite3.OperationalError as e:
                conn.rollback()
                conn.close()  # not pooled again (see SQLiteLedgerDatastore in storage.py)
                raise OperationalError(str(e)) from e
            except BaseException:
                conn.rollback()
                raise

    def insert_stamped(
        self,
        rows: Sequence[Unstamped],
        clock: Callable[[], datetime],
        *,
        idempotency: Sequence[IdempotencyClaim] = (),
        **_: Any,
    ) -> tuple[list[int], datetime]:
        """Write ``rows`` stamped under the write lock; answer positions and the time."""
        table = self.events_table_name
        with self._write() as c:
            c.execute(f"SELECT rowid, substr(state, 1, {HEAD_BYTES}) FROM {table} "
                      "ORDER BY rowid DESC LIMIT 1")
            last = c.fetchone()
            at = next_recorded_time(clock, recorded_time(last[1] if last else None))
            text = stamp_text(at)
            c.executemany(self.insert_events_statement, (
                (r.originator_id.hex, r.originator_version, r.topic, r.stamped(text))
                for r in rows
            ))
            c.execute(f"SELECT rowid FROM {table} WHERE rowid > ? ORDER BY rowid",
                      (last[0] if last else 0,))
            positions = [row[0] for row in c.fetchall()]
            if idempotency:
                c.executemany(
                    f"INSERT INTO {IDEMPOTENCY_TABLE} VALUES (?, ?, ?, ?, ?)",
                    [(k.account, k.key, k.command_type, k.command_hash, k.positions(positions))
                     for k in idempotency],
                )
        return positions, at

    def existing(self, ids: Collection[UUID]) -> set[UUID]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT DISTINCT originator_id FROM {self.events_table_name} "
                      "WHERE originator_id IN (SELECT value FROM json_each(?))",
                      (json.dumps([i.hex for i in ids]),))
            return {UUID(row[0]) for row in c.fetchall()}

    def idempotency_claim(self, account: str, key: str) -> StoredClaim | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT command_type, command_hash, positions FROM {IDEMPOTENCY_TABLE} "
                      "WHERE account = ? AND key = ?", (account, key))
            row = c.fetchone()
        if row is None:
            return None
        return StoredClaim(row[0], row[1], json.loads(row[2]))

    def positions_of(self, entries: Sequence[tuple[UUID, int]]) -> dict[tuple[UUID, int], int]:
        result: dict[tuple[UUID, int], int] = {}
        with self.datastore.transaction(commit=False) as c:
            for originator_id, version in entries:
                c.execute(
                    f"SELECT rowid FROM {self.events_table_name} "
                    "WHERE originator_id=? AND originator_version=?",
                    (originator_id.hex, version),
                )
                row = c.fetchone()
                if row is not None:
                    result[(originator_id, version)] = row[0]
        return result

    def originators_after(self, position: int, limit: int) -> list[tuple[int, UUID]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT rowid, originator_id FROM {self.events_table_name} "
                "WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (position, limit),
            )
            return [(row[0], UUID(row[1])) for row in c.fetchall()]
