"""Rebuild read models beside the live ones, then swap them in at once.

The new copies fill tables named with a suffix. Rebuilding the audit trail reads the whole
ledger a page per transaction, filing each entry; rebuilding a folded read model folds
every one of its entities, once each, at the end. When everything is rebuilt in this
process the entries stay in memory as they are filed and the folds read them there
(:class:`Held`); otherwise they read the facts back from the audit trail's tables (its new
copy's when both are rebuilt). In this process a thread reads the next page and another
writes the last one while this one works, so that the database works meanwhile.
On PostgreSQL a large rebuild on four cores or more spreads filing and folding over
worker processes instead (an entry is filed from its own data alone, and entities fold
independently); a script calling :func:`rebuild` then needs the usual
``if __name__ == "__main__":`` guard. One last transaction locks the read models'
positions, applies whatever was appended meanwhile, drops the live tables, renames the
new ones into their place and records the positions: readers see the old read model or
the new one, never a half-built one.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

import structlog

from ledger.application import Ledger
from ledger.database import store_trouble
from ledger.errors import SamsynError
from ledger.settings import Settings
from ledger.storage import persistence_env
from projections import failures
from projections.db import Database
from projections.facts import FactTables, Item, Loader, fact_tables
from projections.failures import Failure, ReadModelFailed, describe
from projections.pipeline import (
    AUDIT,
    FOLDED,
    REBUILD_SUFFIX,
    apply_one,
    apply_page,
    ensure_tables,
    read_models,
    read_page,
    set_position,
    touched_keys,
    tracked,
)
from projections.readmodel import (
    MATERIALISE_CHUNK,
    FoldedReadModel,
    FoldedRows,
    ReadModel,
    chunk_roots,
    materialise,
    root_chunks,
)

log = structlog.get_logger(__name__)

T = TypeVar("T")

#: Called with (position reached, ledger head) as the rebuild goes.
Progress = Callable[[int, int], None]

REBUILD_PAGE = 5000
#: Up to this many entries a rebuild run in one process keeps every entry in memory as it
#: files it, and folds from there rather than reading the facts back (measured: about
#: 3.5 KB of memory per entry at the peak, so some 1.7 GB at this many).
HOLD_UP_TO = 500_000
#: Below this many entries a rebuild runs in this process (workers take a while to start).
PARALLEL_FROM = 20_000
MAX_WORKERS = 4


def rebuild(
    settings: Settings,
    name: str | None = None,
    progress: Progress | None = None,
    *,
    schema: str | None = None,
    page_size: int = REBUILD_PAGE,
    workers: int | None = None,
) -> int:
    """Rebuild every read model, or the one called ``name``; answer the position reached.

    ``workers``: processes to use (default: on PostgreSQL, for a large ledger and with four
    cores or more, up to four; else none besides this one).
    """
    models = read_models([name] if name else None)
    ledger = Ledger(env=persistence_env(settings, schema=schema))
    database = Database(settings, schema=schema)
    try:
        return rebuild_into(database, ledger, models, progress, page_size, workers=workers)
    except Exception as e:
        if isinstance(e, SamsynError) or store_trouble(e):
            raise
        raise SamsynError(f"rebuilding {name or 'the read models'} failed: {describe(e)}") from e
    finally:
        database.close()
        ledger.close()


def rebuild_into(
    database: Database,
    ledger: Ledger,
    models: Sequence[ReadModel],
    progress: Progress | None = None,
    page_size: int = REBUILD_PAGE,
    *,
    workers: int | None = None,
) -> int:
    """Rebuild ``models`` in ``database`` from ``ledger`` and swap them in."""
    ensure_tables(database)
    names = [m.name for m in models]
    folded = [m for m in models if isinstance(m, FoldedReadModel)]
    with_facts = AUDIT in models
    facts = fact_tables(REBUILD_SUFFIX if with_facts else "")
    with database.transaction(write=True) as tx:
        tx.lock_schema()
        for model in models:
            for table in model.tables(REBUILD_SUFFIX):
                tx.execute(f"DROP TABLE IF EXISTS {tx.table(table)}")
            model.create(tx, REBUILD_SUFFIX)
    head = ledger.max_position()
    if workers is None:
        workers = _default_workers(database, head)
    log.info("rebuild started", read_models=names, head=head, workers=workers)
    pool = _pool(database, workers) if workers > 1 else None
    try:
        with _no_cycle_collection():
            position = _build(database, ledger, models, pool, head, page_size, progress)
    finally:
        if pool is not None:
            pool.shutdown()
    with database.transaction(write=True) as tx:
        tx.lock_schema()
        locked = tracked(tx, {*names, AUDIT.name}, lock=True)
        if with_facts:
            while (page := read_page(ledger, position, page_size))[0] is not None:
                last, items = page
                apply_page(
                    tx, models, items, dict.fromkeys(names, position), facts,
                    suffix=REBUILD_SUFFIX,
                )
                position = last or position
        elif locked[AUDIT.name][0] > position:
            touched = touched_keys(tx, facts, position, locked[AUDIT.name][0])
            for model in folded:
                model.refresh(tx, touched, facts, REBUILD_SUFFIX)
            position = locked[AUDIT.name][0]
        for model in models:
            for table, new in zip(model.tables(), model.tables(REBUILD_SUFFIX), strict=True):
                tx.execute(f"DROP TABLE IF EXISTS {tx.table(table)}")
                tx.execute(f'ALTER TABLE {tx.table(new)} RENAME TO "{table}"')
            set_position(tx, model.name, position, model.version)
        failures.clear_all(tx, names)
    if progress is not None:
        progress(position, position)
    log.info("rebuild swapped in", read_models=names, position=position)
    return position


def _build(
    database: Database,
    ledger: Ledger,
    models: Sequence[ReadModel],
    pool: ProcessPoolExecutor | None,
    head: int,
    page_size: int,
    progress: Progress | None,
) -> int:
    """Fill the new tables of ``models`` up to ``head`` (or, without the audit trail, up to
    its position); answer that position."""
    folded = [m for m in models if isinstance(m, FoldedReadModel)]
    with_facts = AUDIT in models
    facts = fact_tables(REBUILD_SUFFIX if with_facts else "")
    held = Held(facts) if with_facts and folded and pool is None and head <= HOLD_UP_TO else None
    with Background("samsyn-rebuild-writer") as writer:
        if with_facts:
            position = _file_all(database, ledger, pool, head, page_size, progress, held, writer)
            writer.submit(AUDIT.finish, database, facts, REBUILD_SUFFIX)
        else:
            with database.transaction(write=False) as tx:
                position = tracked(tx, [AUDIT.name])[AUDIT.name][0]
        _materialise_all(database, pool, folded, facts, held, writer)
    for model in models:
        if model is not AUDIT and not isinstance(model, FoldedReadModel):
            model.finish(database, facts, REBUILD_SUFFIX)  # built from the filed entries
    return position


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector (the whole process's) while a rebuild files and folds.

    A rebuild makes millions of small containers and keeps many (the facts it holds, the
    derivations it memoises); each automatic collection walks all those it kept, again
    and again, to find cycles there are none of (measured: a third of the time the ledger's
    entries took to decode). Memory without cycles is freed as usual meanwhile; the held
    facts must be gone before the collector is back, or its first collection walks them.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _default_workers(database: Database, head: int) -> int:
    """Workers pay off for a large ledger on PostgreSQL with cores to spare: one core is left
    to the database server, and on two cores a single process is faster (measured)."""
    cores = os.cpu_count() or 1
    if not database.is_postgres or head < PARALLEL_FROM or cores < 4:
        return 1
    return min(cores - 1, MAX_WORKERS)


class Held:
    """Every entry a rebuild files, kept for its folds: a loader holding all their facts,
    and the entities they create in ledger order (entity, event type)."""

    def __init__(self, facts: FactTables) -> None:
        self.loader = Loader(None, facts)
        self.roots: list[tuple[str, str]] = []
        self._root_events = frozenset(e for m in FOLDED for e in m.root_events)

    def add(self, items: Sequence[Item]) -> None:
        self.loader.hold(items)
        root_events = self._root_events
        self.roots.extend((i.key, i.event_type) for i in items if i.event_type in root_events)


def _file_all(
    database: Database,
    ledger: Ledger,
    pool: ProcessPoolExecutor | None,
    head: int,
    page_size: int,
    progress: Progress | None,
    held: Held | None,
    writer: Background,
) -> int:
    """File every entry up to ``head`` in the new audit trail (and keep them in ``held``);
    answer the position reached.

    Each page is a transaction of its own; workers take pages by position range (an
    entry is filed from its own data alone, so the order of pages does not matter).
    In this process the next page is read in one thread and the last one written in
    another while this one holds its entries: the database works as Python does.
    """
    ranges = [(after, min(after + page_size, head)) for after in range(0, head, page_size)]
    if pool is None:
        with Background("samsyn-rebuild-reader", ahead=2) as reader:
            pages = reader.map(read_page, ((ledger, a, page_size, u) for a, u in ranges))
            for (after, upto), (last, items) in zip(ranges, pages, strict=True):
                if last is not None:
                    writer.submit(_file, database, after, items)
                if held is not None:
                    held.add(items)
                if progress is not None:
                    progress(upto, head)
        return head
    futures = [pool.submit(_file_range, after, upto, page_size) for after, upto in ranges]
    for done, future in enumerate(as_completed(futures), start=1):
        future.result()
        if progress is not None:
            progress(min(done * page_size, head), head)
    return head


def _file(database: Database, after: int, items: Sequence[Item]) -> None:
    """File ``items``, the entries after position ``after``, in one transaction.

    Raises :class:`~projections.failures.ReadModelFailed` naming the first entry that
    cannot be filed."""
    facts = fact_tables(REBUILD_SUFFIX)
    try:
        with database.transaction(write=True) as tx:
            apply_page(
                tx, [AUDIT], items, {AUDIT.name: after}, facts, suffix=REBUILD_SUFFIX,
                bulk=True,
            )
    except Exception as e:
        if store_trouble(e):
            raise
        raise ReadModelFailed(_first_failure(database, items, facts, e)) from e


class _Undo(Exception):
    """Leaves a transaction rolled back."""


def _first_failure(
    database: Database, items: Sequence[Item], facts: FactTables, error: Exception
) -> Failure:
    """The first of ``items`` the audit trail cannot file (tried one by one, then undone)."""
    found = None
    with suppress(_Undo), database.transaction(write=True) as tx:
        for item in items:
            found = apply_one(tx, AUDIT, item, facts, REBUILD_SUFFIX, bulk=True)
            if found is not None:
                break
        raise _Undo
    return found or Failure(AUDIT.name, items[0].position if items else 0, describe(error))


def _materialise_all(
    database: Database,
    pool: ProcessPoolExecutor | None,
    models: Sequence[FoldedReadModel[Any]],
    facts: FactTables,
    held: Held | None,
    writer: Background,
) -> None:
    """Fold every entity of ``models`` into their new tables: from the facts ``held``, if
    any (each chunk written by ``writer`` while the next one folds), else from those
    stored (once ``writer`` has stored them)."""
    if not models:
        return
    size = MATERIALISE_CHUNK if pool is None else MATERIALISE_CHUNK // 4
    if held is not None:
        for chunk in chunk_roots(models, held.roots, size):
            rows = [(m, m.fold_rows(chunk[m.name], held.loader)) for m in models]
            writer.submit(_store, database, rows)
        return
    writer.wait()
    chunks = root_chunks(database, models, facts, size)
    if pool is None:
        for chunk in chunks:
            materialise(database, models, chunk, facts, REBUILD_SUFFIX)
        return
    names = [m.name for m in models]
    for future in as_completed(
        [pool.submit(_materialise_chunk, names, chunk, facts) for chunk in chunks]
    ):
        future.result()


def _store(database: Database, rows: Sequence[tuple[FoldedReadModel[Any], FoldedRows]]) -> None:
    """Store a chunk's folded rows in the new tables, in one transaction."""
    with database.transaction(write=True) as tx:
        for model, folded in rows:
            model.store(tx, folded, REBUILD_SUFFIX, fresh=True)


