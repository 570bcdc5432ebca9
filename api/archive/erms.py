"""ERMS XML (E-ARK CITS ERMS 3, FGS Ärendehantering 2.0) for one package, streamed.

Each matter is an ``aggregation`` of type ``caseFile`` holding one ``record`` per entity
registered on it (decisions, motions, recommendations, consultation rounds and each
response, agreements, assignments) and per document registered on the matter. Records on
no matter go into one aggregation of the package's own kind. Corrections and voidings stay
visible: a voided matter or record has status ``obliterated`` and a note with the reason;
each correction is a note naming the field, the wrong and the right value and why. Every
ledger entry behind an element is kept verbatim (``additionalXMLData``), with its position
in the ledger, so that it can be checked against the integrity export beside it.

The writer holds one aggregation at a time (lxml's incremental ``xmlfile``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from lxml import etree

from api.archive.scratch import Event, Scratch

ERMS = "https://DILCIS.eu/XML/ERMS"
SAMSYN = "urn:samsyn:archive:1"
NSMAP = {None: ERMS, "samsyn": SAMSYN}
_E = f"{{{ERMS}}}"
_S = f"{{{SAMSYN}}}"

#: How a link between matters reads in ERMS (a relation the standard lacks is its own).
LINKS = {"relates_to": "reference", "replaces": "replaces", "part_of": "part_of"}
INVERSE = {"relates_to": "referenced_by", "replaces": "is_replaced_with", "part_of": "contains"}

Element = etree._Element


def el(parent: Element, tag: str, text: Any = None, **attributes: Any) -> Element:
    child = etree.SubElement(parent, _E + tag, {k: str(v) for k, v in attributes.items()})
    if text is not None:
        child.text = str(text)
    return child


def moment(day: Any) -> str:
    """A domain date as xs:dateTime (the ledger records days, not times of day)."""
    text = str(day)
    return text if "T" in text else f"{text[:10]}T00:00:00"


@dataclass
class Folded:
    """An entity's events read together: its data as corrected, and what happened to it."""

    data: dict[str, Any]
    events: list[Event]
    corrections: list[Event] = field(default_factory=list)
    voided: Event | None = None
    later: list[Event] = field(default_factory=list)


def fold(events: Iterable[Event]) -> Folded:
    listed = list(events)
    found = Folded(dict(listed[0].data), listed)
    for event in listed[1:]:
        what = event.event_type.partition(".")[2]
        if what == "FactCorrected":
            found.data[event.data["field"]] = event.data["right_value"]
            found.corrections.append(event)
        elif what == "EntryVoided":
            found.voided = event
        else:
            found.later.append(event)
    return found


def _notes(parent: Element, folded: Folded, extra: Iterable[tuple[str, str, str]] = ()) -> None:
    notes: list[tuple[str, str, str]] = [*extra]
    for c in folded.corrections:
        d = c.data
        notes.append(("correction", c.recorded_at,
                      f"{d['field']} corrected from {d['wrong_value']!r} to "
                      f"{d['right_value']!r}: {d['reason']} (ledger position {c.position})"))
    if folded.voided is not None:
        v = folded.voided
        notes.append(("voiding", v.recorded_at,
                      f"voided: {v.data['reason']} (ledger position {v.position})"))
    if notes:
        holder = el(parent, "notes")
        for kind, when, text in notes:
            el(holder, "note", text, noteType=kind, noteDate=when)


def _facts(parent: Element, events: Iterable[Event]) -> None:
    info = el(parent, "additionalInformation")
    xml = el(info, "additionalXMLData")
    for event in events:
        fact = etree.SubElement(xml, _S + "entry", position=str(event.position),
                                type=event.event_type, recordedAt=event.recorded_at,
                                recordedBy=event.recorded_by)
        fact.text = orjson.dumps(event.data).decode()


def _dates(parent: Element, dates: Iterable[tuple[str, Any]]) -> None:
    listed = [(kind, value) for kind, value in dates if value]
    if listed:
        holder = el(parent, "dates")
        for kind, value in listed:
            el(holder, "date", moment(value), dateType=kind)


def _agents(parent: Element, agents: Iterable[tuple[str, str, str | None]]) -> None:
    holder = el(parent, "agents")
    for kind, name, unit in agents:
        agent = el(holder, "agent", agentType=kind)
        el(agent, "name", name)
        if unit:
            el(agent, "unitName", unit)


