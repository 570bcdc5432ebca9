"""From ledger pages to read-model transactions: the read models, their positions, the filing.

``rm_tracking`` holds each read model's position (the last ledger position applied) and
the version of its tables; a page is applied to a read model in the same transaction
that moves its position, so each entry is applied exactly once however often the runner
crashes or two runners race.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from eventsourcing.utils import resolve_topic

from ledger.application import Ledger
from ledger.database import Tx, store_trouble
from projections import failures
from projections.adoption import AdoptionModel
from projections.agreement_status import AgreementStatusModel
from projections.assignments import AssignmentsModel
from projections.audit_trail import AuditTrailModel
from projections.consultations import ConsultationsModel
from projections.db import Database
from projections.decision_register import DecisionRegisterModel
from projections.decoding import EntryDecoder
from projections.facts import FactTables, Item
from projections.failures import Failure, describe
from projections.matter_timeline import MatterTimelineModel
from projections.organisations import OrganisationsModel
from projections.readmodel import FoldedReadModel, ReadModel
from projections.search import SearchModel

TRACKING_TABLE = "rm_tracking"
#: Suffix of the tables a rebuild fills before they are swapped in.
REBUILD_SUFFIX = "__new"

AUDIT = AuditTrailModel()
AGREEMENTS = AgreementStatusModel()
ADOPTION = AdoptionModel()
CONSULTATIONS = ConsultationsModel()
DECISIONS = DecisionRegisterModel()
MATTERS = MatterTimelineModel()
ASSIGNMENTS = AssignmentsModel()
ORGANISATIONS = OrganisationsModel()
SEARCH = SearchModel()

FOLDED: tuple[FoldedReadModel[Any], ...] = (
    AGREEMENTS, ADOPTION, CONSULTATIONS, DECISIONS, MATTERS, ASSIGNMENTS, ORGANISATIONS,
)
#: The audit trail comes first: the others fold the facts it files.
READ_MODELS: tuple[ReadModel, ...] = (AUDIT, *FOLDED, SEARCH)
#: Aggregates whose entries no read model keeps (bookkeeping, not registrars' acts).
UNTRACKED_KINDS = frozenset({"idempotency-key"})


class UnknownReadModel(ValueError):
    """A read model name that does not exist."""


def read_models(names: Iterable[str] | None = None) -> list[ReadModel]:
    """The read models called ``names`` (all when None), in a fixed order."""
    if names is None:
        return list(READ_MODELS)
    wanted = set(names)
    unknown = wanted - {m.name for m in READ_MODELS}
    if unknown:
        known = ", ".join(m.name for m in READ_MODELS)
        raise UnknownReadModel(f"no read model {', '.join(sorted(unknown))}; there are {known}")
    return [m for m in READ_MODELS if m.name in wanted]


@functools.cache
def kind_of(topic: str) -> str:
    """The aggregate kind (``decision``, ``agreement``, ...) of an event's topic."""
    module, _, qualname = topic.partition(":")
    outer = qualname.split(".")[0]
    aggregate = resolve_topic(f"{module}:{outer}")
    return str(getattr(aggregate, "kind", outer.lower()))


def ensure_tables(database: Database, models: Sequence[ReadModel] = READ_MODELS) -> None:
    """Create the tracking table and the read models' tables if missing."""
    with database.transaction(write=True) as tx:
        tx.lock_schema()
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {tx.table(TRACKING_TABLE)} ("
            f"read_model {tx.text} PRIMARY KEY, position BIGINT NOT NULL,"
            " version INTEGER NOT NULL)"
        )
        failures.create(tx)
        for model in models:
            model.create(tx)
        tx.executemany(
            f"INSERT INTO {tx.table(TRACKING_TABLE)} (read_model, position, version)"
            " VALUES (?, 0, ?) ON CONFLICT (read_model) DO NOTHING",
            [(m.name, m.version) for m in models],
        )


def tracked(tx: Tx, names: Iterable[str], *, lock: bool = False) -> dict[str, tuple[int, int]]:
    """Position and version of each named read model; ``lock`` holds them until commit."""
    condition, param = tx.in_list("read_model", sorted(names))
    rows = tx.query(
        f"SELECT read_model, position, version FROM {tx.table(TRACKING_TABLE)}"
        f" WHERE {condition} ORDER BY read_model" + (tx.lock_rows_sql() if lock else ""),
        [param],
    )
    return {name: (int(position), int(version)) for name, position, version in rows}


def stale(tx: Tx, models: Sequence[ReadModel]) -> list[ReadModel]:
    """Those of ``models`` stored at another version than theirs, to be rebuilt: all of
    them when the audit trail is (every folded read model is filed from its facts)."""
    stored = tracked(tx, (m.name for m in models))
    found = [m for m in models if stored[m.name][1] != m.version]
    return list(models) if AUDIT in found else found


