"""Where the ledger is kept: SQLite (embedded default) or PostgreSQL, configured deliberately.

The library retries a lost connection ten times by default, which turns a three-second
connect timeout into half a minute per request. Samsyn's recorders retry
``db_attempts`` times instead, so a request fails within seconds when the database is down.
``POSTGRES_ENABLE_DB_FUNCTIONS`` stays off: the table lock it would drop is what keeps
notification ids in commit order for readers. The pool does not ping a connection before
each use (``POSTGRES_PRE_PING``): that doubled the round trips of every aggregate load,
45% of the group committer's time in a profile; a connection found dead is replaced by
the retry instead.
Every PostgreSQL connection has a statement timeout and an idle-in-transaction timeout
(``db_statement_timeout``, ``db_idle_in_transaction_timeout``). The recorders themselves
live in ``ledger/recorders.py``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

from eventsourcing.persistence import DatabaseError, InterfaceError, OperationalError
from eventsourcing.postgres import PostgresFactory
from eventsourcing.sqlite import SQLiteDatastore, SQLiteFactory
from eventsourcing.utils import Environment, EnvType, get_topic, retry

from ledger.database import postgres_options
from ledger.recorders import PostgresLedgerRecorder, SQLiteLedgerRecorder
from ledger.settings import Settings
from ledger.sqlite_store import check_file

F = TypeVar("F", bound=Callable[..., Any])

DB_ATTEMPTS = "SAMSYN_DB_ATTEMPTS"
DB_OPTIONS = "SAMSYN_DB_OPTIONS"


def _with_attempts(recorder: Any, names: Sequence[str], attempts: int) -> None:
    """Re-wrap the library's retried methods of ``recorder`` with our number of attempts."""
    for name in names:
        method = getattr(type(recorder), name)
        undecorated = getattr(method, "__wrapped__", method)
        bound = functools.partial(undecorated, recorder)
        wrapped = retry((InterfaceError, OperationalError), max_attempts=attempts, wait=0.1)(bound)
        setattr(recorder, name, wrapped)


class PostgresLedgerFactory(PostgresFactory):
    """PostgreSQL infrastructure with Samsyn's recorder and retry policy."""

    application_recorder_class = PostgresLedgerRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        options = self.env.get(DB_OPTIONS)
        if options:  # the statement timeout, on every connection of the pool
            kwargs: Any = self.datastore.pool.kwargs
            kwargs["options"] = options

    def application_recorder(self) -> Any:
        recorder = super().application_recorder()
        attempts = int(self.env.get(DB_ATTEMPTS) or "2")
        _with_attempts(
            recorder,
            ["insert_events", "insert_stamped", "select_notifications", "max_notification_id",
             "select_events", "originators_after", "idempotency_claim", "existing"],
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
            POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT=str(
                settings.db_idle_in_transaction_timeout),
        )
        env[DB_OPTIONS] = postgres_options(settings)
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
