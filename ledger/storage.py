"""Where the ledger is kept: SQLite (embedded default) or PostgreSQL, configured deliberately.

The library retries a lost connection ten times by default, which turns a three-second
connect timeout into half a minute per request. Samsyn's recorders retry
``db_attempts`` times instead, so a request fails within seconds when the database is down.
``POSTGRES_ENABLE_DB_FUNCTIONS`` stays off: the table lock it would drop is what keeps
notification ids in commit order for readers. The pool does not ping a connection before
each use (``POSTGRES_PRE_PING``): that doubled the round trips of every aggregate load,
45% of the group committer's time in a profile; a connection found dead is replaced by
the retry instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse
from uuid import UUID

from eventsourcing.persistence import DatabaseError, InterfaceError, OperationalError
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore, SQLiteFactory
from eventsourcing.utils import get_topic, retry

from ledger.settings import Settings
from ledger.sqlite_store import check_file

F = TypeVar("F", bound=Callable[..., Any])

DB_ATTEMPTS = "SAMSYN_DB_ATTEMPTS"


def _with_attempts(recorder: Any, names: Sequence[str], attempts: int) -> None:
    """Re-wrap the library's retried methods of ``recorder`` with our number of attempts."""
    for name in names:
        method = getattr(type(recorder), name)
        undecorated = getattr(method, "__wrapped__", method)
        bound = functools.partial(undecorated, recorder)
        wrapped = retry((InterfaceError, OperationalError), max_attempts=attempts, wait=0.1)(bound)
        setattr(recorder, name, wrapped)


class PostgresLedgerRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder, plus position look-ups for receipts."""

    def positions_of(self, entries: Sequence[tuple[UUID, int]]) -> dict[tuple[UUID, int], int]:
        """Notification ids (positions) of stored events given by aggregate id and version."""
        if not entries:
            return {}
        statement = (
            f"SELECT originator_id, originator_version, notification_id "
            f'FROM "{self.datastore.schema}"."{self.events_table_name}" '
            "WHERE (originator_id, originator_version) IN "
            f"({', '.join(['(%s, %s)'] * len(entries))})"
        )
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
        statement = (
            f"SELECT notification_id, originator_id "
            f'FROM "{self.datastore.schema}"."{self.events_table_name}" '
            "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (position, limit), prepare=True)
            return [(row["notification_id"], row["originator_id"]) for row in curs.fetchall()]


class SQLiteLedgerRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, plus position look-ups for receipts."""

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


class PostgresLedgerFactory(PostgresFactory):
    """PostgreSQL infrastructure with Samsyn's recorder and retry policy."""

    application_recorder_class = PostgresLedgerRecorder

    def application_recorder(self) -> Any:
        recorder = super().application_recorder()
        attempts = int(self.env.get(DB_ATTEMPTS) or "2")
        _with_attempts(
            recorder,
            ["insert_events", "select_notifications", "max_notification_id", "select_events",
             "originators_after"],
            attempts,
        )
        return recorder


class SQLiteLedgerDatastore(SQLiteDatastore):
    """The library's SQLite datastore, except that a connection whose transaction failed in
    the database is closed, not pooled again: one opened while the file was read-only (or
    since replaced) kept failing after the file was right again (about 40 % of writes)."""

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[Any]:
        with self.get_connection(commit=commit) as conn:
            try:
                with conn.transaction(commit=commit) as cursor:
                    yield cursor
            except (OperationalError, DatabaseError):
                conn.close()
                raise


class SQLiteLedgerFactory(SQLiteFactory):
    """SQLite infrastructure with Samsyn's recorder and datastore."""

    application_recorder_class = SQLiteLedgerRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        library = self.datastore
        self.datastore = SQLiteLedgerDatastore(
            db_name=library.pool.db_name,
            lock_timeout=library.pool.lock_timeout,
            single_row_tracking=library.single_row_tracking,
            originator_id_type=library.originator_id_type,
        )
        library.close()


def persistence_env(settings: Settings, *, schema: str | None = None) -> dict[str, str]:
    """The eventsourcing environment for the configured database."""
    env: dict[str, str] = {
        "COMPRESSOR_TOPIC": "",
        DB_ATTEMPTS: str(settings.db_attempts),
    }
    if settings.is_postgres:
        url = urlparse(settings.database_url)
        env.update(
            PERSISTENCE_MODULE=get_topic(PostgresLedgerFactory),
            POSTGRES_DBNAME=(url.path or "/").lstrip("/") or "postgres",
            POSTGRES_HOST=url.hostname or "127.0.0.1",
            POSTGRES_PORT=str(url.port or 5432),
            POSTGRES_USER=unquote(url.username or "postgres"),
            POSTGRES_PASSWORD=unquote(url.password or ""),
            POSTGRES_CONNECT_TIMEOUT=str(settings.db_connect_timeout),
            POSTGRES_POOL_SIZE=str(settings.db_pool_size),
            POSTGRES_MAX_OVERFLOW="4",
            POSTGRES_LOCK_TIMEOUT=str(settings.db_lock_timeout),
            POSTGRES_PRE_PING="n",
            POSTGRES_ENABLE_DB_FUNCTIONS="n",
        )
        if schema:
            env["POSTGRES_SCHEMA"] = schema
    else:
        path = settings.sqlite_path
        check_file(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        env.update(
            PERSISTENCE_MODULE=get_topic(SQLiteLedgerFactory),
            SQLITE_DBNAME=str(path),
            SQLITE_LOCK_TIMEOUT=str(max(1, settings.db_lock_timeout)),
        )
    return env