def set_position(tx: Tx, name: str, position: int, version: int) -> None:
    tx.execute(
        f"UPDATE {tx.table(TRACKING_TABLE)} SET position = ?, version = ? WHERE read_model = ?",
        [position, version, name],
    )


def read_page(
    ledger: Ledger, after: int, limit: int, upto: int | None = None
) -> tuple[int | None, list[Item]]:
    """The next ``limit`` entries after position ``after`` (up to ``upto``), decoded (see
    :mod:`projections.decoding`) and filed; with the last position read (None when there
    were none).

    Bookkeeping entries are read but not returned: the position still moves past them.
    """
    last, items, _ = read_page_carefully(ledger, after, limit, upto, careful=False)
    return last, items


def read_page_carefully(
    ledger: Ledger, after: int, limit: int, upto: int | None = None, *, careful: bool = True
) -> tuple[int | None, list[Item], list[Failure]]:
    """:func:`read_page`, and ``careful``: an entry that cannot be decoded or filed is left
    out and answered as a failure of the audit trail (which files every entry)."""
    notifications = ledger.recorder.select_notifications(
        start=after, limit=limit, stop=upto, inclusive_of_start=False
    )
    if not notifications:
        return None, [], []
    decoder = EntryDecoder(ledger.mapper)
    items = []
    failed = []
    for n in notifications:
        try:
            kind = kind_of(n.topic)
            if kind in UNTRACKED_KINDS:
                continue
            item = decoder.item(n, kind)
            if careful:
                file([item])
        except Exception as e:
            if not careful or store_trouble(e):
                raise
            failed.append(Failure(AUDIT.name, n.id, describe(e)))
            continue
        items.append(item)
    if not careful:
        file(items)
    return notifications[-1].id, items, failed


def file(items: Sequence[Item]) -> None:
    """Give each item the keys it is filed under: its entity's, then those the folds ask for."""
    for item in items:
        own = item.key
        extra = [k for model in FOLDED for k in model.extra_keys(item) if k != own]
        if extra:
            item.keys = (own, *dict.fromkeys(extra))


def apply_page(
    tx: Tx,
    models: Sequence[ReadModel],
    items: Sequence[Item],
    positions: dict[str, int],
    facts: FactTables,
    *,
    suffix: str = "",
    bulk: bool = False,
) -> None:
    """Apply each entry after a read model's position to that read model, in model order."""
    for model in models:
        done = positions[model.name]
        todo = [i for i in items if i.position > done]
        if todo:
            model.apply(tx, todo, facts, suffix, bulk=bulk)


def touched_keys(tx: Tx, facts: FactTables, after: int, upto: int) -> set[str]:
    """Every key the facts after position ``after`` up to ``upto`` are filed under."""
    return {
        k for (k,) in tx.query(
            f"SELECT entity FROM {tx.table(facts.entry)} WHERE position > ? AND position <= ?"
            f" UNION SELECT key FROM {tx.table(facts.key)} WHERE position > ? AND position <= ?",
            [after, upto, after, upto],
        )
    }


def apply_page_carefully(
    tx: Tx,
    models: Sequence[ReadModel],
    items: Sequence[Item],
    positions: dict[str, int],
    facts: FactTables,
    *,
    unfiled: Iterable[int] = (),
) -> list[Failure]:
    """:func:`apply_page`, setting aside each entry a read model fails on: the others (and
    that read model's other entries) are applied. Answers the failures.

    Entries at ``unfiled`` positions (the audit trail could not file them) are applied to
    no folded read model: their facts are not there to fold. Store trouble is raised.
    """
    failed: list[Failure] = []
    unfiled = set(unfiled)
    for model in models:
        done = positions[model.name]
        todo = [i for i in items if i.position > done
                and (model is AUDIT or i.position not in unfiled)]
        if not todo:
            continue
        try:
            with tx.savepoint():
                model.apply(tx, todo, facts)
            continue
        except Exception as e:
            if store_trouble(e):
                raise
        for item in todo:
            error = apply_one(tx, model, item, facts)
            if error is not None:
                failed.append(error)
                if model is AUDIT:
                    unfiled.add(item.position)
    return failed


def apply_one(
    tx: Tx, model: ReadModel, item: Item, facts: FactTables, suffix: str = "",
    *, bulk: bool = False,
) -> Failure | None:
    """Apply one entry to one read model in a savepoint; answer its failure, if any."""
    try:
        with tx.savepoint():
            model.apply(tx, [item], facts, suffix, bulk=bulk)
    except Exception as e:
        if store_trouble(e):
            raise
        return Failure(model.name, item.position, describe(e))
    return None
