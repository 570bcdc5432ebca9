"""What every read model is to the runner, and the folded read model six of them are.

A :class:`ReadModel` owns a few tables; the runner hands it pages of entries inside the
transaction that also moves its tracked position. The audit trail keeps every entry, filed
under the keys of the entities it concerns (the *facts*, see :mod:`projections.facts`). The
six others are :class:`FoldedReadModel`\\ s; each keeps

``rm_<name>_current``  the folded current state of each of its entities (JSON), with
                       filter columns, for answers about today as known now;
``rm_<name>_dep``      the keys each entity's fold read besides its own, so that a new
                       fact refreshes exactly the entities whose answer it can change.

Past states (``known_at``) are folded from the facts recorded by then, unless every fact
the current state was folded from had been recorded by then (its ``settled_at``): then the
current state is that past state too. Either way the answer *as of* a domain date is
computed from the state by the read model's view function.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, cast

from projections.db import Database, Tx
from projections.facts import FactTables, Item, Loader, S, dumps, fold_many, loads

#: Entities folded per transaction when a rebuilt read model is materialised.
MATERIALISE_CHUNK = 10000


class ReadModel(ABC):
    """A read model the runner feeds: the tables it owns and how it applies entries."""

    name: ClassVar[str]
    #: Bumped when the tables or the fold change; a stored read model of another version
    #: is rebuilt by the runner before it follows the ledger.
    version: ClassVar[int] = 1

    @abstractmethod
    def tables(self, suffix: str = "") -> Sequence[str]:
        """Names of the tables this read model owns (with a rebuild's suffix)."""

    @abstractmethod
    def create(self, tx: Tx, suffix: str = "") -> None:
        """Create the tables (named with ``suffix``) if they do not exist."""

    @abstractmethod
    def apply(
        self, tx: Tx, items: Sequence[Item], facts: FactTables, suffix: str = "",
        *, bulk: bool = False,
    ) -> None:
        """Apply entries, in ledger order; ``facts`` already holds them.

        ``bulk``: part of a rebuild, completed by :meth:`finish` before the swap.
        """

    def finish(self, database: Database, facts: FactTables, suffix: str) -> None:  # noqa: B027
        """Complete a bulk load (a rebuild) before it is swapped in."""


def state_json(state: Mapping[str, Any]) -> str:
    return dumps(state)


@dataclass(frozen=True)
class FoldedTables:
    current: str
    dep: str


@dataclass(frozen=True)
class FoldedRows:
    """Some entities folded: their rows of a read model's current-state and dependency
    tables (an entity that does not exist has none)."""

    entities: list[str]
    current: list[tuple[Any, ...]]
    deps: list[tuple[str, str]]


class FoldedReadModel(ReadModel, Generic[S]):
    """A read model that folds one entity's facts at a time and keeps the current states.

    ``S`` is the type of its states (a TypedDict of what its view reads); a state read
    back from its table is taken to be one, as the fold wrote it.
    """

    #: The kind of entity this read model answers about (``agreement``, ``decision``, ...).
    entity_kind: ClassVar[str]
    #: Event types that create one of those entities.
    root_events: ClassVar[frozenset[str]]
    #: Extra filter columns of the current-state table: (name, "text" | "int").
    columns: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: 2: the current-state table keeps ``settled_at``.
    version: ClassVar[int] = 2

    def extra_keys(self, item: Item) -> Sequence[str]:
        """Keys besides its entity's own that this read model's folds find the entry by."""
        return ()

    @abstractmethod
    def fold(self, entity: str, loader: Loader) -> S | None:
        """The state of ``entity`` from its facts (None if it was never registered).

        A state is JSON with at least ``voided`` (bool) and ``recorded_at`` (when the
        entity was first recorded, microseconds), and whatever the view needs. It must not
        depend on the date asked about: the view answers *as of* any date from it.
        """

    def column_values(self, state: S) -> tuple[Any, ...]:
        """Values of :attr:`columns` for ``state``."""
        return ()

    # Tables ---------------------------------------------------------------------------------

    def tables_for(self, suffix: str = "") -> FoldedTables:
        return FoldedTables(
            current=f"rm_{self.name}_current{suffix}", dep=f"rm_{self.name}_dep{suffix}"
        )

    def tables(self, suffix: str = "") -> Sequence[str]:
        t = self.tables_for(suffix)
        return (t.current, t.dep)

    def create(self, tx: Tx, suffix: str = "") -> None:
        t = self.tables_for(suffix)
        token = secrets.token_hex(4)
        text = tx.text
        if not tx.table_exists(t.current):
            extra = "".join(
                f", {name} {text if kind == 'text' else 'BIGINT'}" for name, kind in self.columns
            )
            tx.execute(
                f"CREATE TABLE {tx.table(t.current)} (entity {text} NOT NULL,"
                f" first_recorded_at BIGINT NOT NULL, settled_at BIGINT NOT NULL,"
                f" voided INTEGER NOT NULL, state TEXT NOT NULL{extra},"
                f" CONSTRAINT pk_{token}_c PRIMARY KEY (entity))"
            )
            if self.columns:  # the lists' filter (organisation, joint body): no full scans
                tx.execute(f"CREATE INDEX ix_{token}_c ON {tx.table(t.current)}"
                           f" ({self.columns[0][0]})")
        if not tx.table_exists(t.dep):
            tx.execute(
                f"CREATE TABLE {tx.table(t.dep)} (key {text} NOT NULL, entity {text} NOT NULL,"
                f" CONSTRAINT pk_{token}_d PRIMARY KEY (key, entity))"
            )
            tx.execute(f"CREATE INDEX ix_{token}_d ON {tx.table(t.dep)} (entity)")

    # Applying entries -----------------------------------------------------------------------

    def apply(
        self, tx: Tx, items: Sequence[Item], facts: FactTables, suffix: str = "",
        *, bulk: bool = False,
    ) -> None:
        if not bulk:
            self.refresh(tx, {k for item in items for k in item.keys}, facts, suffix)

    def refresh(self, tx: Tx, touched: set[str], facts: FactTables, suffix: str = "") -> None:
        """Fold again every entity whose answer facts filed under ``touched`` can change."""
        if not touched:
            return
        t = self.tables_for(suffix)
        prefix = self.entity_kind + ":"
        condition, param = tx.in_list("key", touched)
        dirty = {k for k in touched if k.startswith(prefix)}
        dirty.update(
            entity for (entity,) in
            tx.query(f"SELECT DISTINCT entity FROM {tx.table(t.dep)} WHERE {condition}", [param])
        )
        self.materialise(tx, dirty, facts, suffix)

    def materialise(
        self,
        tx: Tx,
        entities: Iterable[str],
        facts: FactTables,
        suffix: str = "",
        loader: Loader | None = None,
        *,
        fresh: bool = False,
    ) -> None:
        """Fold ``entities`` afresh and store their current states and dependencies.

        ``fresh``: they have no rows yet (a rebuild's first fold), nothing to replace.
        """
        self.store(tx, self.fold_rows(entities, loader or Loader(tx, facts)), suffix, fresh=fresh)

    def fold_rows(self, entities: Iterable[str], loader: Loader) -> FoldedRows:
        """Fold ``entities``; answer the rows they take in this read model's tables."""
        results = fold_many(self.fold, entities, loader)
        current: list[tuple[Any, ...]] = []
        deps: list[tuple[str, str]] = []
        for entity, (state, read) in results.items():
            if state is None:
                continue
            current.append(
                (entity, state["recorded_at"], loader.settled_at(read),
                 int(bool(state["voided"])), state_json(state), *self.column_values(state))
            )
            deps.extend((k, entity) for k in read if k != entity)
        return FoldedRows(list(results), current, deps)

    def store(self, tx: Tx, rows: FoldedRows, suffix: str = "", *, fresh: bool = False) -> None:
        """Store folded ``rows`` in place of the entities' rows (``fresh``: there are none)."""
        t = self.tables_for(suffix)
        if not fresh and rows.entities:
            condition, param = tx.in_list("entity", rows.entities)
            tx.execute(f"DELETE FROM {tx.table(t.current)} WHERE {condition}", [param])
            tx.execute(f"DELETE FROM {tx.table(t.dep)} WHERE {condition}", [param])
        tx.insert(
            t.current,
            ("entity", "first_recorded_at", "settled_at", "voided", "state",
             *(c for c, _ in self.columns)),
            rows.current,
        )
        tx.insert(t.dep, ("key", "entity"), rows.deps)

    # Reading --------------------------------------------------------------------------------

    def states(
        self, tx: Tx, entities: Iterable[str], facts: FactTables, known_at: int | None = None
    ) -> dict[str, S]:
        """States of ``entities``: current ones stored; past ones (``known_at``) stored if
        they had settled by then, else folded from the facts recorded by then."""
        wanted = list(dict.fromkeys(entities))
        if not wanted:
            return {}
        condition, param = tx.in_list("entity", wanted)
        settled, args = ("", [param]) if known_at is None else (" AND settled_at <= ?",
                                                                 [param, known_at])
        stored: dict[str, S] = {
            entity: cast(S, loads(state)) for entity, state in tx.query(
                f"SELECT entity, state FROM {tx.table(self.tables_for().current)}"
                f" WHERE {condition}{settled}",
                args,
            )
        }
        unsettled = [] if known_at is None else [e for e in wanted if e not in stored]
        if unsettled:
            folded = fold_many(self.fold, unsettled, Loader(tx, facts, known_at))
            stored.update((e, s) for e in unsettled if (s := folded[e][0]) is not None)
        return {e: stored[e] for e in wanted if e in stored}

    def state(
        self, tx: Tx, entity: str, facts: FactTables, known_at: int | None = None
    ) -> S | None:
        return self.states(tx, [entity], facts, known_at).get(entity)

    def select(
        self,
        tx: Tx,
        facts: FactTables,
        known_at: int | None = None,
        where: str = "",
        params: Sequence[Any] = (),
    ) -> list[S]:
        """States of the entities matching ``where`` (on the current-state columns).

        Without ``known_at`` voided entities are left out at once; with it, candidates
        are those first recorded by then, folded as known then (voided or not; the view
        drops the voided).
        """
        conditions = [where] if where else []
        args = list(params)
        if known_at is None:
            conditions.append("voided = 0")
        else:
            conditions.append("first_recorded_at <= ?")
            args.append(known_at)
        rows = tx.query(
            f"SELECT entity, state FROM {tx.table(self.tables_for().current)}"
            f" WHERE {' AND '.join(conditions)} ORDER BY first_recorded_at, entity",
            args,
        )
        if known_at is None:
            return [cast(S, loads(state)) for _, state in rows]
        return list(self.states(tx, [entity for entity, _ in rows], facts, known_at).values())


def root_chunks(
    database: Database, models: Sequence[FoldedReadModel[Any]], facts: FactTables, size: int
) -> list[dict[str, list[str]]]:
    """Every entity of ``models``, in ledger order, in chunks of ``size``, by read model."""
    events = sorted({event for model in models for event in model.root_events})
    with database.transaction(write=False) as tx:
        condition, param = tx.in_list("event_type", events)
        roots = tx.query(
            f"SELECT entity, event_type FROM {tx.table(facts.entry)} WHERE {condition}"
            " ORDER BY position",
            [param],
        )
    return chunk_roots(models, roots, size)


def chunk_roots(
    models: Sequence[FoldedReadModel[Any]], roots: Sequence[tuple[str, str]], size: int
) -> list[dict[str, list[str]]]:
    """``roots`` (entity, the event type that created it; in ledger order) of ``models`` in
    chunks of ``size``, by read model."""
    by_root = {event: model.name for model in models for event in model.root_events}
    mine = [(entity, by_root[event]) for entity, event in roots if event in by_root]
    chunks = []
    for start in range(0, len(mine), size):
        chunk: dict[str, list[str]] = {m.name: [] for m in models}
        for entity, name in mine[start : start + size]:
            chunk[name].append(entity)
        chunks.append(chunk)
    return chunks


def materialise(
    database: Database,
    models: Sequence[FoldedReadModel[Any]],
    chunk: dict[str, list[str]],
    facts: FactTables,
    suffix: str,
    loader: Loader | None = None,
) -> None:
    """Fold a chunk of entities of several read models into their new (empty) tables.

    The chunk is folded over one loader (``loader``, else one of its own): the facts its
    entities share are fetched and parsed once, derived decisions computed once.
    """
    with database.transaction(write=True) as tx:
        loader = loader or Loader(tx, facts)
        for model in models:
            model.materialise(tx, chunk[model.name], facts, suffix, loader, fresh=True)
