"""Full-text search over what registrars wrote: titles, decision points, justifications,
subjects, summaries and documents' titles, with Swedish stemming, as of a date.

One row per searchable thing (an entity, or a document registered on a matter) holds its
words as now corrected, their Swedish stems, the domain date it speaks of, when it was
first recorded and whether it was voided. The stems come from the Snowball algorithm for
Swedish (``snowballstemmer``) on both backends, and every query word is required: so
"avtalen" finds "avtal" and "förlänga" finds "förlängs" alike on SQLite and PostgreSQL.
PostgreSQL indexes the stems with ``to_tsvector('simple', …)`` in a generated column
under a GIN index; SQLite keeps them in an FTS5 table. PostgreSQL's own ``swedish``
configuration was not used: under the common ``C.UTF-8`` locale its parser leaves words
with å, ä or ö unstemmed ("hemsjukvårdsavtalet"), so the two backends would answer
differently.

*As of* a date hides what speaks of a later day; *as known at* a moment hides what was
recorded after it. The words searched are the corrected ones: a search is a way in, the
read models and the audit trail say what the ledger held at a moment.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import snowballstemmer

from ledger.database import PostgresTx, Tx
from projections.db import Database
from projections.derivations import primary_date
from projections.events import CORRECTED, CREATED, MATTER_DOCUMENT_REGISTERED, VOIDED
from projections.facts import FactTables, Item, loads
from projections.readmodel import ReadModel

#: Fields whose words are searched, at any depth of an entry (points' texts included).
TEXT_FIELDS = frozenset({
    "title", "subject", "name", "text", "justification", "summary", "paragraph_title",
    "purpose", "task",
})
#: Fields that name the thing in a result, best first.
TITLE_FIELDS = ("title", "subject", "name", "paragraph_title", "task")
#: Longest query the service reads (characters).
MAX_QUERY = 200

_WORDS = re.compile(r"\w+")
_STEMMER = snowballstemmer.stemmer("swedish")


def stems(text: str) -> list[str]:
    """The Swedish stems of the words of ``text``, lower-cased, in order."""
    return list(_STEMMER.stemWords(_WORDS.findall(text.casefold())))


def _texts(value: Any, name: str | None = None) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _texts(inner, key)
    elif isinstance(value, list):
        for inner in value:
            yield from _texts(inner, name)
    elif isinstance(value, str) and name in TEXT_FIELDS:
        yield value


def words_of(data: Mapping[str, Any]) -> str:
    """Every searchable text of an entry's data, one per line."""
    return "\n".join(_texts(data))


def _case_number(data: Mapping[str, Any]) -> str | None:
    """A matter's first case number as ``ORGANISATION:DNR``, the way pages name it."""
    numbers = data.get("case_numbers")
    if isinstance(numbers, list) and numbers and isinstance(numbers[0], Mapping):
        return f"{numbers[0].get('organisation')}:{numbers[0].get('dnr')}"
    return None


def title_of(data: Mapping[str, Any], ref: str) -> str:
    return next((str(data[f]) for f in TITLE_FIELDS if data.get(f)), ref)


@dataclass(frozen=True)
class SearchHit:
    """One thing found: what it is, how registrars name it, and the day it speaks of."""

    kind: str
    ref: str
    title: str
    on: date | None
    matter: str | None
    snippet: str


@dataclass(frozen=True)
class Entry:
    """What the index reads of an entry: its entity, the event and its data."""

    key: str
    kind: str
    ref: str | None
    event_type: str
    data: Mapping[str, Any]
    recorded_at: int


#: Entries indexed per transaction when a rebuild builds the index from the audit trail.
FINISH_PAGE = 5000


@dataclass(frozen=True)
class SearchTables:
    doc: str
    fts: str


def search_tables(suffix: str = "") -> SearchTables:
    return SearchTables(f"rm_search_doc{suffix}", f"rm_search_fts{suffix}")


