"""The OParl catalogue: the ledger's entries folded into the objects an OParl 1.1 server lists.

OParl (the German standard for council information systems) speaks of bodies, their
organisations, people and memberships, meetings with agenda items, papers, consultations
and files. :class:`Catalogue` folds the ledger's feed, entry by entry in ledger order, into
:class:`OParlRecord` s of those types: who they belong to (the Body), when they were
created and last modified (recorded times, as OParl's ``created``/``modified`` require),
whether they were voided, and the data they are drawn from (the creating entry's data,
corrected by every ``FactCorrected``). It holds no HTTP: :mod:`api.oparl` renders the
records as OParl JSON with URLs.

The fold is incremental (``update`` reads only entries after the last position it saw) and
holds, per entity, its creating entry's data: memory grows with the number of entities.

Mapping (see docs/oparl.md): an organisation is a Body; each of its bodies an
Organization; a person in a role a Person, each role a Membership; a meeting a Meeting,
each paragraph an AgendaItem; each case number of a matter, each motion, recommendation,
consultation round and agreement a Paper; each body that dealt with a matter or motion (a
paragraph, a decision, a motion put to it) a Consultation; each registered document a File.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import NAMESPACE_URL, UUID, uuid5

from ledger.domain.base import normalise_ref
from projections.events import (
    AGREEMENT_REGISTERED,
    CONSULTATION_OPENED,
    DECISION_RECORDED,
    MATTER_CASE_NUMBER_ADDED,
    MATTER_DOCUMENT_REGISTERED,
    MATTER_LINKED,
    MATTER_OPENED,
    MEETING_HELD,
    MEETING_MINUTES_POSTED,
    MEETING_MINUTES_VERIFIED,
    MEETING_PARAGRAPH_RECORDED,
    MOTION_TABLED,
    ORGANISATION_BODY_ESTABLISHED,
    ORGANISATION_REGISTERED,
    ORGANISATION_ROLE_ASSIGNED,
    ORGANISATION_ROLE_ENDED,
    RECOMMENDATION_ISSUED,
)

JSON = dict[str, Any]

#: The OParl object types the catalogue lists per Body.
LISTED = ("Organization", "Person", "Membership", "Meeting", "AgendaItem", "Paper",
          "Consultation", "File")

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:samsyn:oparl")


@functools.lru_cache(maxsize=1 << 18)
def oid(kind: str, *parts: str) -> str:
    """A stable object id: the same entity always gets the same id, on any store (memoised:
    a fold asks for the same few ids again and again, and UUIDv5 is most of its time)."""
    return uuid5(_NAMESPACE, "|".join([kind, *(normalise_ref(p) for p in parts)])).hex


class FeedEntry(Protocol):
    """What the catalogue reads of a ledger entry (:class:`ledger.application.Entry`)."""

    @property
    def position(self) -> int: ...
    @property
    def aggregate_id(self) -> UUID: ...
    @property
    def event_type(self) -> str: ...
    @property
    def recorded_at(self) -> datetime: ...
    @property
    def data(self) -> dict[str, Any]: ...


@dataclass
class OParlRecord:
    """One OParl object: its type, id, Body, times, and what it is drawn from.

    ``source`` is the aggregate whose (corrected) data the object shows; ``fields`` what the
    object adds of its own (a paragraph's number, a membership's dates, links to others).
    """

    type: str
    oid: str
    body: str | None
    order: int
    created: datetime
    modified: datetime
    source: UUID | None
    fields: JSON = field(default_factory=dict)
    voided_at: datetime | None = None

    @property
    def deleted(self) -> bool:
        return self.voided_at is not None


@dataclass
class Decided:
    """A decision as the agenda items and consultations need it."""

    ref: str
    aggregate: UUID
    data: JSON
    voided: bool = False
    #: The records that show the decision (agenda item, consultations).
    touches: list[str] = field(default_factory=list)


class Catalogue:
    """Every OParl object the ledger's entries so far make, kept up to date by :meth:`apply`."""

    def __init__(self) -> None:
        self.position = 0
        self.created: datetime | None = None
        self.modified: datetime | None = None
        self.records: dict[str, OParlRecord] = {}
        #: (type, body oid) -> oids in the order they were created (the stable list order).
        self.lists: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.bodies: list[str] = []
        #: Each aggregate's creating data, corrected; and the records drawn from it.
        self.state: dict[UUID, JSON] = {}
        self.kind_of: dict[UUID, str] = {}
        self.derived: dict[UUID, list[str]] = defaultdict(list)
        self.voided: set[UUID] = set()
        self.decisions: dict[str, Decided] = {}
        self.decision_of: dict[UUID, str] = {}
        self._by_ref: dict[tuple[str, str], UUID] = {}
        #: Paper oids per matter ref, files per matter ref, matters linked to each matter.
        self.matter_papers: dict[str, list[str]] = defaultdict(list)
        self.matter_files: dict[str, list[str]] = defaultdict(list)
        self.matter_links: dict[str, list[tuple[str, str]]] = defaultdict(list)
        #: Papers (motions, recommendations, ...) about a matter: its subordinated papers.
        self.matter_children: dict[str, list[str]] = defaultdict(list)
        #: Consultations per (subject kind, normalised subject ref).
        self.subject_consultations: dict[tuple[str, str], list[str]] = defaultdict(list)

    # Reading -------------------------------------------------------------------------------

    def listing(self, kind: str, body: str) -> list[OParlRecord]:
        return [self.records[o] for o in self.lists.get((kind, body), ())]

    def get(self, kind: str, object_id: str) -> OParlRecord | None:
        record = self.records.get(object_id)
        return record if record is not None and record.type == kind else None

    def data(self, record: OParlRecord) -> JSON:
        """The corrected data of the aggregate the record is drawn from."""
        return self.state.get(record.source, {}) if record.source is not None else {}

    def decision(self, ref: str | None) -> Decided | None:
        found = self.decisions.get(normalise_ref(ref)) if ref else None
        return found if found is not None and not found.voided else None

    def aggregate_of(self, kind: str, ref: str) -> UUID | None:
        return self._by_ref.get((kind, normalise_ref(ref)))

    # Folding -------------------------------------------------------------------------------

    def update(self, entries: Iterable[FeedEntry]) -> None:
        for entry in entries:
            self.apply(entry)

    def apply(self, entry: FeedEntry) -> None:
        """Fold one entry (entries come in ledger order; unknown kinds only touch)."""
        self.position = max(self.position, entry.position)
        when = entry.recorded_at
        self.created = self.created or when
        self.modified = when
        what = entry.event_type.partition(".")[2]
        handler = _HANDLERS.get(entry.event_type)
        if handler is not None:
            handler(self, entry)
        elif what == "FactCorrected":
            self._corrected(entry)
        elif what == "EntryVoided":
            self._voided(entry)
        else:
            self.touch_aggregate(entry.aggregate_id, when)

    def add(self, kind: str, object_id: str, body: str | None, entry: FeedEntry,
            source: UUID | None, **fields: Any) -> OParlRecord:
        """A new record (or the existing one with that id, touched)."""
        existing = self.records.get(object_id)
        if existing is not None:
            existing.modified = entry.recorded_at
            existing.fields.update(fields)
            return existing
        record = OParlRecord(kind, object_id, body, entry.position, entry.recorded_at,
                             entry.recorded_at, source, dict(fields))
        self.records[object_id] = record
        if kind == "Body":
            self.bodies.append(object_id)
        elif body is not None:
            self.lists[(kind, body)].append(object_id)
        if source is not None:
            self.derived[source].append(object_id)
        return record

    def touch(self, object_ids: Iterable[str | None], when: datetime) -> None:
        for object_id in object_ids:
            record = self.records.get(object_id) if object_id else None
            if record is not None:
                record.modified = when
                containers = record.fields.get("containers")
                if containers:
                    self.touch(containers, when)

    def touch_aggregate(self, aggregate: UUID, when: datetime) -> None:
        self.touch(self.derived.get(aggregate, ()), when)

    def created_entity(self, entry: FeedEntry, kind: str) -> JSON:
        state = dict(entry.data)
        self.state[entry.aggregate_id] = state
        self.kind_of[entry.aggregate_id] = kind
        if "ref" in state:
            self._by_ref[(kind, normalise_ref(str(state["ref"])))] = entry.aggregate_id
        return state

    def _corrected(self, entry: FeedEntry) -> None:
        state = self.state.get(entry.aggregate_id)
        if state is not None and entry.data.get("field") in state:
            state[entry.data["field"]] = entry.data.get("right_value")
        decided = self._decided(entry.aggregate_id)
        if decided is not None and entry.data.get("field") in decided.data:
            decided.data[entry.data["field"]] = entry.data.get("right_value")
        self.touch_aggregate(entry.aggregate_id, entry.recorded_at)
        self._touch_decision(entry.aggregate_id, entry.recorded_at)

    def _voided(self, entry: FeedEntry) -> None:
        when = entry.recorded_at
        self.voided.add(entry.aggregate_id)
        for object_id in self.derived.get(entry.aggregate_id, ()):
            record = self.records[object_id]
            if record.voided_at is None:
                record.voided_at = when
        self.touch_aggregate(entry.aggregate_id, when)
        decided = self._decided(entry.aggregate_id)
        if decided is not None:
            decided.voided = True
        self._touch_decision(entry.aggregate_id, when)
        touched = [*(decided.touches if decided else ()), *self.derived.get(entry.aggregate_id, ())]
        for object_id in touched:
            consultation = self.records[object_id].fields.get("consultation")
            self._settle(consultation if consultation else object_id, when)

    def _settle(self, object_id: str, when: datetime) -> None:
        """A consultation lives while a decision, an agenda item or a motion shows it."""
        record = self.records.get(object_id)
        if record is None or record.type != "Consultation" or record.deleted:
            return
        shown_by = [self.records.get(record.fields.get("agenda_item") or ""),
                    self.records.get(oid("Paper", *record.fields["subject"]))
                    if record.fields["subject"][0] == "motion" else None]
        if any(self.decision(ref) for ref in record.fields["decisions"]) or any(
            r is not None and not r.deleted for r in shown_by
        ):
            return
        record.voided_at = when
        record.modified = when

    def _decided(self, aggregate: UUID) -> Decided | None:
        ref = self.decision_of.get(aggregate)
        return self.decisions.get(ref) if ref is not None else None

    def _touch_decision(self, aggregate: UUID, when: datetime) -> None:
        decided = self._decided(aggregate)
        if decided is not None:
            self.touch(decided.touches, when)


