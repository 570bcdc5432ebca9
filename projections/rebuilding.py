"""Rebuild read models beside the live ones, then swap them in at once.

The new copies fill tables named with a suffix. Rebuilding the audit trail reads the whole
ledger a page per transaction, filing each entry; rebuilding a folded read model folds
every one of its entities from the facts (the audit trail's, or its new copy's when both
are rebuilt), once each, at the end. On PostgreSQL a large rebuild spreads both over
worker processes (an entry is filed from its own data alone, and entities fold
independently); a script calling :func:`rebuild`
then needs the usual ``if __name__ == "__main__":`` guard. One last transaction locks the
read models' positions, applies whatever was appended meanwhile, drops the live tables,
renames the new ones into their place and records the positions: readers see the old read
model or the new one, never a half-built one.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed

import structlog

from ledger.application import Ledger
from ledger.settings import Settings
from ledger.storage import persistence_env
from projections.db import Database
from projections.facts import FactTables, fact_tables
from projections.pipeline import (
    AUDIT,
    REBUILD_SUFFIX,
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
    ReadModel,
    materialise,
    root_chunks,
)

log = structlog.get_logger(__name__)

#: Called with (position reached, ledger head) as the rebuild goes.
Progress = Callable[[int, int], None]

REBUILD_PAGE = 5000
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
    ledger = Ledger(env=persistence_env(settings, schema=schema))
    database = Database(settings, schema=schema)
    try:
        return rebuild_into(
            database, ledger, read_models([name] if name else None), progress, page_size,
            workers=workers,
        )
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
        if with_facts:
            position = _file_all(database, ledger, pool, head, page_size, progress)
            AUDIT.finish(database, facts, REBUILD_SUFFIX)
        else:
            with database.transaction(write=False) as tx:
                position = tracked(tx, [AUDIT.name])[AUDIT.name][0]
        _materialise_all(database, pool, folded, facts)
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
    if progress is not None:
        progress(position, position)
    log.info("rebuild swapped in", read_models=names, position=position)
    return position


def _default_workers(database: Database, head: int) -> int:
    """Workers pay off for a large ledger on PostgreSQL with cores to spare: one core is left
    to the database server, and on two cores a single process is faster (measured)."""
    cores = os.cpu_count() or 1
    if not database.is_postgres or head < PARALLEL_FROM or cores < 4:
        return 1
    return min(cores - 1, MAX_WORKERS)


def _file_all(
    database: Database,
    ledger: Ledger,
    pool: ProcessPoolExecutor | None,
    head: int,
    page_size: int,
    progress: Progress | None,
) -> int:
    """File every entry up to ``head`` in the new audit trail; answer the position reached.

    Each page is a transaction of its own; workers take pages by position range (an
    entry is filed from its own data alone, so the order of pages does not matter).
    """
    ranges = [(after, min(after + page_size, head)) for after in range(0, head, page_size)]
    if pool is None:
        for after, upto in ranges:
            _file(ledger, database, after, upto, page_size)
            if progress is not None:
                progress(upto, head)
        return head
    futures = [pool.submit(_file_range, after, upto, page_size) for after, upto in ranges]
    for done, future in enumerate(as_completed(futures), start=1):
        future.result()
        if progress is not None:
            progress(min(done * page_size, head), head)
    return head


def _file(ledger: Ledger, database: Database, after: int, upto: int, page_size: int) -> None:
    last, items = read_page(ledger, after, page_size, upto)
    if last is not None:
        with database.transaction(write=True) as tx:
            apply_page(
                tx, [AUDIT], items, {AUDIT.name: after}, fact_tables(REBUILD_SUFFIX),
                suffix=REBUILD_SUFFIX, bulk=True,
            )


def _materialise_all(
    database: Database,
    pool: ProcessPoolExecutor | None,
    models: Sequence[FoldedReadModel],
    facts: FactTables,
) -> None:
    """Fold every entity of ``models`` into their new tables."""
    if not models:
        return
    size = MATERIALISE_CHUNK if pool is None else MATERIALISE_CHUNK // 4
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
    _file(*_worker, after, upto, page_size)


def _materialise_chunk(names: list[str], chunk: dict[str, list[str]], facts: FactTables) -> None:
    assert _worker is not None
    models = [m for m in read_models(names) if isinstance(m, FoldedReadModel)]
    materialise(_worker[1], models, chunk, facts, REBUILD_SUFFIX)
