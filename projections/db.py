"""The read side's connections to the ledger's database: the SQLite file or the PostgreSQL schema.

Read models live beside the ledger (same SQLite file, same PostgreSQL schema) so that a read
model's rows and its tracked position commit in one transaction. :class:`Tx` hides the two
dialects' differences (placeholders, bulk insert, list parameters) from the read models.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql as pgsql
from psycopg_pool import ConnectionPool

from ledger.errors import StoreUnavailable
from ledger.settings import Settings

Row = tuple[Any, ...]


class Tx(ABC):
    """One transaction on the read models' tables. SQL is written with ``?`` placeholders."""

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
    def lock_schema(self) -> None:
        """Hold the read models' schema lock until commit: one creator or swapper at a time."""


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

    def lock_schema(self) -> None:
        """A write transaction already holds SQLite's one write lock."""


class PostgresTx(Tx):
    text = 'TEXT COLLATE "C"'

    def __init__(self, cursor: psycopg.Cursor[Row], schema: str) -> None:
        self._cur = cursor
        self._schema = schema

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

    def lock_schema(self) -> None:
        self.execute(
            "SELECT pg_advisory_xact_lock(hashtext(?))", [f"samsyn-read-models:{self._schema}"]
        )


class Database:
    """Transactions on the ledger's database for the read models.

    On PostgreSQL a small connection pool serves many threads; read transactions are
    REPEATABLE READ so that a query folding several entities sees one snapshot. On SQLite
    each thread keeps its own connection; write transactions take the write lock at once
    (``BEGIN IMMEDIATE``) so that a read model's tracked position cannot move under it.
    """

    def __init__(self, settings: Settings, *, schema: str | None = None) -> None:
        self.settings = settings
        self.is_postgres = settings.is_postgres
        self.schema = (schema or "public") if self.is_postgres else None
        self._pool: ConnectionPool[psycopg.Connection[Row]] | None = None
        self._local = threading.local()
        self._sqlite_connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if self.is_postgres:
            self._pool = ConnectionPool(
                settings.database_url,
                min_size=1,
                max_size=max(2, settings.db_pool_size),
                kwargs={"autocommit": True, "connect_timeout": settings.db_connect_timeout},
                timeout=settings.db_connect_timeout * settings.db_attempts,
                open=False,
                name="samsyn-read-models",
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

    def __enter__(self) -> Database:
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

    def connect_postgres(self) -> psycopg.Connection[Row]:
        """A dedicated autocommit connection (the runner's LISTEN connection)."""
        return psycopg.connect(
            self.settings.database_url,
            autocommit=True,
            connect_timeout=int(max(1, self.settings.db_connect_timeout)),
        )

    @contextmanager
    def _pg_transaction(self, write: bool) -> Iterator[Tx]:
        assert self._pool is not None
        assert self.schema is not None
        try:
            self._pool.open(wait=False)
            with self._pool.connection() as conn, conn.transaction():
                cursor = conn.cursor()
                if not write:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield PostgresTx(cursor, self.schema)
        except (psycopg.OperationalError, psycopg.InterfaceError) as e:
            raise StoreUnavailable(f"the read models' database is unavailable: {e}") from e

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
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._sqlite_connections.append(conn)
        return conn

    @contextmanager
    def _sqlite_transaction(self, write: bool) -> Iterator[Tx]:
        conn = self._sqlite_connection()
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.OperationalError as e:
            raise StoreUnavailable(f"the read models' database is unavailable: {e}") from e
        try:
            yield SQLiteTx(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
