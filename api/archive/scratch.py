"""A disk index of the ledger's feed for one archive run: entities, their events, matters.

An archival package groups records by matter, but the ledger is ordered by time. Reading
the feed once and filing every entry in a temporary SQLite file (beside the package being
written, deleted with it) lets the ERMS writer read one matter at a time in any order while
the process holds only the entry it is filing: memory stays flat whatever the ledger's size.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from ledger.application import Entry
from ledger.domain.base import normalise_ref

#: The kinds of entity that become ERMS records, and the event that creates each.
CREATING = {
    "Decision.Recorded": "decision",
    "Motion.Tabled": "motion",
    "Recommendation.Issued": "recommendation",
    "Consultation.Opened": "consultation",
    "Agreement.Registered": "agreement",
    "Assignment.Given": "assignment",
    "Meeting.Held": "meeting",
}
#: Where each kind names the organisation it belongs to.
OWNER = {"decision": "organisation", "motion": "organisation",
         "recommendation": "joint_body", "consultation": "organisation",
         "agreement": "parties", "assignment": "organisation", "meeting": "organisation"}
#: The domain date each kind is filed under (for a period without a matter).
PRIMARY_DATE = {"decision": "decided_on", "motion": "tabled_on", "recommendation": "issued_on",
                "consultation": "opens_on", "agreement": "valid_from", "assignment": "given_on",
                "meeting": "held_on"}

_SCHEMA = """
CREATE TABLE organisation (ref_norm TEXT PRIMARY KEY, aggregate TEXT, ref TEXT, name TEXT,
    kind TEXT);
CREATE TABLE matter (aggregate TEXT PRIMARY KEY, ref_norm TEXT, ref TEXT, title TEXT,
    opened_on TEXT, position INTEGER);
CREATE TABLE case_number (matter TEXT, organisation_norm TEXT, organisation TEXT, dnr TEXT,
    position INTEGER);
CREATE TABLE entity (aggregate TEXT PRIMARY KEY, kind TEXT, ref TEXT, matter_norm TEXT,
    owner_norm TEXT, on_date TEXT, position INTEGER);
CREATE TABLE event (aggregate TEXT, position INTEGER, event_type TEXT, recorded_at TEXT,
    recorded_by TEXT, data BLOB);
