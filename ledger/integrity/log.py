"""The integrity log: seals the ledger's entries into an RFC 9162 Merkle tree and signs it.

The log follows the ledger like a read model. Every stored event, in the ledger's total
order, becomes one leaf: its canonical bytes (``canonical.LedgerEntry``, built from the
stored notification exactly as stored) are hashed, and the hash is recorded under the next
**leaf index** (0, 1, 2, ... with no gaps, whatever gaps the store's notification ids have).
Checkpoints (tree size, root hash, time) are signed with the log's Ed25519 key and kept.

Two tables live beside the ledger's (same SQLite file, same PostgreSQL schema)::

    samsyn_integrity_leaves       leaf_index PK, position UNIQUE, leaf_hash (32 bytes)
    samsyn_integrity_checkpoints  tree_size PK, root_hash, note (signed, with cosignatures)
    samsyn_integrity_keys         after_size PK, vkey, statement (the keys it signs with)
    samsyn_integrity_appended     position PK, the row as appended (until sealed)
    samsyn_integrity_guard        since: rows after it have append records

Sealing appends one batch per transaction. The log keeps the leaf hashes in memory (32 bytes
each) and its ``MerkleAccumulator``; on start it reloads them from the leaf table and checks
them against the latest signed checkpoint, and it refuses to seal or sign on top of leaves
that no longer match a signed root. Several processes may seal one store: each batch is
written under a lock and only if no one else sealed in between.

A trigger copies every appended row into ``samsyn_integrity_appended`` in the appending
transaction, and the sealer seals a row only as appended (``guard_appends``). The log
refuses to start with a key other than the one it signs with (a missing key file included)
unless a rotation is recorded (``rotate_key``), and stops sealing, and the ledger's writes
through ``guard``, when the store no longer holds the last entry it sealed
(``check_continuity``: an older backup restored).

The signing key is a file outside the database (``keys.load_or_create_signing_key``):
by default ``<SQLite file>.signing-key`` beside the ledger, or ``./samsyn-signing.key`` for
PostgreSQL. The log's origin (the key's name) defaults to the existing key's name, or
``samsyn/<hostname>`` for a new key.

``verify_live`` re-reads every stored row and the leaf and checkpoint tables, so an operator
learns of a row edited, deleted or swapped directly in the database, and of edited leaves or
checkpoints; ``export`` writes the offline export format (``verify``) for auditors.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, overload

from eventsourcing.persistence import Notification

from ledger.application import Ledger
from ledger.database import Database, Row, Tx
from ledger.settings import Settings
from ledger.storage import persistence_env

from .canonical import LedgerEntry
from .checkpoint import parse_and_verify_checkpoint, parse_vkey, sign_checkpoint
from .errors import (
    CheckpointError,
    HistoryRegressed,
    IntegrityError,
    KeyFormatError,
    KeyIdentityError,
    TreeError,
)
from .keys import SigningKey, load_or_create_signing_key, load_signing_key
from .merkle import HASH_SIZE, MerkleAccumulator, SubtreeRoots, root_from_leaf_hashes
from .merkle import consistency_proof as _consistency_proof
from .merkle import inclusion_proof as _inclusion_proof
from .rotation import rotation_statement
from .verify import checkpoint_line, entry_line, header_line, rotation_line

LEAVES = "samsyn_integrity_leaves"
CHECKPOINTS = "samsyn_integrity_checkpoints"
KEYS = "samsyn_integrity_keys"
APPENDED = "samsyn_integrity_appended"
GUARD = "samsyn_integrity_guard"
TRIGGER = "samsyn_integrity_appending"

KEY_SUFFIX = ".signing-key"
"""The SQLite default key file is the database file's name plus this."""

POSTGRES_KEY_PATH = Path("samsyn-signing.key")
"""Default key file when the ledger is on PostgreSQL (relative to the working directory)."""

SEAL_BATCH = 5000
"""Entries sealed per transaction by default."""

_READ_BATCH = 10_000
_SEAL_ATTEMPTS = 3

ProgressCallback = Callable[[int, int], None]
"""Called with (done, total) now and then during long operations."""


class NotSealed(IntegrityError):
    """The position is not sealed yet, or no entry was ever stored at it (a gap)."""

    kind = "integrity-not-sealed"
    title = "Entry not sealed"


class LogDamaged(IntegrityError):
    """The log's own tables no longer match its signed checkpoints: it will not seal on."""

    kind = "integrity-log-damaged"
    title = "Integrity log damaged"


class ExportRangeError(IntegrityError, ValueError):
    """The export asked for cannot be written (nothing checkpointed, a range not supported)."""

    kind = "integrity-export-range"
    title = "Export range unavailable"


# -- entries from the store -------------------------------------------------------------------


def recorded_at_text(timestamp: datetime) -> str:
    """The canonical ``recorded_at`` of an event timestamp: ISO 8601 in UTC, ``+00:00``."""
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=UTC)
    return timestamp.astimezone(UTC).isoformat()


def entry_of(ledger: Ledger, notification: Notification) -> LedgerEntry:
    """The canonical entry of a stored notification: its fields exactly as stored.

    ``recorded_at`` is the decoded event's timestamp (the time the ledger stamped); the
    payload is the stored state bytes, never re-encoded. Raises ``IntegrityError`` if the
    stored row cannot be decoded or encoded canonically.
    """
    try:
        event: Any = ledger.mapper.to_domain_event(notification)
        timestamp = event.timestamp
        if not isinstance(timestamp, datetime):
            raise TypeError(f"event timestamp is a {type(timestamp).__name__}")
        return LedgerEntry(
            position=notification.id,
            originator_id=str(notification.originator_id),
            originator_version=notification.originator_version,
            topic=notification.topic,
            state=bytes(notification.state),
            recorded_at=recorded_at_text(timestamp),
        )
    except IntegrityError as exc:
        raise IntegrityError(f"entry at position {notification.id}: {exc}") from exc
    except Exception as exc:  # undecodable state, unknown topic: the row is not an event
        raise IntegrityError(
            f"the stored row at position {notification.id} does not decode as an event: {exc}"
        ) from exc


def _notifications(
    ledger: Ledger, after: int, stop: int | None = None, batch: int = 1000
) -> Iterator[Notification]:
    """Stored rows in position order, after ``after`` (up to ``stop``), read in batches."""
    while True:
        rows = ledger.recorder.select_notifications(
            start=after, limit=batch, stop=stop, inclusive_of_start=False
        )
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].id


# -- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint as the log keeps it: the signed note and what it commits to."""

    tree_size: int
    root_hash: bytes
    note: str
    issued_at: datetime


@dataclass(frozen=True)
class InclusionReceipt:
    """Proof that the entry at ``position`` is leaf ``leaf_index`` of a signed tree."""

    position: int
    leaf_index: int
    leaf_hash: bytes
    tree_size: int
    root_hash: bytes
    proof: tuple[bytes, ...]
    checkpoint: str | None
    """The signed note of that tree size, if one was issued (receipts always have one)."""