def _points(data: dict[str, Any]) -> str:
    lines = [f"{p['number']}. {p['text']}" for p in data.get("points") or []]
    if data.get("justification"):
        lines.append(f"Justification: {data['justification']}")
    return "\n".join(lines)


@dataclass(frozen=True)
class RecordShape:
    """What one kind of entity shows in ERMS."""

    title: Callable[[dict[str, Any]], str]
    dates: Callable[[Folded], list[tuple[str, Any]]]
    description: Callable[[dict[str, Any]], str]
    notes: Callable[[Folded], list[tuple[str, str, str]]]
    relations: Callable[[Folded, Scratch, str], list[tuple[str, str]]]


def _later_notes(describe: Callable[[dict[str, Any]], str]) -> Callable[[Folded],
                                                                          list[tuple[str, str,
                                                                                     str]]]:
    def notes(folded: Folded) -> list[tuple[str, str, str]]:
        return [(e.event_type.partition(".")[2], e.recorded_at,
                 f"{describe(e.data)} (ledger position {e.position})") for e in folded.later]
    return notes


def _no_relations(folded: Folded, scratch: Scratch, aggregate: str) -> list[tuple[str, str]]:
    return []


def _decision_relations(folded: Folded, scratch: Scratch,
                        aggregate: str) -> list[tuple[str, str]]:
    data = folded.data
    found = [("reference", f"motion {data['motion']}")] if data.get("motion") else []
    return found + [("reference", f"meeting {data['meeting']} § {data['paragraph']}")
                    ] * bool(data.get("meeting"))


def _agreement_relations(folded: Folded, scratch: Scratch,
                         aggregate: str) -> list[tuple[str, str]]:
    return ([("is_replaced_with", f"agreement {r}") for r in scratch.replaced_by(aggregate)]
            + [("replaces", f"agreement {r}") for r in scratch.replacing(folded.data["ref"])])


def _first_text(data: dict[str, Any]) -> str:
    points = data.get("points") or [{"text": data.get("ref", "")}]
    return str(points[0]["text"])[:250]


#: The dates of a meeting's minutes: verified (justerade), posted, the appeal period's end.
MEETING_DATES = {
    "Meeting.MinutesVerified": (("reviewed", "verified_on"),),
    "Meeting.MinutesPosted": (("sent", "posted_on"), ("expiration", "appeal_period_ends")),
}

SHAPES: dict[str, RecordShape] = {
    "decision": RecordShape(
        title=_first_text,
        dates=lambda f: [("decision", f.data.get("decided_on"))],
        description=_points,
        notes=lambda f: [("outcome", f.events[0].recorded_at, str(f.data.get("outcome")))],
        relations=_decision_relations,
    ),
    "motion": RecordShape(
        title=lambda d: str(d["ref"]),
        dates=lambda f: [("received", f.data.get("tabled_on"))],
        description=_points,
        notes=lambda f: [],
        relations=_no_relations,
    ),
    "recommendation": RecordShape(
        title=lambda d: str(d["title"]),
        dates=lambda f: [("sent", f.data.get("issued_on")),
                         ("decision_deadline", f.data.get("respond_by"))],
        description=_points,
        notes=_later_notes(lambda d: " ".join(
            f"{k}: {d[k]}" for k in ("principal", "outcome", "decision", "decided_on", "reason")
            if d.get(k))),
        relations=lambda f, s, a: [("reference", f"decision {f.data['decision']}")]
        if f.data.get("decision") else [],
    ),
    "consultation": RecordShape(
        title=lambda d: str(d["subject"]),
        dates=lambda f: [("sent", f.data.get("opens_on")),
                         ("decision_deadline", f.data.get("closes_on")),
                         *[("closed", e.data["closed_on"]) for e in f.later
                           if e.event_type == "Consultation.Closed"]],
        description=lambda d: "Addressed to: " + ", ".join(d.get("addressees") or []),
        notes=lambda f: [],
        relations=lambda f, s, a: [("reference", f"decision {f.data['decision']}")]
        if f.data.get("decision") else [],
    ),
    "agreement": RecordShape(
        title=lambda d: str(d["title"]),
        dates=lambda f: [("start", f.data.get("valid_from")), ("end", f.data.get("valid_until"))],
        description=lambda d: f"{d.get('agreement_kind')} between " + ", ".join(d["parties"]),
        notes=_later_notes(lambda d: " ".join(
            f"{k}: {d[k]}" for k in ("party", "decision", "decided_on", "change", "reason")
            if d.get(k))),
        relations=_agreement_relations,
    ),
    "meeting": RecordShape(
        title=lambda d: f"Minutes of {d['organisation']}/{d['body']} {d['held_on']}"
        + (f": {d['title']}" if d.get("title") else ""),
        dates=lambda f: [("originated", f.data.get("held_on")), *[
            (kind, e.data[field]) for e in f.later for kind, field in MEETING_DATES.get(
                e.event_type, ())]],
        description=lambda d: "",
        notes=_later_notes(lambda d: " ".join(f"{k}: {v}" for k, v in d.items() if v)),
        relations=_no_relations,
    ),
    "assignment": RecordShape(
        title=lambda d: str(d["task"])[:250],
        dates=lambda f: [("decision", f.data.get("given_on")),
                         ("decision_deadline", f.data.get("due_on")),
                         *[("finished", e.data["reported_on"]) for e in f.later
                           if e.event_type == "Assignment.ReportedBack"]],
        description=lambda d: f"Owner: {d['owner']}. {d['task']}",
        notes=_later_notes(lambda d: " ".join(f"{k}: {v}" for k, v in d.items() if v)),
        relations=lambda f, s, a: [("reference", f"decision {f.data['decision']}")],
    ),
}