CREATE TABLE replacement (old_aggregate TEXT, new_ref TEXT, new_norm TEXT);
CREATE TABLE link (matter TEXT, other_norm TEXT, relation TEXT, position INTEGER);
"""
_INDEXES = """
CREATE INDEX ix_case_org ON case_number (organisation_norm, matter);
CREATE INDEX ix_case_matter ON case_number (matter, position);
CREATE INDEX ix_matter_ref ON matter (ref_norm);
CREATE INDEX ix_entity_matter ON entity (matter_norm, position);
CREATE INDEX ix_entity_owner ON entity (owner_norm, matter_norm, position);
CREATE INDEX ix_event ON event (aggregate, position);
CREATE INDEX ix_replacement ON replacement (new_norm);
CREATE INDEX ix_replaced ON replacement (old_aggregate);
CREATE INDEX ix_link ON link (other_norm);
"""


@dataclass(frozen=True)
class Event:
    position: int
    event_type: str
    recorded_at: str
    recorded_by: str
    data: dict[str, Any]


class Scratch:
    """The index: filled once from the feed, then read matter by matter."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        self.db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
        self._matter_of: dict[str, str] = {}

    def close(self) -> None:
        self.db.close()

    def fill(self, entries: Iterable[Entry], progress: Callable[[int], None]) -> int:
        """File every entry; answer how many. Indexes are built once, after the last."""
        count = 0
        for entry in entries:
            self._file(entry)
            count += 1
            if count % 5000 == 0:
                self.db.commit()
                progress(entry.position)
        self.db.executescript(_INDEXES)
        self.db.commit()
        return count

    def _file(self, entry: Entry) -> None:
        aggregate, data = entry.aggregate_id.hex, entry.data
        kind = entry.event_type.partition(".")[0]
        if kind in ("CaseNumber", "IdempotencyKey"):
            return
        self.db.execute(
            "INSERT INTO event VALUES (?, ?, ?, ?, ?, ?)",
            (aggregate, entry.position, entry.event_type, entry.recorded_at.isoformat(),
             entry.recorded_by, orjson.dumps(data)),
        )
        if entry.event_type == "Organisation.Registered":
            self.db.execute("INSERT OR REPLACE INTO organisation VALUES (?, ?, ?, ?, ?)",
                            (normalise_ref(data["ref"]), aggregate, data["ref"], data["name"],
                             data["organisation_kind"]))
        elif entry.event_type == "Matter.Opened":
            self.db.execute("INSERT INTO matter VALUES (?, ?, ?, ?, ?, ?)",
                            (aggregate, normalise_ref(data["ref"]), data["ref"], data["title"],
                             data["opened_on"], entry.position))
            for number in data["case_numbers"]:
                self._case_number(aggregate, number, entry.position)
        elif entry.event_type == "Matter.CaseNumberAdded":
            self._case_number(aggregate, data, entry.position)
        elif entry.event_type in CREATING:
            self._entity(entry, CREATING[entry.event_type])
        elif entry.event_type == "Agreement.PartyDecided":
            change = data.get("change") or {}
            if change.get("replaced_by"):
                self.db.execute("INSERT INTO replacement VALUES (?, ?, ?)",
                                (aggregate, change["replaced_by"],
                                 normalise_ref(change["replaced_by"])))
        elif entry.event_type == "Matter.Linked":
            self.db.execute("INSERT INTO link VALUES (?, ?, ?, ?)",
                            (aggregate, normalise_ref(data["other"]), data["relation"],
                             entry.position))

    def _case_number(self, matter: str, number: dict[str, Any], position: int) -> None:
        self.db.execute("INSERT INTO case_number VALUES (?, ?, ?, ?, ?)",
                        (matter, normalise_ref(number["organisation"]), number["organisation"],
                         number["dnr"], position))

    def _entity(self, entry: Entry, kind: str) -> None:
        data = entry.data
        owner = data.get(OWNER[kind])
        if isinstance(owner, list):
            owner = owner[0] if owner else None
        matter = data.get("matter")
        self.db.execute(
            "INSERT OR IGNORE INTO entity VALUES (?, ?, ?, ?, ?, ?, ?)",
            (entry.aggregate_id.hex, kind, data.get("ref", entry.aggregate_id.hex),
             normalise_ref(matter) if matter else None,
             normalise_ref(owner) if owner else None, data.get(PRIMARY_DATE[kind]),
             entry.position),
        )

    # Reading ---------------------------------------------------------------------------

    def organisations(self) -> list[tuple[str, str, str]]:
        """(ref, name, kind) of every organisation, in the order registered."""
        return list(self.db.execute(
            "SELECT o.ref, o.name, o.kind FROM organisation o"
            " JOIN event e ON e.aggregate = o.aggregate AND e.event_type ="
            " 'Organisation.Registered' ORDER BY e.position"))

    def organisation(self, ref: str) -> tuple[str, str, str] | None:
        row = self.db.execute("SELECT ref, name, kind FROM organisation WHERE ref_norm = ?",
                              (normalise_ref(ref),)).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def matters(self, organisation: str | None, start: date | None,
                end: date | None) -> list[str]:
        """The aggregates of the matters opened within the period, in ledger order: those
        of ``organisation`` if given (carrying its case number, or a record it owns)."""
        sql = "SELECT m.aggregate FROM matter m"
        where, params = self._period("m.opened_on", start, end)
        if organisation is not None:
            where.append("(EXISTS (SELECT 1 FROM case_number c WHERE c.matter = m.aggregate"
                         " AND c.organisation_norm = ?) OR EXISTS (SELECT 1 FROM entity e"
                         " WHERE e.matter_norm = m.ref_norm AND e.owner_norm = ?))")
            params += [normalise_ref(organisation)] * 2
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [row[0] for row in self.db.execute(sql + " ORDER BY m.position", params)]

    def unfiled(self, organisation: str | None, start: date | None,
                end: date | None) -> list[str]:
        """Entities on no matter (of ``organisation``) dated within the period."""
        where, params = self._period("on_date", start, end)
        where.append("matter_norm IS NULL")
        if organisation is not None:
            where.append("owner_norm = ?")
            params.append(normalise_ref(organisation))
        return [row[0] for row in self.db.execute(
            f"SELECT aggregate FROM entity WHERE {' AND '.join(where)} ORDER BY position",
            params)]

    @staticmethod
    def _period(column: str, start: date | None, end: date | None) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if start is not None:
            where.append(f"substr({column}, 1, 10) >= ?")
            params.append(start.isoformat())
        if end is not None:
            where.append(f"substr({column}, 1, 10) <= ?")
            params.append(end.isoformat())
        return where, params

    def matter(self, aggregate: str) -> tuple[str, list[tuple[str, str]]]:
        """A matter's reference and its case numbers (organisation, dnr)."""
        ref = self.db.execute("SELECT ref FROM matter WHERE aggregate = ?",
                              (aggregate,)).fetchone()[0]
        numbers = [(o, d) for o, d in self.db.execute(
            "SELECT organisation, dnr FROM case_number WHERE matter = ? ORDER BY position",
            (aggregate,))]
        return str(ref), numbers

    def on_matter(self, matter_ref: str) -> list[tuple[str, str, str]]:
        """(aggregate, kind, ref) of every entity registered on the matter, in ledger order."""
        return [(a, k, r) for a, k, r in self.db.execute(
            "SELECT aggregate, kind, ref FROM entity WHERE matter_norm = ? ORDER BY position",
            (normalise_ref(matter_ref),))]

    def entity(self, aggregate: str) -> tuple[str, str]:
        kind, ref = self.db.execute("SELECT kind, ref FROM entity WHERE aggregate = ?",
                                    (aggregate,)).fetchone()
        return str(kind), str(ref)

    def events(self, aggregate: str) -> Iterator[Event]:
        for position, event_type, recorded_at, by, data in self.db.execute(
            "SELECT position, event_type, recorded_at, recorded_by, data FROM event"
            " WHERE aggregate = ? ORDER BY position", (aggregate,)
        ):
            yield Event(position, event_type, recorded_at, by, orjson.loads(data))

    def replacing(self, agreement_ref: str) -> list[str]:
        """The agreements whose parties decided they replace ``agreement_ref``."""
        rows = self.db.execute(
            "SELECT DISTINCT e.ref FROM replacement r JOIN entity e"
            " ON e.aggregate = r.old_aggregate WHERE r.new_norm = ?",
            (normalise_ref(agreement_ref),))
        return [row[0] for row in rows]

    def replaced_by(self, aggregate: str) -> list[str]:
        return [row[0] for row in self.db.execute(
            "SELECT DISTINCT new_ref FROM replacement WHERE old_aggregate = ?", (aggregate,))]

    def linked_from(self, matter_ref: str) -> list[tuple[str, str]]:
        """(matter ref, relation) of the matters that linked themselves to this one."""
        return [(r, rel) for r, rel in self.db.execute(
            "SELECT m.ref, l.relation FROM link l JOIN matter m ON m.aggregate = l.matter"
            " WHERE l.other_norm = ? ORDER BY l.position", (normalise_ref(matter_ref),))]

    def organisation_name(self, ref: str) -> str:
        found = self.organisation(ref)
        return found[1] if found else ref