@dataclass(frozen=True)
class LiveProblem:
    """One thing ``verify_live`` found wrong with the store or the log's tables.

    ``kind`` is one of: ``altered`` (a stored row no longer hashes to its sealed leaf),
    ``leaf-altered`` (a sealed leaf hash was edited; the rows still match the signed root),
    ``missing`` (a sealed row is gone), ``inserted`` (a row appeared among sealed ones),
    ``leaf-table`` (leaf indexes not gap-free or positions out of order),
    ``root-mismatch`` (the rows, or the leaves, do not hash to a signed root),
    ``bad-signature`` / ``checkpoint-table`` (a stored checkpoint is forged or edited),
    ``truncated`` (a checkpoint commits to more leaves than the table holds).
    """

    kind: str
    detail: str
    leaf_index: int | None = None
    position: int | None = None

    def describe(self) -> str:
        where = []
        if self.leaf_index is not None:
            where.append(f"leaf index {self.leaf_index}")
        if self.position is not None:
            where.append(f"position {self.position}")
        located = f" ({', '.join(where)})" if where else ""
        return f"{self.kind}{located}: {self.detail}"


@dataclass(frozen=True)
class LiveReport:
    """What ``verify_live`` checked, and the problems found in leaf order (first first)."""

    leaves: int
    rows: int
    unsealed_rows: int
    """Rows after the last sealed position: appended since, not yet sealed (not a problem)."""
    checkpoints: int
    problems: tuple[LiveProblem, ...]
    more_problems: int = 0
    """Problems found beyond those listed (the list is capped)."""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> LiveProblem | None:
        return self.problems[0] if self.problems else None

    def describe(self) -> str:
        if self.first is None:
            return (
                f"ok: {self.leaves} sealed entries match the store and {self.checkpoints} "
                f"signed checkpoints ({self.unsealed_rows} newer entries not sealed yet)"
            )
        total = len(self.problems) + self.more_problems
        return f"{self.first.describe()} [{total} problem(s) in all]"


@dataclass
class ExportSummary:
    """What an export holds; ``missing_rows``/``unreadable_rows`` are store damage seen."""

    tree_size: int = 0
    entries: int = 0
    checkpoints: int = 0
    last_position: int | None = None
    root_hash: bytes = b""
    missing_rows: list[int] = field(default_factory=list)
    unreadable_rows: list[int] = field(default_factory=list)
    bad_checkpoints: list[int] = field(default_factory=list)

    @property
    def damaged(self) -> bool:
        return bool(self.missing_rows or self.unreadable_rows or self.bad_checkpoints)


@dataclass(frozen=True)
class ExportPlan:
    """Which leaves and checkpoints an export will hold (decided before writing)."""

    tree_size: int
    checkpoints: tuple[StoredCheckpoint, ...]
    root_hash: bytes


# -- the database -----------------------------------------------------------------------------


class _Store(Database):
    """Short transactions on the ledger's database for the log's two tables.

    A write transaction holds the log's lock (one sealer at a time): on PostgreSQL the
    ``samsyn-integrity:<schema>`` advisory lock, on SQLite the write lock it already has.
    """

    def __init__(self, settings: Settings, schema: str | None) -> None:
        if settings.is_postgres:
            schema = (schema or "public").strip() or "public"
            if '"' in schema:
                raise IntegrityError(f"unusable schema name {schema!r}")
            self.leaves = f'"{schema}"."{LEAVES}"'
            self.checkpoints = f'"{schema}"."{CHECKPOINTS}"'
            self.keys = f'"{schema}"."{KEYS}"'
            self.appended = f'"{schema}"."{APPENDED}"'
            self.guard = f'"{schema}"."{GUARD}"'
        else:
            if str(settings.sqlite_path) == ":memory:":
                raise IntegrityError("the integrity log needs a database file, not :memory:")
            self.leaves = LEAVES
            self.checkpoints = CHECKPOINTS
            self.keys = KEYS
            self.appended = APPENDED
            self.guard = GUARD
        super().__init__(
            settings,
            name="samsyn-integrity",
            what="the integrity log's database",
            schema=schema,
            max_connections=4,
        )
        self.create_tables()

    def create_tables(self) -> None:
        if self.is_postgres:
            statements = [
                f"CREATE TABLE IF NOT EXISTS {self.leaves} (leaf_index bigint PRIMARY KEY, "
                "position bigint NOT NULL UNIQUE, "
                "leaf_hash bytea NOT NULL CHECK (length(leaf_hash) = 32))",
                f"CREATE TABLE IF NOT EXISTS {self.checkpoints} (tree_size bigint PRIMARY KEY, "
                "root_hash bytea NOT NULL CHECK (length(root_hash) = 32), note text NOT NULL, "
                "issued_at timestamptz NOT NULL)",
                f"CREATE TABLE IF NOT EXISTS {self.keys} (after_size bigint PRIMARY KEY, "
                "vkey text NOT NULL, statement text NOT NULL)",
                f"CREATE TABLE IF NOT EXISTS {self.appended} (position bigint PRIMARY KEY, "
                "originator_id text NOT NULL, originator_version bigint NOT NULL, "
                "topic text NOT NULL, state bytea NOT NULL)",
                f"CREATE TABLE IF NOT EXISTS {self.guard} (since bigint NOT NULL)",
            ]
        else:
            statements = [
                f"CREATE TABLE IF NOT EXISTS {self.leaves} (leaf_index INTEGER PRIMARY KEY, "
                "position INTEGER NOT NULL UNIQUE, "
                "leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32))",
                f"CREATE TABLE IF NOT EXISTS {self.checkpoints} (tree_size INTEGER PRIMARY KEY, "
                "root_hash BLOB NOT NULL CHECK (length(root_hash) = 32), note TEXT NOT NULL, "
                "issued_at TEXT NOT NULL)",
                f"CREATE TABLE IF NOT EXISTS {self.keys} (after_size INTEGER PRIMARY KEY, "
                "vkey TEXT NOT NULL, statement TEXT NOT NULL)",
                f"CREATE TABLE IF NOT EXISTS {self.appended} (position INTEGER PRIMARY KEY, "
                "originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL, "
                "topic TEXT NOT NULL, state BLOB NOT NULL)",
                f"CREATE TABLE IF NOT EXISTS {self.guard} (since INTEGER NOT NULL)",
            ]
        with self.transaction(write=True) as tx:
            for statement in statements:
                tx.execute(statement)

    def trigger_statements(self, events: str) -> tuple[str, list[str]]:
        """(the events table's qualified name and position column, the statements that make
        every insert into it copy the row into the append records, in the same transaction).

        PostgreSQL: one statement-level trigger with a transition table (one INSERT per
        appending statement, whatever its row count); SQLite: a row trigger.
        """
        if self.is_postgres:
            schema = self.schema or "public"
            table = f'"{schema}"."{events}"'
            function = f'"{schema}"."{TRIGGER}"'
            return f"{table}|notification_id", [
                f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql "
                f"AS $$ BEGIN INSERT INTO {self.appended} (position, originator_id, "
                "originator_version, topic, state) SELECT notification_id, "
                "originator_id::text, originator_version, topic, state FROM appended_rows; "
                "RETURN NULL; END $$",
                f"CREATE OR REPLACE TRIGGER {TRIGGER} AFTER INSERT ON {table} "
                "REFERENCING NEW TABLE AS appended_rows FOR EACH STATEMENT "
                f"EXECUTE FUNCTION {function}()",
            ]
        return f"{events}|rowid", [
            f"CREATE TRIGGER IF NOT EXISTS {TRIGGER} AFTER INSERT ON {events} BEGIN "
            f"INSERT INTO {self.appended} (position, originator_id, originator_version, "
            "topic, state) VALUES (NEW.rowid, NEW.originator_id, NEW.originator_version, "
            "NEW.topic, NEW.state); END",
        ]

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Tx]:
        """One transaction; a write one holds the log's lock (one sealer at a time)."""
        with super().transaction(write=write) as tx:
            if write:
                tx.lock_schema()
            yield tx


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value))


