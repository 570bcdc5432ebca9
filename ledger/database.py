"""Short transactions on the ledger's own database, for tables kept beside the ledger's.

The read models (``projections``) and the integrity log keep their tables in the ledger's
database (the same SQLite file, the same PostgreSQL schema), so that their rows and what
they have followed of the ledger commit in one transaction. Both reach those tables through
this module: :class:`Database` hands out transactions, and :class:`Tx` hides the two
dialects' differences (placeholders, bulk insert, list parameters, locks) from the SQL that
runs in them. SQL is written once, with ``?`` placeholders.

On PostgreSQL a small connection pool serves many threads; on SQLite each thread keeps its
own connection. A database that cannot be reached raises
:class:`~ledger.errors.StoreUnavailable`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any, Self

import psycopg
from psycopg import sql as pgsql
from psycopg_pool import ConnectionPool
from psycopg_pool.base import AttemptWithBackoff

from ledger.errors import StoreUnavailable
from ledger.settings import Settings

Row = tuple[Any, ...]


class Tx(ABC):
    """One transaction on tables beside the ledger's. SQL is written with ``?`` placeholders."""

    #: Column type for text compared by byte order (keys, ISO dates).
    text: str = "TEXT"

    @abstractmethod
    def table(self, name: str) -> str:
        """The quoted, schema-qualified name of table ``name``."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Rows of one SELECT."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement."""

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each parameter row."""

    @abstractmethod
    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Bulk-insert ``rows`` into ``table`` (COPY on PostgreSQL)."""

    @abstractmethod
    def insert_new(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """Insert text ``rows`` into ``table``, skipping those whose key is already there."""

    @abstractmethod
    def in_list(self, column: str, values: Collection[Any]) -> tuple[str, Any]:
        """A condition ``column`` is one of ``values``, as SQL and its one parameter."""

    @abstractmethod
    def table_exists(self, name: str) -> bool:
        """Whether table ``name`` exists."""

    @abstractmethod
    def lock_rows_sql(self) -> str:
        """Suffix of a SELECT that locks the selected rows until commit ("" on SQLite)."""

    @abstractmethod
    def savepoint(self) -> AbstractContextManager[None]:
        """A block whose changes are undone, alone, if it raises; the transaction goes on."""

    @abstractmethod
    def lock_schema(self) -> None:
        """Hold the database's lock on its schema until commit: one holder at a time.

        The lock is named after the :class:`Database` (``<name>:<schema>``), so the read
        models and the integrity log each have their own.
        """


class SQLiteTx(Tx):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def table(self, name: str) -> str:
        return f'"{name}"'

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._conn.execute(sql, tuple(params)).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._conn.executemany(sql, rows)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            marks = ",".join("?" * len(columns))
            self._conn.executemany(
                f"INSERT INTO {self.table(table)} ({','.join(columns)}) VALUES ({marks})", rows
            )

    def insert_new(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        if rows:
            marks = ",".join("?" * len(columns))
            self._conn.executemany(
                f"INSERT INTO {self.table(table)} ({','.join(columns)}) VALUES ({marks})"
                " ON CONFLICT DO NOTHING",
                rows,
            )

    def in_list(self, column: str, values: Collection[Any]) -> tuple[str, Any]:
        return f"{column} IN (SELECT value FROM json_each(?))", json.dumps(list(values))

    def table_exists(self, name: str) -> bool:
        rows = self.query("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", [name])
        return bool(rows)

    def lock_rows_sql(self) -> str:
        return ""

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        self._conn.execute("SAVEPOINT samsyn_block")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK TO SAVEPOINT samsyn_block")
            self._conn.execute("RELEASE SAVEPOINT samsyn_block")
            raise
        self._conn.execute("RELEASE SAVEPOINT samsyn_block")

    def lock_schema(self) -> None:
        """A write transaction already holds SQLite's one write lock."""


class PostgresTx(Tx):
    text = 'TEXT COLLATE "C"'

    def __init__(self, cursor: psycopg.Cursor[Row], schema: str, lock: str) -> None:
        self._cur = cursor
        self._schema = schema
        self._lock = lock

    def table(self, name: str) -> str:
        return f'"{self._schema}"."{name}"'

    @staticmethod
    def _sql(sql: str) -> pgsql.SQL:
        return pgsql.SQL(sql.replace("?", "%s"))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._cur.execute(self._sql(sql), params)
        return self._cur.fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cur.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cur.executemany(self._sql(sql), rows)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        statement = f"COPY {self.table(table)} ({','.join(columns)}) FROM STDIN"
        with self._cur.copy(self._sql(statement)) as copy:
            for row in rows:
                copy.write_row(row)

    def insert_new(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        if rows:
            arrays = ", ".join(["?::text[]"] * len(columns))
            self.execute(
                f"INSERT INTO {self.table(table)} ({','.join(columns)})"
                f" SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING",
                [list(column) for column in zip(*rows, strict=True)],
            )

    def in_list(self, column: str, values: Collection[Any]) -> tuple[str, Any]:
        return f"{column} = ANY(?)", list(values)

    def table_exists(self, name: str) -> bool:
        rows = self.query(
            "SELECT 1 FROM information_schema.tables WHERE table_schema=? AND table_name=?",
            [self._schema, name],
        )
        return bool(rows)

    def lock_rows_sql(self) -> str:
        return " FOR UPDATE"

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        with self._cur.connection.transaction():
            yield

    def lock_schema(self) -> None:
        self.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [f"{self._lock}:{self._schema}"])


def steady_reconnection() -> None:
    """Make PostgreSQL pools (ours and the library's, both psycopg_pool's) try to reconnect
    every second (± 10 %) while the database is away, rather than after 1, 2, 4, 8, 16 …
    seconds: after an outage of 30 s the next attempt came up to 16 s after the database
    was back, and the read models stayed that much longer behind."""
    AttemptWithBackoff.DELAY_BACKOFF = 1.0


steady_reconnection()


def store_trouble(error: BaseException) -> bool:
    """Whether ``error`` says the database could not be used (rather than that what was
    asked of it was wrong): such errors are retried, others are the caller's to report."""
    return isinstance(
        error, (StoreUnavailable, psycopg.OperationalError, psycopg.InterfaceError,
                sqlite3.OperationalError)
    )


def postgres_options(settings: Settings) -> str:
    """Server settings for every PostgreSQL connection Samsyn opens: no statement runs
    longer than ``db_statement_timeout``, no transaction sits idle longer than
    ``db_idle_in_transaction_timeout`` (so a stalled process never holds a lock for long).

    Options given in a connection string replace libpq's ``PGOPTIONS``; an operator's
    ``PGOPTIONS`` (a search path, say) is kept in front of them."""
    ours = (
        f"-c statement_timeout={round(settings.db_statement_timeout * 1000)} "
        f"-c idle_in_transaction_session_timeout="
        f"{settings.db_idle_in_transaction_timeout * 1000}"
    )
    theirs = os.environ.get("PGOPTIONS", "").strip()
    return f"{theirs} {ours}" if theirs else ours


def _serial_queries(conn: psycopg.Connection[Row]) -> None:
    conn.execute("SET max_parallel_workers_per_gather = 0")


class Database:
    """Transactions on the ledger's database for one user of it (the read models, the log).

    ``name`` names the user: its PostgreSQL pool, and its schema lock (``<name>:<schema>``,
    see :meth:`Tx.lock_schema`). ``what`` is how errors name the database ("the read
    models' database"). At most ``max_connections`` PostgreSQL connections are pooled
    (default: ``db_pool_size``, and at least 2). ``sqlite_synchronous`` sets SQLite's
    ``synchronous`` pragma on each connection (None keeps SQLite's default, FULL). Without
    ``parallel_query`` PostgreSQL plans no parallel workers on these connections: starting
    them costs milliseconds, more than the short indexed queries they would share.

    On PostgreSQL, read transactions are REPEATABLE READ so that a query reading several
    rows sees one snapshot. On SQLite, write transactions take the write lock at once
    (``BEGIN IMMEDIATE``) so that what was read in them cannot move under them.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        name: str,
        what: str,
        schema: str | None = None,
        max_connections: int | None = None,
        sqlite_synchronous: str | None = None,
        parallel_query: bool = True,
    ) -> None:
        self.settings = settings
        self.name = name
        self.what = what
        self.is_postgres = settings.is_postgres
        # PostgreSQL: None is the connection's current schema (its search path's first),
        # found on first use, as the ledger's own tables are.
        self.schema = schema if self.is_postgres else None
        self._sqlite_synchronous = sqlite_synchronous
        self._pool: ConnectionPool[psycopg.Connection[Row]] | None = None
        self._local = threading.local()
        self._sqlite_connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if max_connections is None:
            max_connections = max(2, settings.db_pool_size)
        if self.is_postgres:
            self._pool = ConnectionPool(
                settings.database_url,
                min_size=1,
                max_size=max_connections,
                kwargs={"autocommit": True, "connect_timeout": settings.db_connect_timeout,
                        "options": postgres_options(settings)},
                timeout=settings.db_connect_timeout * settings.db_attempts,
                open=False,
                name=name,
                configure=None if parallel_query else _serial_queries,
            )

    @property
    def dialect(self) -> str:
        return "postgres" if self.is_postgres else "sqlite"

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        with self._lock:
            for conn in self._sqlite_connections:
                conn.close()
            self._sqlite_connections.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Tx]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        if self._pool is not None:
            with self._pg_transaction(write) as tx:
                yield tx
        else:
            with self._sqlite_transaction(write) as tx:
                yield tx

    def connect_postgres(self, **options: Any) -> psycopg.Connection[Row]:
        """A dedicated autocommit connection (for LISTEN, for a leader's lock); ``options``
        are libpq's (``application_name``, ``keepalives_idle``, ...)."""
        return psycopg.connect(
            self.settings.database_url,
            autocommit=True,
            connect_timeout=int(max(1, self.settings.db_connect_timeout)),
            options=f"{postgres_options(self.settings)} {options.pop('options', '')}".strip(),
            **options,
        )

    def _unavailable(self, error: Exception) -> StoreUnavailable:
        return StoreUnavailable(f"{self.what} is unavailable: {error}")

    @contextmanager
    def _pg_transaction(self, write: bool) -> Iterator[Tx]:
        assert self._pool is not None
        try:
            self._pool.open(wait=False)
            with self._pool.connection() as conn, conn.transaction():
                cursor = conn.cursor()
                if not write:  # before any query of the transaction
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                if self.schema is None:
                    found = cursor.execute("SELECT current_schema()").fetchone()
                    self.schema = str(found[0]) if found and found[0] else "public"
                yield PostgresTx(cursor, self.schema, self.name)
        except (psycopg.OperationalError, psycopg.InterfaceError) as e:
            raise self._unavailable(e) from e

    def _sqlite_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                str(self.settings.sqlite_path),
                timeout=max(1, self.settings.db_lock_timeout),
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            if self._sqlite_synchronous is not None:
                conn.execute(f"PRAGMA synchronous={self._sqlite_synchronous}")
            self._local.conn = conn
            with self._lock:
                self._sqlite_connections.append(conn)
        return conn

    def _discard_sqlite(self, conn: sqlite3.Connection) -> None:
        """Close a connection that failed, so that the next transaction opens a fresh one.

        A connection opened while the file was read-only (or on a file since deleted or
        replaced) keeps failing after the file is right again; it is never reused.
        """
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        with self._lock:
            if conn in self._sqlite_connections:
                self._sqlite_connections.remove(conn)
        with suppress(sqlite3.Error):
            conn.close()

    @contextmanager
    def _sqlite_transaction(self, write: bool) -> Iterator[Tx]:
        conn: sqlite3.Connection | None = None
        try:
            conn = self._sqlite_connection()
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as e:
            if conn is not None:
                self._discard_sqlite(conn)
            raise self._unavailable(e) from e
        try:
            yield SQLiteTx(conn)
        except sqlite3.OperationalError as e:
            self._discard_sqlite(conn)
            raise self._unavailable(e) from e
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.OperationalError as e:
            self._discard_sqlite(conn)
            raise self._unavailable(e) from e
