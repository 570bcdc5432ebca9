"""Facts: ledger entries as the read models keep them, filed under the entities they concern.

Every entry is stored once (in the audit trail's table) under its entity's key and under
any further keys the read models ask for. A key is a kind and the entity's id
(``decision:3f2a...``): the ledger derives every id from the kind and the reference
registrars use (:func:`ledger.domain.base.entity_id`), so an entry naming a decision by
its reference and the decision's own entries meet under one key, with no lookup.
Answering for one entity means loading
the facts under its key, then under the keys those facts point to, and folding them;
filtering on recorded time gives the answer *as known at* any moment.

The :class:`Loader` fetches keys in batches; a fold that meets a key not yet loaded raises
:class:`NeedFacts`, and :func:`fold_many` fetches every missing key of every pending fold
in one query and runs them again. Derivations shared between folds are memoised in the
loader (with the keys they read), so running a fold again costs little.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple, TypeVar
from uuid import UUID

import orjson

from ledger.domain.base import entity_id
from projections.db import Tx

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)

JSON = dict[str, Any]


def to_micros(moment: datetime) -> int:
    """A recorded time as microseconds since the epoch (naive times are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // MICROSECOND


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def parse_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


@functools.lru_cache(maxsize=65536)
def key(kind: str, ref: str) -> str:
    """The key of the ``kind`` entity registrars call ``ref`` (case and spacing ignored)."""
    return f"{kind}:{entity_id(kind, ref).hex}"


def id_key(kind: str, aggregate_id: UUID | str) -> str:
    """The key of the entity whose aggregate id is ``aggregate_id``."""
    uuid = aggregate_id if isinstance(aggregate_id, UUID) else UUID(aggregate_id)
    return f"{kind}:{uuid.hex}"


#: Event attributes that are not the entry's data (the item has them as fields).
NOT_DATA = frozenset(
    {"originator_id", "originator_version", "timestamp", "recorded_by", "originator_topic"}
)


def _json_default(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def dumps(value: Any) -> str:
    """How entries' data and folded states are written: compact UTF-8 JSON, dates as ISO
    text, keys as strings (orjson: two to five times the standard library's speed here)."""
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()


#: How they are read back.
loads = orjson.loads


class Item:
    """One ledger entry, decoded once for all read models (see :mod:`projections.decoding`).

    ``data`` is the event's own attributes as JSON reads them back (dates as ISO text): what
    is stored and what folds read. ``kind`` is its entity's kind, ``ref`` the entity's
    reference if this entry created it. ``keys`` are the keys it is filed under, its
    entity's first.
    """

    __slots__ = (
        "_json", "data", "event_type", "keys", "kind", "position", "recorded_at",
        "recorded_by", "ref",
    )

    def __init__(
        self,
        position: int,
        kind: str,
        aggregate_id: UUID | str,
        event_type: str,
        recorded_at: int,
        recorded_by: str,
        data: dict[str, Any],
        *,
        created: bool,
    ) -> None:
        self.position = position
        self.kind = kind
        self.event_type = event_type
        self.recorded_at = recorded_at
        self.recorded_by = recorded_by
        self.data = data
        self.ref: str | None = data.get("ref") if created else None
        self.keys: tuple[str, ...] = (id_key(kind, aggregate_id),)
        self._json: str | None = None

    @property
    def key(self) -> str:
        """The key of the entity this entry belongs to."""
        return self.keys[0]

    @property
    def data_json(self) -> str:
        if self._json is None:
            self._json = dumps(self.data)
        return self._json

    def fact(self) -> Fact:
        """The entry as a fold sees it once stored."""
        return Fact(
            self.position, self.recorded_at, self.recorded_by, self.event_type, self.key,
            self.data,
        )


class Fact(NamedTuple):
    """A stored entry read back: what a fold sees (``entity`` is its entity's key).

    A named tuple rather than a frozen dataclass: a rebuild makes one per entry, and a
    tuple is made several times faster.
    """

    position: int
    recorded_at: int
    recorded_by: str
    event_type: str
    entity: str
    data: dict[str, Any]

    @property
    def recorded_time(self) -> datetime:
        return from_micros(self.recorded_at)


class NeedFacts(Exception):
    """A fold needs the facts under these keys before it can go on."""

    def __init__(self, keys: set[str]) -> None:
        super().__init__(f"{len(keys)} keys to load")
        self.keys = keys


@dataclass(frozen=True)
class FactTables:
    """Where the facts are: one row per entry, and the further keys entries are filed under."""

    entry: str
    key: str


def fact_tables(suffix: str = "") -> FactTables:
    return FactTables(entry=f"rm_audit_entry{suffix}", key=f"rm_audit_key{suffix}")


T = TypeVar("T")

#: Keys fetched per query.
FETCH_BATCH = 20000


class Loader:
    """The facts under each key, as known at ``known_at`` (all when None), fetched in batches
    (or all held in memory, see :meth:`hold`)."""

    def __init__(self, tx: Tx | None, tables: FactTables, known_at: int | None = None) -> None:
        self._tx = tx
        self._tables = tables
        self.known_at = known_at
        self._loaded: dict[str, list[Fact]] = {}
        #: Whether ``_loaded`` holds every fact there is (a key it lacks has none).
        self._complete = False
        self._parsed: dict[int, Fact] = {}
        self._memo: dict[tuple[str, str], tuple[Any, frozenset[str]]] = {}
        self.accessed: set[str] = set()

    def get(self, key: str) -> list[Fact]:
        """The facts under ``key`` in ledger order; raises :class:`NeedFacts` if not loaded."""
        self.accessed.add(key)
        facts = self._loaded.get(key)
        if facts is None:
            if self._complete:
                return []
            raise NeedFacts({key})
        return facts

    def settled_at(self, keys: Iterable[str]) -> int:
        """When the last fact under ``keys`` was recorded (0 if there is none): a fold that
        read only those keys answers the same for any ``known_at`` from then on."""
        loaded = self._loaded
        return max(
            (f.recorded_at for k in keys for f in loaded.get(k, ())), default=0
        )

    def need(self, keys: Iterable[str]) -> None:
        """Declare keys a fold is about to read, so that all missing ones load at once."""
        if self._complete:
            self.accessed.update(keys)
            return
        loaded = self._loaded
        missing = set()
        for k in keys:
            self.accessed.add(k)
            if k not in loaded:
                missing.add(k)
        if missing:
            raise NeedFacts(missing)

    def hold(self, items: Iterable[Item]) -> None:
        """Keep the facts of ``items`` (entries in ledger order, filed) under their keys.

        A loader given every entry of the ledger this way, and nothing else, folds without
        a query: a key it lacks has no facts (a full rebuild's folds).
        """
        self._complete = True
        loaded = self._loaded
        for item in items:
            fact = item.fact()
            for k in item.keys:
                facts = loaded.get(k)
                if facts is None:
                    loaded[k] = [fact]
                else:
                    facts.append(fact)

    def memo(self, name: str, key: str, compute: Callable[..., T], *args: Any) -> T:
        """``compute(*args)`` once per loader for ``(name, key)``; later calls answer its
        value (treat it as frozen) and count the keys it read as read again."""
        hit = self._memo.get((name, key))
        if hit is not None:
            self.accessed |= hit[1]
            value: T = hit[0]
            return value
        outer, self.accessed = self.accessed, set()
        try:
            value = compute(*args)
        finally:
            inner = self.accessed
            outer |= inner
            self.accessed = outer
        self._memo[(name, key)] = (value, frozenset(inner))
        return value

    def fetch(self, keys: Collection[str]) -> None:
        missing = sorted({k for k in keys if k not in self._loaded})
        for start in range(0, len(missing), FETCH_BATCH):
            self._fetch(missing[start : start + FETCH_BATCH])

    def _fetch(self, keys: Sequence[str]) -> None:
        tx, t = self._tx, self._tables
        assert tx is not None, "a loader without a transaction holds every fact"
        columns = "f.position, f.recorded_at, f.recorded_by, f.event_type, f.entity, f.data"
        by_entity, entity_param = tx.in_list("f.entity", keys)
        by_key, key_param = tx.in_list("k.key", keys)
        known = ""
        params: list[Any] = [entity_param]
        if self.known_at is not None:
            known = " AND f.recorded_at <= ?"
            params.append(self.known_at)
        params.append(key_param)
        if self.known_at is not None:
            params.append(self.known_at)
        sql = (
            f"SELECT f.entity, {columns} FROM {tx.table(t.entry)} f WHERE {by_entity}{known}"
            f" UNION ALL SELECT k.key, {columns} FROM {tx.table(t.key)} k"
            f" JOIN {tx.table(t.entry)} f ON f.position = k.position WHERE {by_key}{known}"
        )
        found: dict[str, list[Fact]] = defaultdict(list)
        parsed = self._parsed
        for k, position, recorded_at, by, event_type, entity, data in tx.query(sql, params):
            fact = parsed.get(position)
            if fact is None:
                fact = Fact(position, recorded_at, by, event_type, entity, loads(data))
                parsed[position] = fact
            found[k].append(fact)
        for k in keys:
            facts = found.get(k, [])
            facts.sort(key=_position)
            self._loaded[k] = facts


def _position(fact: Fact) -> int:
    return fact.position


#: A folded state: JSON, typed per read model (a TypedDict of what its view reads).
S = TypeVar("S", bound=Mapping[str, Any])


def fold_many(
    fold: Callable[[str, Loader], S | None], entities: Iterable[str], loader: Loader
) -> dict[str, tuple[S | None, frozenset[str]]]:
    """Fold each entity; answer its state and the keys its fold read (its dependencies)."""
    results: dict[str, tuple[S | None, frozenset[str]]] = {}
    pending = sorted(set(entities))
    while pending:
        missing: set[str] = set()
        again: list[str] = []
        for entity in pending:
            loader.accessed = set()
            try:
                state = fold(entity, loader)
            except NeedFacts as need:
                missing |= need.keys
                again.append(entity)
                continue
            results[entity] = (state, frozenset(loader.accessed))
        if again:
            loader.fetch(missing)
        pending = again
    return results


def first(facts: Iterable[Fact], event_type: str, entity: str | None = None) -> Fact | None:
    """The first fact of ``event_type`` (about ``entity`` when given)."""
    for fact in facts:
        if fact.event_type == event_type and (entity is None or fact.entity == entity):
            return fact
    return None