def _stored_checkpoint(row: Row) -> StoredCheckpoint:
    return StoredCheckpoint(int(row[0]), bytes(row[1]), str(row[2]), _as_datetime(row[3]))


_STOPPED = (
    "; the ledger refuses to write and the log to seal until an operator has compared the "
    "store with its published checkpoints ('samsyn verify --live') and restarted"
)


def _content_hash(app: Ledger, notification: Notification) -> bytes | None:
    """The leaf hash of a stored row as it is now (None if it no longer decodes)."""
    try:
        return entry_of(app, notification).leaf_hash()
    except IntegrityError:
        return None


class _Hashes(Sequence[bytes]):
    """A read-only view of concatenated 32-byte leaf hashes as a sequence of hashes."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._size = len(data) // HASH_SIZE

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[bytes]: ...

    def __getitem__(self, index: int | slice) -> bytes | Sequence[bytes]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._size))]
        if index < 0:
            index += self._size
        if not 0 <= index < self._size:
            raise IndexError(index)
        start = index * HASH_SIZE
        return self._data[start : start + HASH_SIZE]


# -- the log ----------------------------------------------------------------------------------


def default_key_path(settings: Settings) -> Path:
    """Where the signing key lives unless configured: beside the SQLite file, or ./ for PG."""
    if settings.is_postgres:
        return POSTGRES_KEY_PATH
    return Path(str(settings.sqlite_path) + KEY_SUFFIX)


def default_origin() -> str:
    """``samsyn/<hostname>``: the origin (and key name) of a log whose key is made now."""
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()).strip("-.") or "localhost"
    return f"samsyn/{host}"


def _setting(settings: Settings, name: str) -> Any:
    """A setting that ``ledger.settings`` may not declare yet (None if absent)."""
    return getattr(settings, name, None)


class IntegrityLog:
    """The Merkle log over one ledger store: sealing, checkpoints, proofs, export, live check.

    Thread-safe. ``ledger`` is the ledger whose rows are sealed and read back; if none is
    given here or to a method, the log opens its own on the same store. ``key_path`` and
    ``origin`` override the settings (``signing_key_path``, ``log_origin``) and defaults.
    """

    def __init__(
        self,
        settings: Settings,
        schema: str | None = None,
        key_path: str | os.PathLike[str] | None = None,
        *,
        origin: str | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        self.settings = settings
        self.schema = schema
        configured = key_path or _setting(settings, "signing_key_path")
        self.key_path = Path(configured) if configured else default_key_path(settings)
        self._store = _Store(settings, schema)
        self.origin = origin or _setting(settings, "log_origin") or self._existing_key_name()
        self._key: SigningKey = self._load_key()
        self.vkey = self._key.vkey
        self._ledger = ledger
        self._own_ledger: Ledger | None = None
        self._lock = threading.RLock()
        self._hashes = bytearray()  # every sealed leaf hash, in order; only appended to
        self._roots = SubtreeRoots()  # of _hashes, remembered between proofs
        self._acc = MerkleAccumulator()
        self._last_position = 0
        self._check: tuple[int, bytes] | None = None  # (size, root) still to be checked
        self._damage: str | None = None
        self._regressed: str | None = None  # the store went back behind what was sealed
        self._guarded_since: int | None = None  # rows after it have append records

    def _existing_key_name(self) -> str:
        if self.key_path.exists():
            try:
                return load_signing_key(self.key_path).name
            except (KeyFormatError, OSError, UnicodeDecodeError):
                pass  # load_or_create_signing_key raises the real reason next
        keys = self.signing_keys()
        if keys:
            return parse_vkey(keys[-1][1]).name
        return default_origin()

    # -- the log's key ----------------------------------------------------------------------

    def signing_keys(self) -> list[tuple[int, str, str]]:
        """(after size, verifier key, rotation statement) of every key the log has signed
        with, oldest first: the first key has after size -1 and no statement."""
        with self._store.transaction(write=False) as tx:
            rows = tx.query(f"SELECT after_size, vkey, statement FROM {self._store.keys} "
                            "ORDER BY after_size")
        return [(int(size), str(vkey), str(statement)) for size, vkey, statement in rows]

    def vkey_at(self, tree_size: int) -> str:
        """The verifier key that signs (or signed) the checkpoint of ``tree_size``."""
        return _vkey_at(self.signing_keys(), tree_size, self.vkey)

    def _load_key(self) -> SigningKey:
        """The key file's key, if it is the log's key: a missing or other key is refused.

        A log with checkpoints (or a recorded key) never makes itself a new key: that would
        sign on under an identity no one pinned, and every earlier checkpoint would fail to
        verify under the key it then publishes. A new key comes only by ``rotate_key``.
        """
        keys = self.signing_keys()
        latest = self.latest_checkpoint()
        if not self.key_path.exists() and (keys or latest is not None):
            expected = keys[-1][1] if keys else "the key of its checkpoints"
            raise KeyIdentityError(
                f"the signing key file {self.key_path} is missing, but this log signs with "
                f"{expected}: restore that key file (a new key would orphan every checkpoint; "
                "change keys with 'samsyn key rotate' while the old one is at hand)"
            )
        key = load_or_create_signing_key(self.key_path, self.origin)
        if not keys:
            self._adopt_first_key(key, latest)
            keys = self.signing_keys()
        current = keys[-1][1]
        if key.vkey != current:
            raise KeyIdentityError(
                f"the key file {self.key_path} holds {key.vkey}, but this log signs with "
                f"{current}: restore the log's key file, or record a rotation with "
                "'samsyn key rotate' using the log's key"
            )
        return key

    def _adopt_first_key(self, key: SigningKey, latest: StoredCheckpoint | None) -> None:
        """Record ``key`` as the log's first key (a log from before keys were recorded must
        have its first and latest checkpoints signed by it)."""
        first = self.checkpoints(limit=1)
        for checkpoint in (*first, *([latest] if latest else [])):
            try:
                parse_and_verify_checkpoint(checkpoint.note, key.verifier)
            except (CheckpointError, KeyFormatError) as exc:
                raise KeyIdentityError(
                    f"the key file {self.key_path} holds {key.vkey}, but the log's checkpoint "
                    f"of size {checkpoint.tree_size} is not signed by it ({exc}): restore the "
                    "log's key file"
                ) from exc
        with self._store.transaction(write=True) as tx:
            tx.execute(
                f"INSERT INTO {self._store.keys} (after_size, vkey, statement) VALUES (?, ?, ?) "
                "ON CONFLICT (after_size) DO NOTHING",
                (-1, key.vkey, ""),
            )

    def rotate_key(self, new_key: SigningKey) -> str:
        """Hand signing over to ``new_key`` after the latest checkpoint; answer the statement.

        The statement (``rotation``) is signed by the current key and the new one and kept
        in the log; checkpoints above the latest size are then signed by ``new_key`` only.
        Issue a checkpoint first, so that the old key vouches for everything sealed.
        """
        if new_key.name != self.origin:
            raise KeyFormatError(f"the new key is named {new_key.name!r}, not {self.origin!r}")
        if new_key.vkey == self.vkey:
            raise KeyFormatError("the new key is the key in use")
        with self._lock:
            latest = self.latest_checkpoint()
            size = latest.tree_size if latest is not None else 0
            statement = rotation_statement(self._key, new_key, self.origin, size)
            with self._store.transaction(write=True) as tx:
                rows = tx.query(f"SELECT after_size, vkey FROM {self._store.keys} "
                                "ORDER BY after_size DESC LIMIT 1")
                if not rows or str(rows[0][1]) != self.vkey:
                    raise KeyIdentityError("the log's key was changed by another process")
                if int(rows[0][0]) >= size:
                    raise KeyIdentityError(
                        f"a key was already rotated after size {size}: issue a checkpoint "
                        "with it first"
                    )
                tx.execute(
                    f"INSERT INTO {self._store.keys} (after_size, vkey, statement) "
                    "VALUES (?, ?, ?)",
                    (size, new_key.vkey, statement),
                )
            self._key = new_key
            self.vkey = new_key.vkey
            return statement

    def close(self) -> None:
        self._store.close()
        if self._own_ledger is not None:
            self._own_ledger.close()
            self._own_ledger = None

    def __enter__(self) -> IntegrityLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _app(self, ledger: Ledger | None) -> Ledger:
        if ledger is not None:
            return ledger
        if self._ledger is not None:
            return self._ledger
        with self._lock:
            if self._own_ledger is None:
                self._own_ledger = Ledger(env=persistence_env(self.settings, schema=self.schema))
            return self._own_ledger

    # -- state ------------------------------------------------------------------------------

    @property
    def public_key(self) -> str:
        """The verifier key auditors pin: ``<origin>+<key id>+<base64 key>``."""
        return self.vkey

    @property
    def size(self) -> int:
        """Number of sealed leaves (as this process last saw them)."""
        with self._lock:
            self._sync()
            return self._acc.size

    @property
    def sealed_position(self) -> int:
        """The position of the last sealed entry (0 when nothing is sealed)."""
        with self._lock:
            self._sync()
            return self._last_position

    def sealed(self) -> tuple[int, int]:
        """(number of sealed leaves, position of the last one), read together."""
        with self._lock:
            self._sync()
            return self._acc.size, self._last_position

    @property
    def damage(self) -> str | None:
        """Why the log refuses to seal on: the store went back behind what was sealed, or
        the log's tables no longer match a signed root."""
        return self._regressed or self._damage

    @property
    def regressed(self) -> str | None:
        """Why the ledger must not be written to: its history moved backwards."""
        return self._regressed

    def _refuse_if_damaged(self) -> None:
        if self._regressed is not None:
            raise HistoryRegressed(self._regressed + _STOPPED)
        if self._damage is not None:
            raise LogDamaged(self._damage + "; run 'samsyn verify --live' to find out more")

    def _sync(self) -> None:
        """Load leaves sealed since we last looked (by us or another process). Hold the lock."""
        if self._damage is not None or self._regressed is not None:
            return
        with self._store.transaction(write=False) as tx:
            latest = tx.query(
                f"SELECT tree_size, root_hash FROM {self._store.checkpoints} "
                "ORDER BY tree_size DESC LIMIT 1"
            )
            top = tx.query(f"SELECT MAX(leaf_index) FROM {self._store.leaves}")
        held = int(top[0][0]) + 1 if top and top[0][0] is not None else 0
        if held < self._acc.size:
            self._regressed = (
                f"the leaf table holds {held} leaves but {self._acc.size} were sealed: the "
                "database was restored from an older backup (or the table truncated)"
            )
            return
        if latest and int(latest[0][0]) > self._acc.size:
            self._check = (int(latest[0][0]), bytes(latest[0][1]))
        while True:
            with self._store.transaction(write=False) as tx:
                rows = tx.query(
                    f"SELECT leaf_index, position, leaf_hash FROM {self._store.leaves} "
                    "WHERE leaf_index >= ? ORDER BY leaf_index LIMIT ?",
                    (self._acc.size, _READ_BATCH),
                )
            for leaf_index, position, stored in rows:
                leaf_hash = bytes(stored)
                if leaf_index != self._acc.size or position <= self._last_position:
                    self._damage = (
                        f"the leaf table is not gap-free and ordered at leaf index "
                        f"{self._acc.size} (found leaf {leaf_index} at position {position})"
                    )
                    return
                self._acc.append(leaf_hash)
                self._hashes += leaf_hash
                self._last_position = int(position)
                mismatch = self._root_mismatch(self._acc)
                if mismatch is not None:
                    self._damage = mismatch
                    return
            if len(rows) < _READ_BATCH:
                break

    def _root_mismatch(self, acc: MerkleAccumulator) -> str | None:
        """Why ``acc`` cannot be the sealed tree, if it reached the size of the latest
        checkpoint with another root (the check is then done: it is dropped)."""
        check = self._check
        if check is None or acc.size != check[0]:
            return None
        if acc.root() == check[1]:
            if acc is self._acc:
                self._check = None
            return None
        return (
            f"the sealed leaves do not hash to the signed root of size {check[0]}: "
            "the leaf table was edited"
        )

    def check_continuity(self, ledger: Ledger | None = None) -> None:
        """Raise ``HistoryRegressed`` unless the store still holds the last entry sealed.

        An older backup restored under a running log leaves the ledger's head behind the
        sealed one (the entry is gone), or hands its positions out again (another entry
        stands there): either way new entries would be sealed on top of a history that
        contradicts the signed one. Costs one row read and one hash. Once found, the
        refusal stays until an operator has looked (``samsyn verify --live``) and restarted.
        """
        app = self._app(ledger)
        with self._lock:
            self._sync()
            if self._regressed is not None:
                raise HistoryRegressed(self._regressed + _STOPPED)
            size, position = self._acc.size, self._last_position
            if size == 0:
                return
            sealed = bytes(self._hashes[-HASH_SIZE:])
            rows = app.recorder.select_notifications(
                start=position, limit=1, inclusive_of_start=True
            )
            problem = None
            if not rows or rows[0].id != position:
                problem = (
                    f"the entry sealed at position {position} (leaf {size - 1}) is gone: the "
                    "ledger's head moved backwards (an older backup restored?)"
                )
            elif _content_hash(app, rows[0]) != sealed:
                problem = (
                    f"the entry at position {position} is not the one sealed there (leaf "
                    f"{size - 1}): positions were handed out again (an older backup restored?)"
                )
            if problem is not None:
                self._regressed = problem
                raise HistoryRegressed(problem + _STOPPED)

    def guard(self, ledger: Ledger, every: float = 1.0) -> None:
        """Make ``ledger`` refuse to append while its history contradicts the sealed one
        (``check_continuity``, run at most once per ``every`` seconds while it holds), and
        keep append records of what it appends (``guard_appends``)."""
        self.guard_appends(ledger)
        checked = [float("-inf")]

        def check() -> None:
            now = time.monotonic()
            if self._regressed is not None or now - checked[0] >= every:
                self.check_continuity(ledger)
                checked[0] = now

        ledger.write_guard = check

    def _snapshot(self, size: int) -> _Hashes:
        """The first ``size`` leaf hashes (copied: sealing may extend the buffer meanwhile)."""
        with self._lock:
            self._sync()
            self._refuse_if_damaged()
            if not 0 <= size <= self._acc.size:
                raise TreeError(f"tree size {size} outside 0..{self._acc.size} sealed leaves")
            return _Hashes(bytes(self._hashes[: size * HASH_SIZE]))

    # -- sealing ----------------------------------------------------------------------------

    def seal(self, ledger: Ledger | None = None, limit: int = SEAL_BATCH) -> int:
        """Seal up to ``limit`` entries after the last sealed one, in one transaction.

        Answers how many were sealed (0: the log has caught up with the ledger).
        """
        app = self._app(ledger)
        for _ in range(_SEAL_ATTEMPTS):
            sealed = self._seal_batch(app, limit)
            if sealed is not None:
                return sealed
        return 0  # others keep sealing; they are doing the work

    def seal_all(self, ledger: Ledger | None = None, limit: int = SEAL_BATCH) -> int:
        """Seal everything stored so far; answers how many entries were sealed."""
        total = 0
        while (count := self.seal(ledger, limit)) > 0:
            total += count
        return total

    def guard_appends(self, ledger: Ledger | None = None) -> int:
        """Make every append copy its rows into the log's append records, in the appending
        transaction (a database trigger, so whatever path appends is covered); answer the
        position after which every row has its record.

        The sealer seals a row only if it still equals its append record: a row edited
        between its append and its sealing is refused, never signed as edited. Rows from
        before the trigger existed (at or below the answer) are sealed as they are.
        """
        if self._guarded_since is not None:
            return self._guarded_since
        app = self._app(ledger)
        recorder: Any = app.recorder
        events, statements = self._store.trigger_statements(str(recorder.events_table_name))
        table, column = events.split("|")
        with self._store.transaction(write=True) as tx:
            rows = tx.query(f"SELECT since FROM {self._store.guard}")
            if rows:
                since = int(rows[0][0])
            else:
                for statement in statements:
                    tx.execute(statement)
                head = tx.query(f"SELECT MAX({column}) FROM {table}")
                since = int(head[0][0]) if head and head[0][0] is not None else 0
                tx.execute(f"INSERT INTO {self._store.guard} (since) VALUES (?)", (since,))
        self._guarded_since = since
        return since

    def _appended(self, app: Ledger, after: int, last: int) -> dict[int, bytes | None]:
        """The leaf hashes of the append records of positions in (after, last]."""
        with self._store.transaction(write=False) as tx:
            rows = tx.query(
                f"SELECT position, originator_id, originator_version, topic, state "
                f"FROM {self._store.appended} WHERE position > ? AND position <= ?",
                (after, last),
            )
        return {
            int(position): _content_hash(app, Notification(
                id=int(position), originator_id=uuid.UUID(str(originator_id)),
                originator_version=int(version), topic=str(topic), state=bytes(state),
            ))
            for position, originator_id, version, topic, state in rows
        }

    def _check_appended(
        self, app: Ledger, notifications: Sequence[Notification], hashes: list[bytes]
    ) -> None:
        """Refuse to seal rows that differ from their append records (``guard_appends``)."""
        since = self.guard_appends(app)
        if notifications[-1].id <= since:
            return
        records = self._appended(app, notifications[0].id - 1, notifications[-1].id)
        for notification, leaf_hash in zip(notifications, hashes, strict=True):
            if notification.id <= since:
                continue
            if notification.id not in records:
                self._damage = (
                    f"the row at position {notification.id} has no append record: it was "
                    f"written behind the ledger's back, or the trigger {TRIGGER} was dropped"
                )
            elif records[notification.id] != leaf_hash:
                self._damage = (
                    f"the row at position {notification.id} was changed after it was appended "
                    "and before it was sealed: it is not sealed as changed"
                )
            self._refuse_if_damaged()

    def _seal_batch(self, app: Ledger, limit: int) -> int | None:
        with self._lock:
            self.check_continuity(app)
            self._refuse_if_damaged()
            after, size = self._last_position, self._acc.size
            notifications = app.recorder.select_notifications(
                start=after, limit=limit, inclusive_of_start=False
            )
            if not notifications:
                return 0
            hashes = [entry_of(app, n).leaf_hash() for n in notifications]
            self._check_appended(app, notifications, hashes)
            acc = self._acc.copy()
            rows: list[tuple[int, int, bytes]] = []
            for notification, leaf_hash in zip(notifications, hashes, strict=True):
                rows.append((acc.size, notification.id, leaf_hash))
                acc.append(leaf_hash)
                mismatch = self._root_mismatch(acc)
                if mismatch is not None:
                    self._damage = mismatch
                    self._refuse_if_damaged()
            with self._store.transaction(write=True) as tx:
                top = tx.query(
                    f"SELECT leaf_index, position FROM {self._store.leaves} "
                    "ORDER BY leaf_index DESC LIMIT 1"
                )
                current = (int(top[0][0]) + 1, int(top[0][1])) if top else (0, 0)
                if current != (size, after):
                    return None  # another process sealed meanwhile: sync and try again
                tx.executemany(
                    f"INSERT INTO {self._store.leaves} (leaf_index, position, leaf_hash) "
                    "VALUES (?, ?, ?)",
                    rows,
                )
                tx.execute(f"DELETE FROM {self._store.appended} WHERE position <= ?",
                           (rows[-1][1],))
            self._acc = acc
            if self._check is not None and acc.size >= self._check[0]:
                self._check = None  # reached (and matched) while sealing this batch
            for _, _, leaf_hash in rows:
                self._hashes += leaf_hash
            self._last_position = rows[-1][1]
            return len(rows)

    # -- checkpoints ------------------------------------------------------------------------

    def issue_checkpoint(self) -> str:
        """Sign and keep a checkpoint of the sealed tree now; answer its note.

        If the latest checkpoint already has the current size, that one is answered: one
        checkpoint per tree size is kept.
        """
        with self._lock:
            self._sync()
            self._refuse_if_damaged()
            size, root = self._acc.size, self._acc.root()
            latest = self.latest_checkpoint()
            if latest is not None:
                if latest.tree_size == size:
                    return latest.note
                if latest.tree_size > size:
                    raise LogDamaged(
                        f"a checkpoint commits to {latest.tree_size} leaves but only {size} are "
                        "sealed: the leaf table was truncated"
                    )
            moment = datetime.now(UTC)
            note = sign_checkpoint(self._key, self.origin, size, root, timestamp=moment)
            issued: Any = moment if self._store.is_postgres else moment.isoformat()
            with self._store.transaction(write=True) as tx:
                current = tx.query(f"SELECT vkey FROM {self._store.keys} "
                                   "ORDER BY after_size DESC LIMIT 1")
                if not current or str(current[0][0]) != self.vkey:
                    raise KeyIdentityError(
                        f"this process signs with {self.vkey}, but the log's key is now "
                        f"{current[0][0] if current else 'unknown'}: restart with the log's key"
                    )
                tx.execute(
                    f"INSERT INTO {self._store.checkpoints} (tree_size, root_hash, note, "
                    "issued_at) VALUES (?, ?, ?, ?) ON CONFLICT (tree_size) DO NOTHING",
                    (size, root, note, issued),
                )
                kept = tx.query(
                    f"SELECT note FROM {self._store.checkpoints} WHERE tree_size = ?", (size,)
                )
            return str(kept[0][0])

    def add_cosignatures(self, tree_size: int, lines: Sequence[str]) -> str:
        """Add witness cosignature lines to the kept checkpoint of ``tree_size``; answer
        its note. The caller checked each line (``witnessing``); a line already there is
        not added twice. The signed text does not change, so every earlier copy of the
        note still verifies."""
        with self._store.transaction(write=True) as tx:
            rows = tx.query(f"SELECT note FROM {self._store.checkpoints} WHERE tree_size = ?",
                            (tree_size,))
            if not rows:
                raise NotSealed(f"no checkpoint of size {tree_size} is kept")
            note = str(rows[0][0])
            added = "".join(line for line in lines if line not in note)
            if added:
                note += added
                tx.execute(f"UPDATE {self._store.checkpoints} SET note = ? WHERE tree_size = ?",
                           (note, tree_size))
        return note

    def checkpoints(
        self, after_size: int | None = None, limit: int | None = None
    ) -> list[StoredCheckpoint]:
        """Kept checkpoints by increasing tree size (larger than ``after_size`` if given)."""
        sql = f"SELECT tree_size, root_hash, note, issued_at FROM {self._store.checkpoints}"
        params: list[Any] = []
        if after_size is not None:
            sql += " WHERE tree_size > ?"
            params.append(after_size)
        sql += " ORDER BY tree_size"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._store.transaction(write=False) as tx:
            return [_stored_checkpoint(row) for row in tx.query(sql, params)]

    def recent_checkpoints(self, limit: int) -> list[StoredCheckpoint]:
        """The ``limit`` kept checkpoints of the largest tree sizes, largest first."""
        with self._store.transaction(write=False) as tx:
            rows = tx.query(
                f"SELECT tree_size, root_hash, note, issued_at FROM {self._store.checkpoints} "
                "ORDER BY tree_size DESC LIMIT ?",
                (limit,),
            )
        return [_stored_checkpoint(row) for row in rows]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The checkpoint of the largest tree size, or None before the first."""
        with self._store.transaction(write=False) as tx:
            rows = tx.query(
                f"SELECT tree_size, root_hash, note, issued_at FROM {self._store.checkpoints} "
                "ORDER BY tree_size DESC LIMIT 1"
            )
        return _stored_checkpoint(rows[0]) if rows else None

    def checkpoint_at(self, tree_size: int) -> StoredCheckpoint | None:
        """The kept checkpoint of exactly that tree size, if any."""
        with self._store.transaction(write=False) as tx:
            rows = tx.query(
                f"SELECT tree_size, root_hash, note, issued_at FROM {self._store.checkpoints} "
                "WHERE tree_size = ?",
                (tree_size,),
            )
        return _stored_checkpoint(rows[0]) if rows else None

    # -- proofs -----------------------------------------------------------------------------

    def leaf(self, position: int) -> tuple[int, bytes]:
        """(leaf index, sealed leaf hash) of the entry at ``position``; ``NotSealed`` if none."""
        with self._store.transaction(write=False) as tx:
            rows = tx.query(
                f"SELECT leaf_index, leaf_hash FROM {self._store.leaves} WHERE position = ?",
                (position,),
            )
        if rows:
            return int(rows[0][0]), bytes(rows[0][1])
        if position > self.sealed_position:
            raise NotSealed(f"the entry at position {position} is not sealed yet")
        raise NotSealed(f"no entry was stored at position {position}")

    def leaf_data(self, position: int, ledger: Ledger | None = None) -> bytes:
        """The canonical leaf bytes of the entry at ``position`` as stored now: what a reader
        hashes (SHA-256 of 0x00 and these bytes) to check an inclusion proof from data,
        not from the server's word. ``NotSealed`` if no entry is stored there."""
        app = self._app(ledger)
        rows = app.recorder.select_notifications(start=position, limit=1,
                                                 inclusive_of_start=True)
        if not rows or rows[0].id != position:
            raise NotSealed(f"no entry is stored at position {position}")
        return entry_of(app, rows[0]).leaf_data()

    def root_at(self, tree_size: int) -> bytes:
        """Root hash of the tree of the first ``tree_size`` sealed leaves."""
        return root_from_leaf_hashes(self._snapshot(tree_size), self._roots)

    def _proof_size(self, tree_size: int | None) -> int:
        if tree_size is not None:
            return tree_size
        latest = self.latest_checkpoint()
        if latest is None:
            raise NotSealed("no checkpoint has been issued yet")
        return latest.tree_size

    def inclusion_proof(
        self, position: int, tree_size: int | None = None
    ) -> tuple[int, list[bytes]]:
        """(leaf index, RFC 9162 audit path) of the entry at ``position`` in the tree of
        ``tree_size`` leaves (default: the latest checkpoint's)."""
        leaf_index, _ = self.leaf(position)
        size = self._proof_size(tree_size)
        if leaf_index >= size:
            raise TreeError(
                f"the entry at position {position} is leaf {leaf_index}, "
                f"not in a tree of size {size}"
            )
        return leaf_index, _inclusion_proof(self._snapshot(size), leaf_index, size, self._roots)

    def receipt(self, position: int, tree_size: int | None = None) -> InclusionReceipt:
        """The inclusion proof of ``position`` with everything needed to check it."""
        leaf_index, leaf_hash = self.leaf(position)
        size = self._proof_size(tree_size)
        if leaf_index >= size:
            raise TreeError(
                f"the entry at position {position} is leaf {leaf_index}, "
                f"not in a tree of size {size}"
            )
        hashes = self._snapshot(size)
        checkpoint = self.checkpoint_at(size)
        return InclusionReceipt(
            position=position,
            leaf_index=leaf_index,
            leaf_hash=leaf_hash,
            tree_size=size,
            root_hash=root_from_leaf_hashes(hashes, self._roots),
            proof=tuple(_inclusion_proof(hashes, leaf_index, size, self._roots)),
            checkpoint=checkpoint.note if checkpoint is not None else None,
        )

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 proof that the tree of ``first`` leaves is a prefix of that of ``second``."""
        if not 0 <= first <= second:
            raise TreeError(f"first size {first} must be within 0..{second}")
        return _consistency_proof(self._snapshot(second), first, second, self._roots)

    # -- export -----------------------------------------------------------------------------

    def plan_export(
        self, from_position: int | None = None, to_position: int | None = None
    ) -> ExportPlan:
        """Decide what an export holds: leaves 0..N-1 up to a kept checkpoint of size N.

        ``to_position`` rounds down to the last checkpoint whose entries all lie at or
        before it. An export always starts at leaf 0 (docs/integrity.md §4),
        so ``from_position`` is accepted only if no sealed entry lies before it.
        """
        checkpoints = self.checkpoints()
        if not checkpoints:
            raise ExportRangeError("no checkpoint has been issued yet: issue one first")
        size = checkpoints[-1].tree_size
        with self._store.transaction(write=False) as tx:
            if from_position is not None:
                before = tx.query(
                    f"SELECT leaf_index FROM {self._store.leaves} WHERE position < ? LIMIT 1",
                    (from_position,),
                )
                if before:
                    raise ExportRangeError(
                        "an export starts at the ledger's first entry; entries before "
                        f"position {from_position} cannot be left out"
                    )
            if to_position is not None:
                count = tx.query(
                    f"SELECT COUNT(*) FROM {self._store.leaves} WHERE position <= ?",
                    (to_position,),
                )
                size = min(size, int(count[0][0]))
        kept = tuple(c for c in checkpoints if c.tree_size <= size)
        if not kept:
            raise ExportRangeError(f"no checkpoint covers only entries up to {to_position}")
        size = kept[-1].tree_size
        return ExportPlan(size, kept, kept[-1].root_hash)

    def export_lines(
        self,
        plan: ExportPlan | None = None,
        *,
        ledger: Ledger | None = None,
        summary: ExportSummary | None = None,
        progress: ProgressCallback | None = None,
    ) -> Iterator[str]:
        """The lines of an export (``verify``'s format), each ending in a newline.

        Entries are written as stored now, with the leaf index and leaf hash recorded when
        they were sealed: a row changed or deleted since is exported as it is, so that the
        offline verifier names it. ``summary`` (if given) is filled in while writing.
        """
        plan = plan or self.plan_export()
        app = self._app(ledger)
        summary = summary if summary is not None else ExportSummary()
        summary.tree_size = plan.tree_size
        summary.root_hash = plan.root_hash
        keys = self.signing_keys()
        by_size: dict[int, list[StoredCheckpoint]] = {}
        for checkpoint in plan.checkpoints:
            by_size.setdefault(checkpoint.tree_size, []).append(checkpoint)
            try:
                parse_and_verify_checkpoint(
                    checkpoint.note, _vkey_at(keys, checkpoint.tree_size, self.vkey)
                )
            except (CheckpointError, KeyFormatError):
                summary.bad_checkpoints.append(checkpoint.tree_size)
        rotations = {after: statement for after, _, statement in keys
                     if 0 <= after < plan.tree_size}

        def checkpoints_of(size: int) -> Iterator[str]:
            for checkpoint in by_size.get(size, ()):
                summary.checkpoints += 1
                yield checkpoint_line(checkpoint.note)
            if size in rotations:
                yield rotation_line(rotations[size])

        yield header_line(self.origin, keys[0][1] if keys else self.vkey)
        yield from checkpoints_of(0)
        done = 0
        for batch in self._leaf_batches(plan.tree_size):
            first, last = batch[0][1], batch[-1][1]
            rows = {
                n.id: n
                for n in app.recorder.select_notifications(
                    start=first, limit=last - first + 1, stop=last, inclusive_of_start=True
                )
            }
            for leaf_index, position, leaf_hash in batch:
                done += 1
                notification = rows.get(position)
                if notification is None:
                    summary.missing_rows.append(position)
                else:
                    try:
                        entry = entry_of(app, notification)
                    except IntegrityError:
                        summary.unreadable_rows.append(position)
                    else:
                        summary.entries += 1
                        summary.last_position = position
                        yield entry_line(leaf_index, entry, leaf_hash)
                yield from checkpoints_of(leaf_index + 1)
            if progress is not None:
                progress(done, plan.tree_size)

    def _leaf_batches(
        self, size: int, batch: int = 1000
    ) -> Iterator[list[tuple[int, int, bytes]]]:
        start = 0
        while start < size:
            with self._store.transaction(write=False) as tx:
                rows = tx.query(
                    f"SELECT leaf_index, position, leaf_hash FROM {self._store.leaves} "
                    "WHERE leaf_index >= ? AND leaf_index < ? ORDER BY leaf_index",
                    (start, min(size, start + batch)),
                )
            if not rows:
                return
            yield [(int(i), int(p), bytes(h)) for i, p, h in rows]
            start = int(rows[-1][0]) + 1

    def export(
        self,
        target: str | os.PathLike[str] | IO[str],
        from_position: int | None = None,
        to_position: int | None = None,
        progress: ProgressCallback | None = None,
        *,
        ledger: Ledger | None = None,
    ) -> ExportSummary:
        """Write an export to a new file at ``target`` (or to a text stream).

        Raises ``ExportRangeError`` before writing anything if the range cannot be exported.
        """
        plan = self.plan_export(from_position, to_position)
        summary = ExportSummary()
        lines = self.export_lines(plan, ledger=ledger, summary=summary, progress=progress)
        if not isinstance(target, str | os.PathLike):
            target.writelines(lines)
            return summary
        path = Path(target)
        with open(path, "x", encoding="utf-8", newline="\n") as f:
            try:
                f.writelines(lines)
            except BaseException:
                f.close()
                path.unlink(missing_ok=True)
                raise
        return summary

    # -- live verification ------------------------------------------------------------------

    def verify_live(
        self,
        ledger: Ledger | None = None,
        *,
        progress: ProgressCallback | None = None,
        max_problems: int = 100,
    ) -> LiveReport:
        """Check the store itself against the sealed leaves and the signed checkpoints.

        Every stored row is read back and hashed again. Each sealed leaf must still have
        its row with the same content (else ``altered``/``missing``; rows appearing among
        sealed ones are ``inserted``); the leaf table must be gap-free and ordered; every
        kept checkpoint must be validly signed, agree with its row in the table, and have
        the root of both the re-hashed rows and the sealed leaves at its size. Problems are
        listed in leaf order, so ``report.first`` names the first bad entry.
        """
        app = self._app(ledger)
        checker = _LiveCheck(self.signing_keys(), self.vkey, self.origin, max_problems)
        checkpoints = self.checkpoints()  # first: every one of them was issued over leaves
        with self._store.transaction(write=False) as tx:  # that this query then sees
            top = tx.query(
                f"SELECT leaf_index FROM {self._store.leaves} ORDER BY leaf_index DESC LIMIT 1"
            )
        size = int(top[0][0]) + 1 if top else 0
        checker.start(checkpoints, size)
        rows = _notifications(app, 0)
        row = next(rows, None)
        done = 0
        for batch in self._leaf_batches(size):
            for leaf_index, position, sealed in batch:
                while row is not None and row.id < position:
                    checker.inserted(row.id)
                    row = next(rows, None)
                content: bytes | None = None
                if row is None or row.id > position:
                    checker.missing(leaf_index, position)
                else:
                    try:
                        content = entry_of(app, row).leaf_hash()
                    except IntegrityError as exc:
                        checker.unreadable(leaf_index, position, str(exc))
                    row = next(rows, None)
                checker.leaf(leaf_index, position, sealed, content)
            done += len(batch)
            if progress is not None:
                progress(done, size)
        unsealed = 0
        while row is not None:
            unsealed += 1
            row = next(rows, None)
        return checker.finish(size, unsealed)


_ZERO = bytes(HASH_SIZE)


def _vkey_at(keys: list[tuple[int, str, str]], tree_size: int, default: str) -> str:
    """The key of ``keys`` (``IntegrityLog.keys``) in force for a checkpoint of ``tree_size``."""
    chosen = default
    for after, vkey, _ in keys:
        if after < tree_size:
            chosen = vkey
    return chosen


class _LiveCheck:
    """The order-dependent part of ``verify_live``: two trees, the checkpoints, findings."""

    def __init__(
        self, keys: list[tuple[int, str, str]], vkey: str, origin: str, max_problems: int
    ) -> None:
        self.keys = keys
        self.vkey = vkey
        self.origin = origin
        self.max_problems = max_problems
        self.problems: list[LiveProblem] = []
        self.more = 0
        self.pending: list[LiveProblem] = []  # since the last checkpoint, to classify
        self.content = MerkleAccumulator()  # from the rows as stored now
        self.sealed = MerkleAccumulator()  # from the leaf table
        self.checkpoints: deque[StoredCheckpoint] = deque()
        self.checked = 0
        self.expected_index = 0
        self.last_position = 0
        self.content_ok = True
        self.sealed_ok = True
        self.rows = 0

    def add(self, problem: LiveProblem) -> None:
        if len(self.problems) < self.max_problems:
            self.problems.append(problem)
        else:
            self.more += 1

    def start(self, checkpoints: list[StoredCheckpoint], size: int) -> None:
        for checkpoint in checkpoints:
            try:
                parsed = parse_and_verify_checkpoint(
                    checkpoint.note, _vkey_at(self.keys, checkpoint.tree_size, self.vkey)
                )
            except (CheckpointError, KeyFormatError) as exc:
                self.add(LiveProblem(
                    "bad-signature",
                    f"the kept checkpoint of size {checkpoint.tree_size} does not verify "
                    f"under the log's key: {exc}",
                ))
                continue
            if (
                parsed.origin != self.origin
                or parsed.tree_size != checkpoint.tree_size
                or parsed.root_hash != checkpoint.root_hash
            ):
                self.add(LiveProblem(
                    "checkpoint-table",
                    f"the checkpoint row of size {checkpoint.tree_size} disagrees with its "
                    f"signed note (origin {parsed.origin!r}, size {parsed.tree_size})",
                ))
                continue
            if parsed.tree_size > size:
                self.add(LiveProblem(
                    "truncated",
                    f"a signed checkpoint commits to {parsed.tree_size} leaves but the leaf "
                    f"table holds {size}: leaves from index {size} on were removed",
                    leaf_index=size,
                ))
                continue
            self.checkpoints.append(checkpoint)
        if self.checkpoints and self.checkpoints[0].tree_size == 0:
            self.at_checkpoint()

    def inserted(self, position: int) -> None:
        self.rows += 1
        self.pending.append(LiveProblem(
            "inserted",
            f"a row at position {position} lies among sealed entries but was never sealed",
            position=position,
        ))

    def missing(self, leaf_index: int, position: int) -> None:
        self.pending.append(LiveProblem(
            "missing", f"the row sealed as leaf {leaf_index} is gone from the store",
            leaf_index, position,
        ))

    def unreadable(self, leaf_index: int, position: int, why: str) -> None:
        self.rows += 1
        self.pending.append(LiveProblem("altered", why, leaf_index, position))

    def leaf(self, leaf_index: int, position: int, sealed: bytes, content: bytes | None) -> None:
        if content is not None:
            self.rows += 1
        if leaf_index != self.expected_index or position <= self.last_position:
            self.pending.append(LiveProblem(
                "leaf-table",
                f"expected leaf index {self.expected_index} after position "
                f"{self.last_position}, found leaf {leaf_index} at position {position}",
                leaf_index, position,
            ))
            self.expected_index = leaf_index
        if content is not None and content != sealed:
            self.pending.append(LiveProblem(
                "altered",
                f"the stored row hashes to {content.hex()[:16]}…, but was sealed as "
                f"{sealed.hex()[:16]}…",
                leaf_index, position,
            ))
        self.content.append(content if content is not None else _ZERO)
        self.sealed.append(sealed)
        self.expected_index += 1
        self.last_position = position
        while self.checkpoints and self.checkpoints[0].tree_size == self.sealed.size:
            self.at_checkpoint()

    def at_checkpoint(self) -> None:
        """Compare both trees with the signed root; classify what was found since the last."""
        checkpoint = self.checkpoints.popleft()
        self.checked += 1
        size, root = checkpoint.tree_size, checkpoint.root_hash
        rows_match = self.content.root() == root
        leaves_match = self.sealed.root() == root
        for problem in self.pending:
            if problem.kind == "altered" and rows_match and not leaves_match:
                problem = LiveProblem(
                    "leaf-altered",
                    "the sealed leaf hash was edited: the stored row still matches the "
                    f"signed root of size {size}",
                    problem.leaf_index, problem.position,
                )
            self.add(problem)
        self.pending.clear()
        if not rows_match and self.content_ok:
            self.content_ok = False
            self.add(LiveProblem(
                "root-mismatch",
                f"the stored rows no longer hash to the signed root of size {size} "
                f"(signed {checkpoint.issued_at:%Y-%m-%dT%H:%M:%SZ})",
            ))
        if not leaves_match and self.sealed_ok:
            self.sealed_ok = False
            self.add(LiveProblem(
                "root-mismatch",
                f"the sealed leaves no longer hash to the signed root of size {size}: "
                "the leaf table was edited",
            ))

    def finish(self, size: int, unsealed: int) -> LiveReport:
        for problem in self.pending:
            self.add(problem)
        self.pending.clear()
        for checkpoint in self.checkpoints:  # sizes the leaf walk never reached
            self.add(LiveProblem(
                "truncated",
                f"the signed checkpoint of size {checkpoint.tree_size} could not be checked: "
                f"the leaf table holds {self.sealed.size} leaves in order",
            ))
        return LiveReport(
            leaves=size,
            rows=self.rows + unsealed,
            unsealed_rows=unsealed,
            checkpoints=self.checked,
            problems=tuple(self.problems),
            more_problems=self.more,
        )