class PackageWriter:
    """Writes the ERMS file of one package: matters (and unfiled records) of one scope."""

    def __init__(self, scratch: Scratch, creator: str, package_id: str) -> None:
        self.scratch = scratch
        self.creator = creator
        self.package_id = package_id

    def write(self, path: Path, matters: Iterable[str], unfiled: list[str], created: datetime,
              advance: Callable[[], None]) -> None:
        with etree.xmlfile(str(path), encoding="utf-8") as xf:
            xf.write_declaration()
            with xf.element(_E + "erms", nsmap=NSMAP):
                xf.write(self._control(created))
                with xf.element(_E + "aggregations"):
                    for matter in matters:
                        xf.write(self.matter(matter))
                        advance()
                    if unfiled:
                        self._unfiled(xf, unfiled)

    def _control(self, created: datetime) -> Element:
        control = etree.Element(_E + "control", nsmap=NSMAP)
        el(control, "identification", self.package_id, identificationType="package")
        info = el(control, "maintenanceInformation")
        el(info, "maintenanceStatus", value="new")
        agency = el(info, "maintenanceAgency")
        el(agency, "agencyName", self.creator)
        history = el(info, "maintenanceHistory")
        event = el(history, "maintenanceEvent")
        el(event, "eventType", value="created")
        el(event, "eventDateTime", created.isoformat())
        agent = el(event, "agent", agentType="creator")
        el(agent, "name", "Samsyn (samsyn archive)")
        return control

    def matter(self, aggregate: str) -> Element:
        ref, numbers = self.scratch.matter(aggregate)
        folded = fold(self.scratch.events(aggregate))
        data = folded.data
        documents = [e for e in folded.later if e.event_type == "Matter.DocumentRegistered"]
        node = etree.Element(_E + "aggregation", systemIdentifier=f"samsyn:matter:{aggregate}",
                             aggregationType="caseFile", nsmap=NSMAP)
        el(node, "objectId", ref)
        for organisation, dnr in numbers:
            el(node, "extraId", dnr, extraIdType=f"case number of {organisation}")
        el(node, "title", data["title"])
        el(node, "status", value="obliterated" if folded.voided else "open")
        for e in folded.later:
            if e.event_type == "Matter.Linked":
                relation = e.data["relation"]
                self._relation(node, LINKS.get(relation), relation, f"matter {e.data['other']}")
        for other, relation in self.scratch.linked_from(ref):
            self._relation(node, INVERSE.get(relation), f"inverse of {relation}",
                           f"matter {other}")
        _facts(node, [e for e in folded.events if e not in documents])
        _agents(node, [("creator", self.scratch.organisation_name(o), None)
                       for o, _ in numbers[:1]])
        _dates(node, [("opened", data.get("opened_on")),
                      ("created", folded.events[0].recorded_at)])
        _notes(node, folded)
        for entity, _kind, _ref in self.scratch.on_matter(ref):
            node.extend(self.records(entity))
        for document in documents:
            node.append(self.document(document, folded))
        return node

    @staticmethod
    def _relation(parent: Element, relation: str | None, own: str, target: str) -> None:
        if relation is None:
            el(parent, "relation", target, relationType="own_relation_definition",
               otherRelationType=own)
        else:
            el(parent, "relation", target, relationType=relation)

    def _unfiled(self, xf: Any, entities: list[str]) -> None:
        """One aggregation for the records on no matter, written record by record (every
        meeting of the cooperation may be in it)."""
        with xf.element(_E + "aggregation", nsmap=NSMAP,
                        systemIdentifier=f"samsyn:unfiled:{self.package_id}",
                        aggregationType="own_aggregation_definition",
                        otherAggregationType="records registered on no matter"):
            head = etree.Element(_E + "objectId", nsmap=NSMAP)
            head.text = f"{self.package_id}: records on no matter"
            xf.write(head)
            title = etree.Element(_E + "title", nsmap=NSMAP)
            title.text = "Records registered on no matter (among them every meeting's minutes)"
            xf.write(title)
            for entity in entities:
                for record in self.records(entity):
                    xf.write(record)

    def records(self, aggregate: str) -> list[Element]:
        kind, ref = self.scratch.entity(aggregate)
        folded = fold(self.scratch.events(aggregate))
        shape = SHAPES[kind]
        data = folded.data
        record = etree.Element(_E + "record", systemIdentifier=f"samsyn:{kind}:{aggregate}",
                               recordType=kind, recordPhysicalOrDigital="digital", nsmap=NSMAP)
        el(record, "objectId", ref)
        if data.get("paragraph"):
            el(record, "extraId", f"§ {data['paragraph']}", extraIdType="paragraph")
        el(record, "title", shape.title(data) or ref)
        if folded.voided is not None:
            el(record, "status", value="obliterated")
        for relation, target in shape.relations(folded, self.scratch, aggregate):
            el(record, "relation", target, relationType=relation)
        owner = data.get("organisation") or data.get("joint_body") or (data.get("parties")
                                                                         or [""])[0]
        _agents(record, [("creator", self.scratch.organisation_name(str(owner)),
                          data.get("body"))])
        description = shape.description(data)
        if description:
            el(record, "description", description)
        _dates(record, [*shape.dates(folded), ("created", folded.events[0].recorded_at)])
        _notes(record, folded, shape.notes(folded))
        _facts(record, folded.events)
        found = [record]
        if kind == "consultation":
            found += [self.response(e, folded, ref) for e in folded.later
                      if e.event_type == "Consultation.ResponseReceived"]
        return found

    def response(self, event: Event, round_: Folded, round_ref: str) -> Element:
        d = event.data
        record = etree.Element(_E + "record",
                               systemIdentifier=f"samsyn:consultation-response:{event.position}",
                               recordType="consultation_response",
                               recordPhysicalOrDigital="digital", nsmap=NSMAP)
        el(record, "objectId", f"{round_ref} / {d['principal']}")
        el(record, "title", f"Response of {d['principal']}: {round_.data['subject']}"[:250])
        if round_.voided is not None:
            el(record, "status", value="obliterated")
        el(record, "relation", f"consultation {round_ref}", relationType="part_of")
        el(record, "direction", directionDefinition="incoming")
        _agents(record, [("sender", self.scratch.organisation_name(d["principal"]), None)])
        el(record, "description", f"Stance: {d['stance']}"
           + (f". {d['summary']}" if d.get("summary") else ""))
        _dates(record, [("received", d.get("received_on")), ("created", event.recorded_at)])
        _facts(record, [event])
        return record

    def document(self, event: Event, matter: Folded) -> Element:
        d = event.data
        record = etree.Element(_E + "record", systemIdentifier=f"samsyn:document:{event.position}",
                               recordType=f"document ({d['document_kind']})",
                               recordPhysicalOrDigital="digital", nsmap=NSMAP)
        el(record, "objectId", d["document_ref"])
        el(record, "extraId", d["sha256"], extraIdType="SHA-256")
        if d.get("media_type"):
            el(record, "extraId", d["media_type"], extraIdType="media type")
        el(record, "title", d["title"])
        if matter.voided is not None:
            el(record, "status", value="obliterated")
        _agents(record, [("creator", self.scratch.organisation_name(d["organisation"]), None)])
        _dates(record, [("originated", d.get("dated")), ("created", event.recorded_at)])
        _facts(record, [event])
        return record