# The fold, one handler per event type -----------------------------------------------------

Handler = Any


def body_of(organisation: str) -> str:
    """The oid of the Body an organisation is."""
    return oid("Body", organisation)


def _organisation(c: Catalogue, e: FeedEntry) -> None:
    state = c.created_entity(e, "organisation")
    c.add("Body", body_of(state["ref"]), None, e, e.aggregate_id)


def _org(c: Catalogue, e: FeedEntry) -> str:
    return str(c.state.get(e.aggregate_id, {}).get("ref", e.aggregate_id.hex))


def _body_established(c: Catalogue, e: FeedEntry) -> None:
    org = _org(c, e)
    c.add("Organization", oid("Organization", org, e.data["code"]), body_of(org), e,
          e.aggregate_id, code=e.data["code"], name=e.data["name"],
          body_kind=e.data["body_kind"], memberships=[])


def _role_assigned(c: Catalogue, e: FeedEntry) -> None:
    org, person = _org(c, e), e.data["person"]
    person_id = oid("Person", org, person)
    if person_id not in c.records:
        c.add("Person", person_id, body_of(org), e, e.aggregate_id, name=person,
              memberships=[], open={})
    organization = oid("Organization", org, e.data["body"]) if e.data.get("body") else None
    if organization not in c.records:
        organization = None
    membership = c.add("Membership", oid("Membership", org, person, e.data["role"],
                                         str(e.position)),
                       body_of(org), e, e.aggregate_id, person=person_id,
                       organization=organization, role=e.data["role"],
                       start=e.data.get("valid_from"), end=None, containers=[person_id])
    owner = c.records[person_id]
    owner.fields["memberships"].append(membership.oid)
    owner.fields["open"][normalise_ref(e.data["role"])] = membership.oid
    if organization is not None:
        c.records[organization].fields["memberships"].append(membership.oid)
        membership.fields["containers"].append(organization)
    c.touch([membership.oid], e.recorded_at)