class SearchModel(ReadModel):
    """The words of every entity and registered document, kept searchable."""

    name = "search"

    def tables(self, suffix: str = "") -> Sequence[str]:
        t = search_tables(suffix)
        return (t.doc, t.fts)

    def create(self, tx: Tx, suffix: str = "") -> None:
        t = search_tables(suffix)
        token = secrets.token_hex(4)
        text = tx.text
        postgres = isinstance(tx, PostgresTx)
        if not tx.table_exists(t.doc):
            tsv = (", tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', stems)) STORED"
                   if postgres else "")
            tx.execute(
                f"CREATE TABLE {tx.table(t.doc)} (key {text} NOT NULL, kind {text} NOT NULL,"
                " ref TEXT NOT NULL, title TEXT NOT NULL, words TEXT NOT NULL,"
                f" stems TEXT NOT NULL, on_date {text}, matter TEXT,"
                f" recorded_at BIGINT NOT NULL, voided INTEGER NOT NULL{tsv},"
                f" CONSTRAINT pk_{token}_s PRIMARY KEY (key))"
            )
            if postgres:
                tx.execute(f"CREATE INDEX ix_{token}_s ON {tx.table(t.doc)} USING GIN (tsv)")
        if not postgres and not tx.table_exists(t.fts):
            tx.execute(f"CREATE VIRTUAL TABLE {tx.table(t.fts)} USING fts5(key UNINDEXED,"
                       " stems, tokenize = 'unicode61 remove_diacritics 0')")
        if postgres and not tx.table_exists(t.fts):
            # PostgreSQL searches the generated column; the table keeps the two names alike.
            tx.execute(f"CREATE TABLE {tx.table(t.fts)} (key {text} PRIMARY KEY)")

    def apply(
        self, tx: Tx, items: Sequence[Item], facts: FactTables, suffix: str = "",
        *, bulk: bool = False,
    ) -> None:
        t = search_tables(suffix)
        for item in items:
            self._apply(tx, t, Entry(item.key, item.kind, item.ref, item.event_type,
                                     item.data, item.recorded_at))

    def finish(self, database: Database, facts: FactTables, suffix: str) -> None:
        """A rebuild files entries in the audit trail only: the index is then built from
        the filed entries, in ledger order, a page per transaction."""
        t = search_tables(suffix)
        after = 0
        while True:
            with database.transaction(write=True) as tx:
                rows = tx.query(
                    f"SELECT position, entity, kind, ref, event_type, data, recorded_at"
                    f" FROM {tx.table(facts.entry)} WHERE position > ? ORDER BY position"
                    " LIMIT ?", [after, FINISH_PAGE])
                for _, entity, kind, ref, event_type, data, recorded_at in rows:
                    self._apply(tx, t, Entry(entity, kind, ref, event_type, loads(data),
                                             recorded_at))
            if len(rows) < FINISH_PAGE:
                return
            after = rows[-1][0]

    def _apply(self, tx: Tx, t: SearchTables, entry: Entry) -> None:
        if entry.event_type == CREATED.get(entry.kind) and entry.ref is not None:
            self._put(tx, t, entry.key, entry.kind, entry.ref, entry.data, entry.recorded_at,
                      primary_date(entry.event_type, entry.data), _case_number(entry.data))
        elif entry.event_type == MATTER_DOCUMENT_REGISTERED:
            ref = str(entry.data.get("document_ref", ""))
            found = tx.query(f"SELECT matter FROM {tx.table(t.doc)} WHERE key = ?", [entry.key])
            self._put(tx, t, f"{entry.key}/{ref}", "document", ref, entry.data,
                      entry.recorded_at, primary_date(entry.event_type, entry.data),
                      found[0][0] if found else None)
        elif entry.event_type.endswith(CORRECTED):
            self._correct(tx, t, entry)
        elif entry.event_type.endswith(VOIDED):
            tx.execute(f"UPDATE {tx.table(t.doc)} SET voided = 1 WHERE key = ?", [entry.key])

    def _put(self, tx: Tx, t: SearchTables, key: str, kind: str, ref: str,
             data: Mapping[str, Any], recorded_at: int, on: str | None,
             matter: str | None) -> None:
        words = words_of(data)
        tx.execute(f"DELETE FROM {tx.table(t.doc)} WHERE key = ?", [key])
        tx.insert(t.doc, ("key", "kind", "ref", "title", "words", "stems", "on_date", "matter",
                          "recorded_at", "voided"),
                  [(key, kind, ref, title_of(data, ref), words, " ".join(stems(words)), on,
                    matter, recorded_at, 0)])
        self._index(tx, t, key, words)

    @staticmethod
    def _index(tx: Tx, t: SearchTables, key: str, words: str) -> None:
        """Keep the stems of ``words`` searchable: the generated column on PostgreSQL (from
        ``stems``), the FTS5 table on SQLite."""
        if isinstance(tx, PostgresTx):
            return
        tx.execute(f"DELETE FROM {tx.table(t.fts)} WHERE key = ?", [key])
        tx.insert(t.fts, ("key", "stems"), [(key, " ".join(stems(words)))])

    def _correct(self, tx: Tx, t: SearchTables, item: Entry) -> None:
        """A corrected text is searched as corrected; a corrected date dates the thing."""
        field, value = item.data["field"], item.data["right_value"]
        rows = tx.query(f"SELECT words, title FROM {tx.table(t.doc)} WHERE key = ?", [item.key])
        if not rows or not isinstance(value, str):
            return
        words, title = rows[0]
        if field in TEXT_FIELDS:
            old = str(item.data.get("wrong_value") or "")
            words = words.replace(old, value) if old and old in words else f"{words}\n{value}"
            if field in TITLE_FIELDS and title == old:
                title = value
            tx.execute(f"UPDATE {tx.table(t.doc)} SET words = ?, stems = ?, title = ?"
                       " WHERE key = ?", [words, " ".join(stems(words)), title, item.key])
            self._index(tx, t, item.key, words)
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", value[:10]) and field.endswith(("_on", "_from")):
            tx.execute(f"UPDATE {tx.table(t.doc)} SET on_date = ? WHERE key = ?",
                       [value[:10], item.key])


