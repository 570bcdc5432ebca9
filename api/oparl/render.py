"""OParl 1.1 JSON for the catalogue's records: URLs, embedded objects, extension fields.

Extension fields carry the ``samsyn:`` prefix (OParl lets a server add properties of its
own under a prefix); everything else is OParl 1.1 as its JSON Schemas define it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from projections.oparl import Catalogue, OParlRecord, oid
from projections.queries import ReadModels

JSON = dict[str, Any]
SCHEMA = "https://schema.oparl.org/1.1/"
OPARL_VERSION = "https://schema.oparl.org/1.1/"

#: The URL path segment of each type's objects, and of each Body's list of them.
PATHS = {"Body": "body", "Organization": "organization", "Person": "person",
         "Membership": "membership", "Meeting": "meeting", "AgendaItem": "agenda-item",
         "Paper": "paper", "Consultation": "consultation", "File": "file"}
LISTS = {"Organization": "organizations", "Person": "persons", "Membership": "memberships",
         "Meeting": "meetings", "AgendaItem": "agenda-items", "Paper": "papers",
         "Consultation": "consultations", "File": "files"}
TYPES = {path: kind for kind, path in PATHS.items()}
LIST_TYPES = {path: kind for kind, path in LISTS.items()}

RESULTS = {"as_proposed": "decided as proposed", "amended": "decided with amendments",
           "rejected": "rejected", "without_motion": "decided without a motion"}


def stamp(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _text(value: Any) -> str:
    return str(value.isoformat() if isinstance(value, date) else value)


class Renderer:
    """Renders records as OParl objects under ``base`` (``https://host/oparl/v1``)."""

    def __init__(self, catalogue: Catalogue, root: str, read_models: ReadModels) -> None:
        self.c = catalogue
        self.root = root
        self.base = f"{root}/oparl/v1"
        self.read_models = read_models

    def url(self, kind: str, object_id: str) -> str:
        return f"{self.base}/{PATHS[kind]}/{object_id}"

    def list_url(self, body: str, kind: str) -> str:
        return f"{self.base}/body/{body}/{LISTS[kind]}"

    def system(self) -> JSON:
        found: JSON = {
            "id": f"{self.base}/system",
            "type": SCHEMA + "System",
            "oparlVersion": OPARL_VERSION,
            "body": f"{self.base}/bodies",
            "name": "Samsyn",
        }
        if self.c.created is not None:
            found["created"] = stamp(self.c.created)
            found["modified"] = stamp(self.c.modified)
        return found

    def render(self, record: OParlRecord) -> JSON:
        head: JSON = {
            "id": self.url(record.type, record.oid),
            "type": SCHEMA + record.type,
            "created": stamp(record.created),
            "modified": stamp(record.modified),
        }
        if record.deleted:
            return {**head, "deleted": True}
        body: JSON = RENDER[record.type](self, record)
        return {**head, **body}

    def embedded(self, object_ids: list[str]) -> list[JSON]:
        """Embedded objects (voided ones left out)."""
        return [self.render(r) for o in object_ids
                if (r := self.c.records.get(o)) is not None and not r.deleted]

    def live(self, kind: str, object_ids: list[str]) -> list[str]:
        return [self.url(kind, o) for o in object_ids
                if (r := self.c.records.get(o)) is not None and not r.deleted]

    # One function per type -----------------------------------------------------------------

    def body(self, record: OParlRecord) -> JSON:
        data = self.c.data(record)
        lists = {LISTS_FIELD[kind]: self.list_url(record.oid, kind) for kind in LISTS}
        return {
            "system": f"{self.base}/system",
            "name": data["name"],
            "shortName": data["ref"],
            "classification": data.get("organisation_kind", ""),
            **lists,
            "legislativeTerm": [],
        }

    def organization(self, record: OParlRecord) -> JSON:
        f = record.fields
        return {
            "body": self.url("Body", record.body or ""),
            "name": f["name"],
            "shortName": f["code"],
            "organizationType": f["body_kind"],
            "classification": f["body_kind"],
            "membership": self.live("Membership", f["memberships"]),
            "meeting": f"{self.url('Organization', record.oid)}/meetings",
        }

    def person(self, record: OParlRecord) -> JSON:
        return {
            "body": self.url("Body", record.body or ""),
            "name": record.fields["name"],
            "membership": self.embedded(record.fields["memberships"]),
        }

    def membership(self, record: OParlRecord) -> JSON:
        f = record.fields
        found: JSON = {"person": self.url("Person", f["person"]), "role": f["role"]}
        if f.get("organization"):
            found["organization"] = self.url("Organization", f["organization"])
        if f.get("start"):
            found["startDate"] = _text(f["start"])
        if f.get("end"):
            found["endDate"] = _text(f["end"])
        return found

    def meeting_organization(self, record: OParlRecord) -> str:
        data = self.c.data(record)
        return oid("Organization", data["organisation"], data["body"])

    def meeting(self, record: OParlRecord) -> JSON:
        data = self.c.data(record)
        organization = self.meeting_organization(record)
        items = sorted(record.fields["items"],
                       key=lambda o: int(self.c.records[o].fields["number"]))
        return {
            "name": data.get("title") or f"{data['body']} {_text(data['held_on'])}",
            "meetingState": record.fields["state"],
            "cancelled": False,
            "organization": [self.url("Organization", organization)]
            if organization in self.c.records else [],
            "agendaItem": self.embedded(items),
            "samsyn:heldOn": _text(data["held_on"]),
        }

    def agenda_item(self, record: OParlRecord) -> JSON:
        f = record.fields
        meeting = self.c.records[f["containers"][0]]
        numbers = sorted(int(self.c.records[o].fields["number"])
                         for o in meeting.fields["items"])
        found: JSON = {
            "meeting": self.url("Meeting", meeting.oid),
            "number": f"§ {f['number']}",
            "order": numbers.index(int(f["number"])) + 1,
            "name": f["title"],
            "public": True,
        }
        consultation = self.c.records.get(f.get("consultation") or "")
        if consultation is not None and not consultation.deleted:
            found["consultation"] = self.url("Consultation", consultation.oid)
        decided = self.c.decision(f.get("decision"))
        if decided is not None:
            outcome = str(decided.data.get("outcome", ""))
            found["result"] = RESULTS.get(outcome, outcome)
            if outcome != "as_proposed":
                found["resolutionText"] = "\n".join(
                    f"{p['number']}. {p['text']}" for p in decided.data["points"])
            found["samsyn:decision"] = decided.ref
            found["samsyn:decidedOn"] = _text(decided.data["decided_on"])
        return found

    def paper(self, record: OParlRecord) -> JSON:
        return PAPERS[record.fields["paper_type"]](self, record)

    def consultation(self, record: OParlRecord) -> JSON:
        f = record.fields
        decisions = [d for r in f["decisions"] if (d := self.c.decision(r)) is not None]
        found: JSON = {
            "paper": self.url("Paper", self._subject_paper(record)),
            "organization": [self.url("Organization", f["organization"])]
            if f["organization"] in self.c.records else [],
            "authoritative": bool(decisions),
            "role": "decision" if decisions else "deliberation",
        }
        item = self.c.records.get(f.get("agenda_item") or "")
        if item is not None and not item.deleted:
            found["agendaItem"] = self.url("AgendaItem", item.oid)
            found["meeting"] = self.url("Meeting", item.fields["containers"][0])
        if decisions:
            found["samsyn:decisions"] = [d.ref for d in decisions]
        return found

    def _subject_paper(self, record: OParlRecord) -> str:
        kind, ref = record.fields["subject"]
        if kind != "matter":
            return oid("Paper", kind, ref)
        papers = self.c.matter_papers.get(_norm(ref), [])
        own = [p for p in papers if self.c.records[p].body == record.body]
        return (own or papers or [oid("Paper", "matter", ref)])[0]

    def file(self, record: OParlRecord) -> JSON:
        document = record.fields["document"]
        found: JSON = {
            "name": document["title"],
            "date": _text(document["dated"]),
            # The ledger keeps a document's hash, not its content: the entry registering it.
            "accessUrl": f"{self.root}/v1/events?after={record.order - 1}&limit=1",
            "paper": self.live("Paper", self.c.matter_papers.get(_norm(record.fields["matter"]),
                                                                 [])),
            "samsyn:sha256": document["sha256"],
            "samsyn:documentKind": document["document_kind"],
            "samsyn:position": record.order,
        }
        if document.get("media_type"):
            found["mimeType"] = document["media_type"]
        return found


def _norm(ref: str) -> str:
    return " ".join(str(ref).split()).casefold()


LISTS_FIELD = {"Organization": "organization", "Person": "person", "Membership": "membership",
               "Meeting": "meeting", "AgendaItem": "agendaItem", "Paper": "paper",
               "Consultation": "consultation", "File": "file"}

RENDER: dict[str, Callable[[Renderer, OParlRecord], JSON]] = {
    "Body": Renderer.body, "Organization": Renderer.organization, "Person": Renderer.person,
    "Membership": Renderer.membership, "Meeting": Renderer.meeting,
    "AgendaItem": Renderer.agenda_item, "Paper": Renderer.paper,
    "Consultation": Renderer.consultation, "File": Renderer.file,
}


# Papers -------------------------------------------------------------------------------------

def _paper_head(r: Renderer, record: OParlRecord, name: str, reference: str, on: Any,
                paper_type: str) -> JSON:
    found: JSON = {
        "body": r.url("Body", record.body or ""),
        "name": name,
        "reference": reference,
        "paperType": paper_type,
    }
    if on:
        found["date"] = _text(on)[:10]
    matter = record.fields.get("matter")
    if matter and record.fields["paper_type"] != "matter":
        found["superordinatedPaper"] = r.live("Paper", r.c.matter_papers.get(_norm(matter), []))
    return found


def _matter_paper(r: Renderer, record: OParlRecord) -> JSON:
    data = r.c.data(record)
    matter = record.fields["matter"]
    siblings = [p for p in r.c.matter_papers.get(_norm(matter), []) if p != record.oid]
    linked = [p for other, _ in r.c.matter_links.get(_norm(matter), [])
              for p in r.c.matter_papers.get(_norm(other), [])]
    found = _paper_head(r, record, data["title"], record.fields["reference"],
                        data.get("opened_on"), "matter")
    found["relatedPaper"] = r.live("Paper", list(dict.fromkeys(siblings + linked)))
    found["subordinatedPaper"] = r.live("Paper", r.c.matter_children.get(_norm(matter), []))
    found["auxiliaryFile"] = r.embedded(r.c.matter_files.get(_norm(matter), []))
    consultations = [o for o in r.c.subject_consultations.get(("matter", _norm(matter)), [])
                     if r._subject_paper(r.c.records[o]) == record.oid]
    found["consultation"] = r.embedded(consultations)
    found["samsyn:caseNumbers"] = [
        {"organisation": _owner(r, paper), "dnr": paper.fields["reference"]}
        for paper in (r.c.records[p] for p in r.c.matter_papers.get(_norm(matter), []))
    ]
    found["samsyn:links"] = [{"matter": other, "relation": relation}
                             for other, relation in r.c.matter_links.get(_norm(matter), [])]
    return found


def _consultations(r: Renderer, kind: str, ref: str) -> list[JSON]:
    """The bodies that decided on a recommendation or agreement, across organisations."""
    return r.embedded(r.c.subject_consultations.get((kind, _norm(ref)), []))


def _owner(r: Renderer, record: OParlRecord) -> str:
    body = r.c.records.get(record.body or "")
    return str(r.c.data(body)["ref"]) if body is not None else ""


def _motion_paper(r: Renderer, record: OParlRecord) -> JSON:
    data = r.c.data(record)
    found = _paper_head(r, record, data["ref"], data["ref"], data.get("tabled_on"), "motion")
    found["consultation"] = r.embedded([record.fields["consultation"]])
    found["samsyn:proposer"] = data["proposer"]
    found["samsyn:points"] = data["points"]
    if data.get("justification"):
        found["samsyn:justification"] = data["justification"]
    return found


def _recommendation_paper(r: Renderer, record: OParlRecord) -> JSON:
    data = r.c.data(record)
    found = _paper_head(r, record, data["title"], data["ref"], data.get("issued_on"),
                        "recommendation")
    found["samsyn:points"] = data["points"]
    found["consultation"] = _consultations(r, "recommendation", data["ref"])
    adoption = r.read_models.adoption(data["ref"])
    if adoption is not None:
        found["samsyn:adoption"] = {
            "addressed": adoption.addressed,
            "adopted": adoption.adopted,
            "principals": [
                {"principal": p.principal, "outcome": p.outcome, "decision": p.decision,
                 "body": p.body, "decidedOn": _text(p.decided_on) if p.decided_on else None,
                 "verified": p.verified, "conditionsHold": p.conditions_hold,
                 "overdue": p.overdue}
                for p in adoption.principals
            ],
        }
    return found


def _consultation_round_paper(r: Renderer, record: OParlRecord) -> JSON:
    data = r.c.data(record)
    found = _paper_head(r, record, data["subject"], data["ref"], data.get("opens_on"),
                        "consultation round")
    found["samsyn:period"] = {"opensOn": _text(data["opens_on"]),
                              "closesOn": _text(data["closes_on"])}
    found["samsyn:addressees"] = data["addressees"]
    return found


def _agreement_paper(r: Renderer, record: OParlRecord) -> JSON:
    data = r.c.data(record)
    found = _paper_head(r, record, data["title"], data["ref"], data.get("valid_from"),
                        "agreement")
    found["samsyn:parties"] = data["parties"]
    found["consultation"] = _consultations(r, "agreement", data["ref"])
    status = r.read_models.agreement_status(data["ref"])
    if status is not None:
        found["samsyn:validity"] = {
            "status": status.status,
            "validFrom": _text(status.valid_from) if status.valid_from else None,
            "validUntil": _text(status.valid_until) if status.valid_until else None,
            "endsOn": _text(status.ends_on) if status.ends_on else None,
            "supersededBy": status.superseded_by,
        }
    return found


PAPERS: dict[str, Callable[[Renderer, OParlRecord], JSON]] = {
    "matter": _matter_paper, "motion": _motion_paper, "recommendation": _recommendation_paper,
    "consultation round": _consultation_round_paper, "agreement": _agreement_paper,
}
