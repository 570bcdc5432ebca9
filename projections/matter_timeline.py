"""Read model 5, the matter timeline: everything about a matter, across organisations and dnr.

A matter is found by any of its case numbers. Its timeline holds its own entries (opened,
case numbers, links, documents) and every entry of what was registered on it: decisions
(and the assignments they gave), motions, meeting paragraphs, recommendations (and the
principals' decisions on them), consultations (and their responses), agreements (and the
parties' decisions). A voided entry drops out with everything that followed from it; a
correction shows the corrected value and links to the correction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, TypedDict, cast

from ledger.database import Tx
from ledger.domain.matter import case_number_ref
from projections.derivations import (
    Correction,
    Registered,
    corrections_of,
    date_of,
    dated_by,
    describe,
    entity_state,
    primary_date,
)
from projections.events import (
    AGREEMENT_PARTY_DECIDED,
    AGREEMENT_PARTY_DECISION_WITHDRAWN,
    AGREEMENT_REGISTERED,
    ASSIGNMENT_GIVEN,
    CONSULTATION_OPENED,
    DECISION_RECORDED,
    MATTER_CASE_NUMBER_ADDED,
    MATTER_LINKED,
    MATTER_OPENED,
    MEETING_HELD,
    MEETING_PARAGRAPH_RECORDED,
    MOTION_TABLED,
    RECOMMENDATION_ISSUED,
    RECOMMENDATION_PRINCIPAL_DECIDED,
    RECOMMENDATION_PRINCIPAL_DECISION_WITHDRAWN,
)
from projections.facts import (
    JSON,
    Fact,
    FactTables,
    Item,
    Loader,
    fold_many,
    from_micros,
    key,
    parse_date,
)
from projections.readmodel import FoldedReadModel

#: Entries that register something on a matter, by the kind of thing they create.
ATTACHED: dict[str, str] = {
    DECISION_RECORDED: "decision",
    MOTION_TABLED: "motion",
    RECOMMENDATION_ISSUED: "recommendation",
    CONSULTATION_OPENED: "consultation",
    AGREEMENT_REGISTERED: "agreement",
}
CREATED_BY_KIND = {kind: event for event, kind in ATTACHED.items()} | {
    "assignment": ASSIGNMENT_GIVEN,
    "meeting": MEETING_HELD,
}
WITHDRAWALS = {
    RECOMMENDATION_PRINCIPAL_DECISION_WITHDRAWN: (RECOMMENDATION_PRINCIPAL_DECIDED, "principal"),
    AGREEMENT_PARTY_DECISION_WITHDRAWN: (AGREEMENT_PARTY_DECIDED, "party"),
}


def dnr_key(organisation: str, dnr: str) -> str:
    """Where a matter is found by one of its case numbers."""
    return key("case-number", case_number_ref(organisation, dnr))


@dataclass(frozen=True)
class TimelineEntry:
    """One entry about the matter; ``on`` is the domain date it speaks of."""

    position: int
    recorded_at: datetime
    recorded_by: str | None  # None: hidden from the reader (api/redaction.py)
    event_type: str
    kind: str
    ref: str
    on: date | None
    summary: str
    corrected_by: tuple[int, ...]


@dataclass(frozen=True)
class CaseNumber:
    organisation: str
    dnr: str


@dataclass(frozen=True)
class MatterLink:
    other: str
    relation: str
    direction: Literal["to", "from"]


@dataclass(frozen=True)
class MatterTimeline:
    ref: str
    title: str
    opened_on: date
    as_of: date
    case_numbers: tuple[CaseNumber, ...]
    links: tuple[MatterLink, ...]
    entries: tuple[TimelineEntry, ...]
    corrections: tuple[Correction, ...]


class EntryFact(TypedDict):
    """One entry of the timeline, dated by its act (its account is written when read)."""

    position: int
    recorded_at: int
    recorded_by: str
    event_type: str
    kind: str
    ref: str
    on: str | None
    corrected_by: list[int]


class FoldedMatter(Registered):
    """A matter's folded state: its case numbers, links and entries (what
    :func:`matter_timeline` reads; with the entries of what is registered on it once
    :meth:`MatterTimelineModel.timeline` has read them)."""

    title: str
    opened_on: str
    case_numbers: list[JSON]
    links: list[JSON]
    entries: list[EntryFact]


class MatterTimelineModel(FoldedReadModel[FoldedMatter]):
    """Matters, their case numbers, and the entries of everything registered on them."""

    name = "matters"
    entity_kind = "matter"
    root_events = frozenset({MATTER_OPENED})

    def extra_keys(self, item: Item) -> Sequence[str]:
        event_type, data = item.event_type, item.data
        if event_type == MATTER_OPENED:
            return [dnr_key(c["organisation"], c["dnr"]) for c in data["case_numbers"]]
        if event_type == MATTER_CASE_NUMBER_ADDED:
            return (dnr_key(data["organisation"], data["dnr"]),)
        if event_type == MATTER_LINKED:
            return (key("matter", data["other"]),)
        if event_type in ATTACHED or event_type == MEETING_PARAGRAPH_RECORDED:
            return (key("matter", data["matter"]),) if data.get("matter") else ()
        if event_type == ASSIGNMENT_GIVEN:
            return (key("decision", data["decision"]),)
        return ()

    def fold(self, entity: str, loader: Loader) -> FoldedMatter | None:
        """The matter itself: case numbers, links, its own entries (the rest is read later)."""
        facts = loader.get(entity)
        state = cast(FoldedMatter | None, entity_state(facts, entity, MATTER_OPENED))
        if state is None:
            return None
        own = [f for f in facts if f.entity == entity]
        incoming = [f for f in facts if f.event_type == MATTER_LINKED and f.entity != entity]
        loader.need(f.entity for f in incoming)
        state["case_numbers"] = list(state["case_numbers"]) + [
            {"organisation": f.data["organisation"], "dnr": f.data["dnr"]}
            for f in own if f.event_type == MATTER_CASE_NUMBER_ADDED
        ]
        links = [
            {"other": f.data["other"], "relation": f.data["relation"], "direction": "to"}
            for f in own if f.event_type == MATTER_LINKED
        ]
        for f in incoming:
            source = entity_state(loader.get(f.entity), f.entity, MATTER_OPENED)
            if source is not None and not source["voided"]:
                links.append(
                    {"other": source["ref"], "relation": f.data["relation"], "direction": "from"}
                )
        state["links"] = links
        state["entries"] = _entries(own, state)
        return state

    def timeline(
        self, tx: Tx, state: FoldedMatter, facts: FactTables, known_at: int | None
    ) -> FoldedMatter:
        """The matter's state with every entry about it, folded from the facts now.

        The entries of what is registered on a matter are many and change with every act
        on it; they are read from the facts when asked for rather than kept twice.
        """
        entity = key("matter", state["ref"])
        folded = fold_many(_with_registered, [entity], Loader(tx, facts, known_at))
        return folded[entity][0] or state


def _with_registered(entity: str, loader: Loader) -> FoldedMatter | None:
    state = MatterTimelineModel().fold(entity, loader)
    if state is None:
        return None
    facts = loader.get(entity)
    attached = [
        f for f in facts
        if f.entity != entity
        and (f.event_type in ATTACHED or f.event_type == MEETING_PARAGRAPH_RECORDED)
    ]
    loader.need({f.entity for f in attached})
    registered = {
        k: _entity_entries(loader, k)
        for k in sorted({f.entity for f in attached}) if not k.startswith("meeting:")
    }
    assignments = sorted(
        {f.entity for k, added in registered.items() if added and k.startswith("decision:")
         for f in loader.get(k) if f.event_type == ASSIGNMENT_GIVEN}
    )
    loader.need(assignments)
    entries: list[EntryFact] = list(state["entries"])
    at_meetings: dict[str, list[Fact]] = {}
    for f in attached:
        if f.entity.startswith("meeting:"):
            at_meetings.setdefault(f.entity, []).append(f)
    for k in sorted(at_meetings):
        meeting = entity_state(loader.get(k), k, MEETING_HELD)
        if meeting is not None and not meeting["voided"]:
            entries += _entries(at_meetings[k], meeting, meeting["held_on"])
    for added in registered.values():
        entries += added
    for k in assignments:
        entries += _entity_entries(loader, k)
    state["entries"] = sorted(entries, key=lambda e: e["position"])
    return state


def _entity_entries(loader: Loader, entity: str) -> list[EntryFact]:
    """Entries of one entity registered on the matter (memoised; none if it was voided)."""
    return loader.memo("timeline", entity, _registered_entries, loader, entity)


def _registered_entries(loader: Loader, entity: str) -> list[EntryFact]:
    facts = loader.get(entity)
    kind = entity.split(":", 1)[0]
    state = entity_state(facts, entity, CREATED_BY_KIND[kind])
    if state is None or state["voided"]:
        return []
    own = [f for f in facts if f.entity == entity]
    withdrawn = {
        (WITHDRAWALS[f.event_type][0], f.data[WITHDRAWALS[f.event_type][1]].casefold(),
         f.data["decision"].casefold())
        for f in own if f.event_type in WITHDRAWALS
    }
    kept = [
        f for f in own
        if f.event_type not in WITHDRAWALS
        and not any(
            (f.event_type, str(f.data.get(field, "")).casefold(),
             str(f.data.get("decision", "")).casefold()) in withdrawn
            for field in ("principal", "party")
        )
    ]
    loader.need(
        act for f in kept
        if (act := dated_by(f.event_type, state if f.position == state["position"] else f.data))
    )
    created = CREATED_BY_KIND[kind]
    return _entries(kept, state, date_of(loader, created, state), loader)


def _entries(
    facts: list[Fact], state: Mapping[str, Any], default_on: str | None = None,
    loader: Loader | None = None,
) -> list[EntryFact]:
    """Timeline entries of one entity's facts, dated by the (corrected) domain date, or by
    that of the act they name (read through ``loader``, which holds those acts' facts).

    Their one-line accounts are written when the timeline is read (:func:`matter_timeline`).
    """
    created_on = default_on or primary_date(MATTER_OPENED, state)
    corrected_by = [c["position"] for c in state.get("corrections") or []]
    result: list[EntryFact] = []
    for f in facts:
        is_root = f.position == state["position"]
        data = state if is_root else f.data
        on = (date_of(loader, f.event_type, data) if loader is not None
              else primary_date(f.event_type, data))
        result.append(
            {
                "position": f.position,
                "recorded_at": f.recorded_at,
                "recorded_by": f.recorded_by,
                "event_type": f.event_type,
                "kind": f.entity.split(":", 1)[0],
                "ref": state["ref"],
                "on": on or created_on,
                "corrected_by": corrected_by if is_root else [],
            }
        )
    return result


def entry_positions(state: FoldedMatter) -> list[int]:
    """Positions of the entries (and corrections) whose data a timeline's accounts need."""
    return sorted(
        {e["position"] for e in state["entries"]}
        | {p for e in state["entries"] for p in e["corrected_by"]}
    )


def find_matter(
    tx: Tx, facts: FactTables, organisation: str, dnr: str, known_at: int | None
) -> str | None:
    """The matter carrying the case number ``dnr`` of ``organisation`` (as known at)."""
    sql = (
        f"SELECT f.entity FROM {tx.table(facts.key)} k JOIN {tx.table(facts.entry)} f"
        " ON f.position = k.position WHERE k.key = ?"
    )
    params: list[Any] = [dnr_key(organisation, dnr)]
    if known_at is not None:
        sql += " AND k.recorded_at <= ?"
        params.append(known_at)
    rows = tx.query(sql + " ORDER BY k.position", params)
    return str(rows[0][0]) if rows else None


def _account(entry: EntryFact, data: Mapping[int, JSON]) -> str:
    """The entry's one-line account; a registration shows its corrected fields."""
    fields = dict(data.get(entry["position"], {}))
    for position in entry["corrected_by"]:
        correction = data.get(position)
        if correction is not None:
            fields[correction["field"]] = correction["right_value"]
    return describe(entry["event_type"], entry["ref"], fields)


def matter_timeline(
    state: FoldedMatter, as_of: date, data: Mapping[int, JSON]
) -> MatterTimeline | None:
    """The timeline up to ``as_of`` (None if the matter was voided or opened later).

    ``data`` holds the entries' data by position (see :func:`entry_positions`).
    """
    opened_on = parse_date(state["opened_on"])
    assert opened_on is not None
    if state["voided"] or opened_on > as_of:
        return None
    return MatterTimeline(
        ref=state["ref"],
        title=state["title"],
        opened_on=opened_on,
        as_of=as_of,
        case_numbers=tuple(CaseNumber(c["organisation"], c["dnr"]) for c in state["case_numbers"]),
        links=tuple(MatterLink(l["other"], l["relation"], l["direction"]) for l in state["links"]),  # noqa: E741
        entries=tuple(
            TimelineEntry(
                position=e["position"],
                recorded_at=from_micros(e["recorded_at"]),
                recorded_by=e["recorded_by"],
                event_type=e["event_type"],
                kind=e["kind"],
                ref=e["ref"],
                on=on,
                summary=_account(e, data),
                corrected_by=tuple(e["corrected_by"]),
            )
            for e in state["entries"]
            if (on := parse_date(e["on"])) is None or on <= as_of
        ),
        corrections=corrections_of(state),
    )


@dataclass(frozen=True)
class MatterSummary:
    """One matter in a list: its title, when it was opened, its case numbers."""

    ref: str
    title: str
    opened_on: date
    as_of: date
    case_numbers: tuple[CaseNumber, ...]


def matter_summary(state: FoldedMatter, as_of: date) -> MatterSummary | None:
    """The matter in a list on ``as_of`` (None if voided or opened later)."""
    opened_on = parse_date(state["opened_on"])
    assert opened_on is not None
    if state["voided"] or opened_on > as_of:
        return None
    return MatterSummary(
        ref=state["ref"], title=state["title"], opened_on=opened_on, as_of=as_of,
        case_numbers=tuple(CaseNumber(c["organisation"], c["dnr"]) for c in state["case_numbers"]),
    )