def search(tx: Tx, query: str, as_of: date, known: int | None, limit: int) -> list[SearchHit]:
    """What matches every word of ``query`` (stemmed), best first, as of ``as_of`` and as
    recorded by ``known`` (microseconds, None: now)."""
    t = search_tables()
    terms = stems(query[:MAX_QUERY])
    if not terms:
        return []
    conditions = ["d.voided = 0", "(d.on_date IS NULL OR d.on_date <= ?)"]
    params: list[Any] = [as_of.isoformat()]
    if known is not None:
        conditions.append("d.recorded_at <= ?")
        params.append(known)
    columns = "d.kind, d.ref, d.title, d.on_date, d.matter, d.words"
    if isinstance(tx, PostgresTx):
        wanted = " & ".join(terms)
        rows = tx.query(
            f"SELECT {columns} FROM {tx.table(t.doc)} d"
            f" WHERE d.tsv @@ to_tsquery('simple', ?) AND {' AND '.join(conditions)}"
            " ORDER BY ts_rank(d.tsv, to_tsquery('simple', ?)) DESC, d.key LIMIT ?",
            [wanted, *params, wanted, limit])
    else:
        match = " AND ".join(f'stems:"{term}"' for term in terms)
        rows = tx.query(
            f"SELECT {columns} FROM {tx.table(t.fts)} JOIN {tx.table(t.doc)} d"
            f" ON d.key = {tx.table(t.fts)}.key WHERE {tx.table(t.fts)} MATCH ?"
            f" AND {' AND '.join(conditions)} ORDER BY bm25({tx.table(t.fts)}), d.key LIMIT ?",
            [match, *params, limit])
    return [SearchHit(kind=kind, ref=ref, title=title,
                      on=date.fromisoformat(on) if on else None, matter=matter,
                      snippet=_snippet(words, terms))
            for kind, ref, title, on, matter, words in rows]


def _snippet(words: str, terms: Sequence[str], width: int = 160) -> str:
    """The line of ``words`` where a query word first appears, cut to ``width``."""
    for line in words.splitlines():
        if set(stems(line)) & set(terms):
            return line if len(line) <= width else line[: width - 1] + "…"
    first = words.splitlines()[0] if words else ""
    return first[:width]