def _role_ended(c: Catalogue, e: FeedEntry) -> None:
    person = c.records.get(oid("Person", _org(c, e), e.data["person"]))
    membership = person.fields["open"].pop(normalise_ref(e.data["role"]), None) if person else None
    if membership is not None:
        c.records[membership].fields["end"] = e.data.get("valid_until")
        c.touch([membership], e.recorded_at)


def _matter_paper(c: Catalogue, e: FeedEntry, matter: str, organisation: str, dnr: str) -> None:
    paper = c.add("Paper", oid("Paper", "matter", organisation, dnr), body_of(organisation), e,
                  e.aggregate_id, paper_type="matter", reference=dnr, matter=matter)
    if paper.oid not in c.matter_papers[normalise_ref(matter)]:
        c.matter_papers[normalise_ref(matter)].append(paper.oid)
    c.touch(c.matter_papers[normalise_ref(matter)], e.recorded_at)


def _matter_opened(c: Catalogue, e: FeedEntry) -> None:
    state = c.created_entity(e, "matter")
    for number in e.data["case_numbers"]:
        _matter_paper(c, e, state["ref"], number["organisation"], number["dnr"])


def _matter_ref(c: Catalogue, e: FeedEntry) -> str:
    return str(c.state.get(e.aggregate_id, {}).get("ref", e.aggregate_id.hex))