class Background:
    """Calls run in order in one thread of its own while the caller goes on.

    At most ``ahead`` calls wait their turn (submitting another first waits for the oldest);
    a call's error is raised where its result is asked for, or at the latest on leaving
    the ``with`` block, which waits for every call (or, leaving on an error, for the
    running one only).
    """

    def __init__(self, name: str, ahead: int = 4) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._ahead = ahead
        self._pending: deque[Future[Any]] = deque()

    def submit(self, call: Callable[..., T], *args: Any) -> Future[T]:
        pending = self._pending
        while pending and pending[0].done():
            pending.popleft().result()
        while len(pending) >= self._ahead:
            pending.popleft().result()
        future = self._executor.submit(call, *args)
        pending.append(future)
        return future

    def map(self, call: Callable[..., T], arguments: Iterable[tuple[Any, ...]]) -> Iterator[T]:
        """``call(*args)`` for each of ``arguments``, in order, each computed while the
        caller works on the one before (up to ``ahead`` ahead)."""
        waiting = iter(arguments)
        submit = self._executor.submit
        futures = deque(submit(call, *args) for args in itertools.islice(waiting, self._ahead))
        while futures:
            result = futures.popleft().result()
            futures.extend(submit(call, *args) for args in itertools.islice(waiting, 1))
            yield result

    def wait(self) -> None:
        """Wait for every call submitted so far; raise the first error."""
        while self._pending:
            self._pending.popleft().result()

    def __enter__(self) -> Background:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        try:
            if kind is None:
                self.wait()
        finally:
            self._executor.shutdown(wait=True, cancel_futures=True)


# Worker processes -------------------------------------------------------------------------

_worker: tuple[Ledger, Database] | None = None


def _pool(database: Database, workers: int) -> ProcessPoolExecutor:
    """Worker processes, started at once."""
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(database.settings, database.schema),
    )
    for _ in range(workers):
        pool.submit(_ready)
    return pool


def _ready() -> None:
    """Nothing: submitted to make the pool start its workers."""


def _start_worker(settings: Settings, schema: str | None) -> None:
    global _worker
    _worker = (
        Ledger(env=persistence_env(settings, schema=schema)),
        Database(settings, schema=schema),
    )


def _file_range(after: int, upto: int, page_size: int) -> None:
    assert _worker is not None
    ledger, database = _worker
    last, items = read_page(ledger, after, page_size, upto)
    if last is not None:
        _file(database, after, items)


def _materialise_chunk(names: list[str], chunk: dict[str, list[str]], facts: FactTables) -> None:
    assert _worker is not None
    models = [m for m in read_models(names) if isinstance(m, FoldedReadModel)]
    materialise(_worker[1], models, chunk, facts, REBUILD_SUFFIX)
