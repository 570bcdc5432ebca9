"""Read model 7, the audit trail: who recorded what and when, corrections and voidings with reasons.

Every entry of the ledger is kept here, voided ones too (flagged), each with the domain
date it speaks of: an entry creating an entity, or naming another act whose date it
shares (a principal's decision on a recommendation is the decision's), is dated by that
act's date as corrected by then — the correction is found when the trail is read, so a
trail *as known at* a moment before it still shows the old date. Answering *as known at*
a moment filters on recorded time, *as of* a date on the domain date (registry acts
without one, such as corrections, always show). Its tables are also the facts the six
other read models fold.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from ledger.database import Tx
from projections.db import Database
from projections.derivations import DATE_FIELD, Correction, dated_by, describe, primary_date
from projections.events import CORRECTED, CREATED, VOIDED
from projections.facts import (
    FactTables,
    Item,
    fact_tables,
    from_micros,
    loads,
    parse_date,
    to_micros,
)
from projections.readmodel import ReadModel

Adjustment = Literal["correction", "voiding"]


@dataclass(frozen=True)
class AuditEntry:
    """One entry: what was recorded (``event_type`` on ``kind`` ``ref``), by whom and when."""

    position: int
    recorded_at: datetime
    recorded_by: str | None  # None: hidden from the reader (api/redaction.py)
    event_type: str
    kind: str
    ref: str
    on: date | None
    summary: str
    data: dict[str, Any]
    adjustment: Adjustment | None
    reason: str | None
    correction: Correction | None
    entity_voided: bool


class AuditTrailModel(ReadModel):
    """Every entry once, filed under its entity and the keys the folded read models ask for.

    Its tables are the facts the other read models fold (see :mod:`projections.facts`):
    ``rm_audit_entry`` (one row per entry, indexed by entity, recorder, recorded time and
    adjustment) and ``rm_audit_key`` (the further keys an entry is filed under).
    """

    name = "audit"
    #: 2: ``dated_by`` (the act whose date an entry speaks of) and ``sets_date`` (a
    #: correction's new date of its entity).
    version = 2

    def tables(self, suffix: str = "") -> Sequence[str]:
        t = fact_tables(suffix)
        return (t.entry, t.key)

    def create(self, tx: Tx, suffix: str = "") -> None:
        t = fact_tables(suffix)
        token = secrets.token_hex(4)
        text = tx.text
        if not tx.table_exists(t.entry):
            tx.execute(
                f"CREATE TABLE {tx.table(t.entry)} (position BIGINT NOT NULL,"
                f" recorded_at BIGINT NOT NULL, recorded_by {text} NOT NULL,"
                f" event_type {text} NOT NULL, kind {text} NOT NULL, ref TEXT,"
                f" entity {text} NOT NULL, on_date {text}, dated_by {text}, sets_date {text},"
                f" adjustment {text}, data TEXT NOT NULL,"
                f" CONSTRAINT pk_{token}_a PRIMARY KEY (position))"
            )
            if not suffix:
                self._index(tx, t.entry)
        if not tx.table_exists(t.key):
            tx.execute(
                f"CREATE TABLE {tx.table(t.key)} (key {text} NOT NULL, position BIGINT NOT NULL,"
                " recorded_at BIGINT NOT NULL,"
                f" CONSTRAINT pk_{token}_k PRIMARY KEY (key, position))"
            )

    @staticmethod
    def _index(tx: Tx, table: str) -> None:
        token = secrets.token_hex(4)
        for n, columns in enumerate(
            ("(entity, position)", "(recorded_by, position)", "(recorded_at)",
             "(entity) WHERE adjustment = 'voiding'", "(position) WHERE adjustment IS NOT NULL")
        ):
            tx.execute(f"CREATE INDEX ix_{token}_{n} ON {tx.table(table)} {columns}")

    def apply(
        self, tx: Tx, items: Sequence[Item], facts: FactTables, suffix: str = "",
        *, bulk: bool = False,
    ) -> None:
        rows = []
        keys: list[tuple[str, int, int]] = []
        for item in items:
            adjustment = None
            sets_date = None
            if item.event_type.endswith(CORRECTED):
                adjustment = "correction"
                if item.data["field"] == DATE_FIELD.get(item.kind):
                    sets_date = str(item.data["right_value"])[:10]
            elif item.event_type.endswith(VOIDED):
                adjustment = "voiding"
            dated = dated_by(item.event_type, item.data)
            if dated is None and item.event_type == CREATED.get(item.kind):
                dated = item.key
            rows.append(
                (item.position, item.recorded_at, item.recorded_by, item.event_type,
                 item.kind, item.ref, item.key, primary_date(item.event_type, item.data),
                 dated, sets_date, adjustment, item.data_json)
            )
            keys.extend((k, item.position, item.recorded_at) for k in item.keys[1:])
        t = fact_tables(suffix)
        tx.insert(
            t.entry,
            ("position", "recorded_at", "recorded_by", "event_type", "kind", "ref", "entity",
             "on_date", "dated_by", "sets_date", "adjustment", "data"),
            rows,
        )
        tx.insert(t.key, ("key", "position", "recorded_at"), keys)

    def finish(self, database: Database, facts: FactTables, suffix: str) -> None:
        """A rebuilt copy gets its secondary indexes once it is filled (faster than growing),
        and fresh statistics, without which the planner scans it whole for every fold."""
        t = fact_tables(suffix)
        with database.transaction(write=True) as tx:
            self._index(tx, t.entry)
            tx.execute(f"ANALYZE {tx.table(t.entry)}")
            tx.execute(f"ANALYZE {tx.table(t.key)}")

    def data(self, tx: Tx, positions: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The data of the entries at ``positions``."""
        if not positions:
            return {}
        condition, param = tx.in_list("position", positions)
        return {
            position: loads(data) for position, data in tx.query(
                f"SELECT position, data FROM {tx.table(fact_tables().entry)} WHERE {condition}",
                [param],
            )
        }

    def entries(
        self,
        tx: Tx,
        *,
        kind: str | None = None,
        entity: str | None = None,
        recorded_by: str | None = None,
        adjustments_only: bool = False,
        recorded_from: datetime | None = None,
        recorded_to: datetime | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[AuditEntry]:
        table = tx.table(fact_tables().entry)
        known = None if known_at is None else to_micros(known_at)
        on, on_params = _on_date(table, known)
        conditions = ["a.position > ?"]
        params: list[Any] = [*on_params]
        voided_known = ""
        if known is not None:
            voided_known = " AND v.recorded_at <= ?"
            params.append(known)
        params.append(after)
        if entity is not None:
            conditions.append("a.entity = ?")
            params.append(entity)
        if kind is not None:
            conditions.append("a.kind = ?")
            params.append(kind)
        if recorded_by is not None:
            conditions.append("a.recorded_by = ?")
            params.append(recorded_by)
        if adjustments_only:
            conditions.append("a.adjustment IS NOT NULL")
        if recorded_from is not None:
            conditions.append("a.recorded_at >= ?")
            params.append(to_micros(recorded_from))
        if recorded_to is not None:
            conditions.append("a.recorded_at <= ?")
            params.append(to_micros(recorded_to))
        if known is not None:
            conditions.append("a.recorded_at <= ?")
            params.append(known)
        if as_of is not None:
            conditions.append(f"({on} IS NULL OR {on} <= ?)")
            params += [*on_params, *on_params, as_of.isoformat()]
        params.append(limit)
        rows = tx.query(
            "SELECT a.position, a.recorded_at, a.recorded_by, a.event_type, a.kind,"
            f" COALESCE(a.ref, (SELECT c.ref FROM {table} c WHERE c.entity = a.entity"
            " ORDER BY c.position LIMIT 1)),"
            f" {on}, a.adjustment, a.data,"
            f" EXISTS (SELECT 1 FROM {table} v WHERE v.entity = a.entity"
            f" AND v.adjustment = 'voiding'{voided_known})"
            f" FROM {table} a WHERE {' AND '.join(conditions)} ORDER BY a.position LIMIT ?",
            params,
        )
        return [_entry(row) for row in rows]


def _on_date(table: str, known: int | None) -> tuple[str, list[Any]]:
    """The SQL of an entry's domain date, and its parameters.

    An entry dated by an act (``dated_by``: its own entity's creation, or the act it names)
    takes that act's date as the latest correction of it recorded by ``known`` set it,
    else as the act was registered.
    """
    by_then = "" if known is None else " AND c.recorded_at <= ?"
    sql = (
        "(CASE WHEN a.dated_by IS NULL THEN a.on_date ELSE COALESCE("
        f"(SELECT c.sets_date FROM {table} c WHERE c.entity = a.dated_by"
        f" AND c.sets_date IS NOT NULL{by_then} ORDER BY c.position DESC LIMIT 1),"
        f" (SELECT r.on_date FROM {table} r WHERE r.entity = a.dated_by"
        " ORDER BY r.position LIMIT 1)) END)"
    )
    return sql, ([] if known is None else [known])


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    position, recorded_at, by, event_type, kind, ref, on, adjustment, data, voided = row
    payload: dict[str, Any] = loads(data)
    correction = None
    if adjustment == "correction":
        correction = Correction(
            field=payload["field"],
            wrong_value=payload["wrong_value"],
            right_value=payload["right_value"],
            reason=payload["reason"],
            position=position,
            recorded_at=from_micros(recorded_at),
            recorded_by=by,
        )
    return AuditEntry(
        position=position,
        recorded_at=from_micros(recorded_at),
        recorded_by=by,
        event_type=event_type,
        kind=kind,
        ref=ref,
        on=parse_date(on),
        summary=describe(event_type, ref, payload),
        data=payload,
        adjustment=adjustment,
        reason=payload.get("reason") if adjustment else None,
        correction=correction,
        entity_voided=bool(voided),
    )