def _case_number_added(c: Catalogue, e: FeedEntry) -> None:
    _matter_paper(c, e, _matter_ref(c, e), e.data["organisation"], e.data["dnr"])


def _matter_linked(c: Catalogue, e: FeedEntry) -> None:
    matter, other = _matter_ref(c, e), str(e.data["other"])
    c.matter_links[normalise_ref(matter)].append((other, e.data["relation"]))
    c.matter_links[normalise_ref(other)].append((matter, f"inverse:{e.data['relation']}"))
    for ref in (matter, other):
        c.touch(c.matter_papers[normalise_ref(ref)], e.recorded_at)


def _document_registered(c: Catalogue, e: FeedEntry) -> None:
    matter = _matter_ref(c, e)
    papers = c.matter_papers[normalise_ref(matter)]
    record = c.add("File", oid("File", matter, e.data["document_ref"]),
                   body_of(e.data["organisation"]), e, e.aggregate_id, document=dict(e.data),
                   matter=matter, containers=papers)
    c.matter_files[normalise_ref(matter)].append(record.oid)
    c.touch([record.oid], e.recorded_at)


def _meeting_held(c: Catalogue, e: FeedEntry) -> None:
    state = c.created_entity(e, "meeting")
    c.add("Meeting", oid("Meeting", state["ref"]), body_of(state["organisation"]), e,
          e.aggregate_id, items=[], state="held", appeals=0)


def _meeting(c: Catalogue, e: FeedEntry) -> OParlRecord | None:
    state = c.state.get(e.aggregate_id)
    return c.records.get(oid("Meeting", state["ref"])) if state else None


def _consultation(c: Catalogue, e: FeedEntry, subject: tuple[str, str], organisation: str,
                  body: str, containers: list[str]) -> OParlRecord:
    # Drawn from no single entry: alive while anything that made it is (see _settle).
    record = c.add("Consultation", oid("Consultation", *subject, organisation, body),
                   body_of(organisation), e, None)
    fields = record.fields
    if "subject" not in fields:
        c.subject_consultations[(subject[0], normalise_ref(subject[1]))].append(record.oid)
    fields.setdefault("subject", subject)
    fields.setdefault("organization", oid("Organization", organisation, body))
    fields.setdefault("decisions", [])
    fields.setdefault("containers", containers)
    return record


def _paragraph_recorded(c: Catalogue, e: FeedEntry) -> None:
    meeting = _meeting(c, e)
    state = c.state.get(e.aggregate_id)
    if meeting is None or state is None:
        return
    item = c.add("AgendaItem", oid("AgendaItem", state["ref"], str(e.data["number"])),
                 meeting.body, e, e.aggregate_id, number=e.data["number"],
                 title=e.data["title"], matter=e.data.get("matter"), containers=[meeting.oid])
    if item.oid not in meeting.fields["items"]:
        meeting.fields["items"].append(item.oid)
    if e.data.get("matter"):
        matter = str(e.data["matter"])
        consultation = _consultation(c, e, ("matter", matter), state["organisation"],
                                     state["body"], c.matter_papers[normalise_ref(matter)])
        consultation.fields["agenda_item"] = item.oid
        consultation.fields["meeting"] = meeting.oid
        item.fields["consultation"] = consultation.oid
        c.touch([consultation.oid], e.recorded_at)
    c.touch([item.oid], e.recorded_at)


def _meeting_stage(stage: str) -> Handler:
    def handle(c: Catalogue, e: FeedEntry) -> None:
        meeting = _meeting(c, e)
        if meeting is not None:
            meeting.fields["state"] = stage
        c.touch_aggregate(e.aggregate_id, e.recorded_at)
    return handle


def _motion_tabled(c: Catalogue, e: FeedEntry) -> None:
    state = c.created_entity(e, "motion")
    paper = c.add("Paper", oid("Paper", "motion", state["ref"]),
                  body_of(state["organisation"]), e, e.aggregate_id, paper_type="motion")
    _child_of_matter(c, e, paper)
    consultation = _consultation(c, e, ("motion", state["ref"]), state["organisation"],
                                 state["body"], [paper.oid])
    paper.fields["consultation"] = consultation.oid
    c.touch([consultation.oid], e.recorded_at)


def _child_of_matter(c: Catalogue, e: FeedEntry, paper: OParlRecord) -> None:
    matter = e.data.get("matter")
    if matter:
        c.matter_children[normalise_ref(str(matter))].append(paper.oid)
        paper.fields["matter"] = matter
        c.touch(c.matter_papers[normalise_ref(str(matter))], e.recorded_at)


def _decision_recorded(c: Catalogue, e: FeedEntry) -> None:
    data = dict(e.data)
    decided = Decided(str(data["ref"]), e.aggregate_id, data)
    c.decisions[normalise_ref(decided.ref)] = decided
    c.decision_of[e.aggregate_id] = normalise_ref(decided.ref)
    item = None
    if data.get("meeting") and data.get("paragraph"):
        item = c.records.get(oid("AgendaItem", str(data["meeting"]), str(data["paragraph"])))
        if item is not None:
            item.fields["decision"] = decided.ref
            decided.touches.append(item.oid)
    subjects = []
    if data.get("matter"):
        matter = str(data["matter"])
        subjects.append((("matter", matter), c.matter_papers[normalise_ref(matter)]))
    if data.get("motion"):
        motion = c.records.get(oid("Paper", "motion", str(data["motion"])))
        subjects.append((("motion", str(data["motion"])), [motion.oid] if motion else []))
    for kind, ref in _effect_subjects(data):
        paper = c.records.get(oid("Paper", kind, ref))
        subjects.append(((kind, ref), [paper.oid] if paper else []))
    for subject, containers in subjects:
        consultation = _consultation(c, e, subject, data["organisation"], data["body"],
                                     containers)
        consultation.fields["decisions"].append(decided.ref)
        if item is not None:
            consultation.fields["agenda_item"] = item.oid
            consultation.fields["meeting"] = item.fields["containers"][0]
            item.fields.setdefault("consultation", consultation.oid)
        decided.touches.append(consultation.oid)
    c.touch(decided.touches, e.recorded_at)


def _effect_subjects(data: JSON) -> list[tuple[str, str]]:
    """The recommendations and agreements a decision's effects act on (each once)."""
    found: dict[tuple[str, str], None] = {}
    for point in data.get("points") or []:
        for effect in point.get("effects") or []:
            for kind in ("recommendation", "agreement"):
                if effect.get(kind):
                    found[(kind, str(effect[kind]))] = None
    return list(found)


def _paper_of(kind: str, organisation_field: str, paper_type: str) -> Handler:
    def handle(c: Catalogue, e: FeedEntry) -> None:
        state = c.created_entity(e, kind)
        organisation = state[organisation_field]
        if isinstance(organisation, list):
            organisation = organisation[0]
        paper = c.add("Paper", oid("Paper", kind, state["ref"]), body_of(organisation), e,
                      e.aggregate_id, paper_type=paper_type)
        _child_of_matter(c, e, paper)
    return handle


_HANDLERS: dict[str, Handler] = {
    ORGANISATION_REGISTERED: _organisation,
    ORGANISATION_BODY_ESTABLISHED: _body_established,
    ORGANISATION_ROLE_ASSIGNED: _role_assigned,
    ORGANISATION_ROLE_ENDED: _role_ended,
    MATTER_OPENED: _matter_opened,
    MATTER_CASE_NUMBER_ADDED: _case_number_added,
    MATTER_LINKED: _matter_linked,
    MATTER_DOCUMENT_REGISTERED: _document_registered,
    MEETING_HELD: _meeting_held,
    MEETING_PARAGRAPH_RECORDED: _paragraph_recorded,
    MEETING_MINUTES_VERIFIED: _meeting_stage("minutes verified"),
    MEETING_MINUTES_POSTED: _meeting_stage("minutes posted"),
    MOTION_TABLED: _motion_tabled,
    DECISION_RECORDED: _decision_recorded,
    RECOMMENDATION_ISSUED: _paper_of("recommendation", "joint_body", "recommendation"),
    CONSULTATION_OPENED: _paper_of("consultation", "organisation", "consultation round"),
    AGREEMENT_REGISTERED: _paper_of("agreement", "parties", "agreement"),
}
