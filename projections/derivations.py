"""Derivations several read models share: corrections, voiding, when a decision takes effect.

Done here and nowhere else:

* an entity's registered facts with every correction applied (each linked to the
  correction's position), and whether it was voided;
* when a decision takes *effect*: a condition with ``endorsement_by`` is met from the day
  an endorsing decision of that body is itself in effect; the decision is in effect from
  the later of its own date and every such condition's; a voided decision never is.
  A condition stated as text only cannot be checked by the ledger: it is shown as
  ``untracked`` and does not hold the decision back;
* whether a decision's paragraph is verified, posted, appealed or final, from its meeting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, TypedDict

from projections.events import (
    AGREEMENT_PARTY_DECIDED,
    AGREEMENT_PARTY_DECISION_WITHDRAWN,
    AGREEMENT_REGISTERED,
    ASSIGNMENT_DEADLINE_REVISED,
    ASSIGNMENT_GIVEN,
    ASSIGNMENT_REPORTED_BACK,
    CASE_NUMBER_CLAIMED,
    CONSULTATION_CLOSED,
    CONSULTATION_OPENED,
    CONSULTATION_RESPONSE_RECEIVED,
    CORRECTED,
    CREATED,
    DECISION_RECORDED,
    MATTER_CASE_NUMBER_ADDED,
    MATTER_DOCUMENT_REGISTERED,
    MATTER_LINKED,
    MATTER_OPENED,
    MEETING_APPEAL_LODGED,
    MEETING_APPEAL_RESOLVED,
    MEETING_CHECKERS_ELECTED,
    MEETING_HELD,
    MEETING_MINUTES_POSTED,
    MEETING_MINUTES_VERIFIED,
    MEETING_PARAGRAPH_RECORDED,
    MEETING_PARAGRAPH_VERIFIED,
    MOTION_TABLED,
    ORGANISATION_BODY_ESTABLISHED,
    ORGANISATION_REGISTERED,
    ORGANISATION_ROLE_ASSIGNED,
    ORGANISATION_ROLE_ENDED,
    RECOMMENDATION_ISSUED,
    RECOMMENDATION_PRINCIPAL_DECIDED,
    RECOMMENDATION_PRINCIPAL_DECISION_WITHDRAWN,
    VOIDED,
)
from projections.facts import JSON, Fact, Item, Loader, first, from_micros, key, parse_date

#: How deep endorsements of endorsements are followed. An endorsement is recorded after
#: what it endorses, so chains cannot loop; the limit only bounds the recursion.
ENDORSEMENT_DEPTH = 64


def same(a: str | None, b: str | None) -> bool:
    return (a or "").casefold() == (b or "").casefold()


def effects(data: Mapping[str, Any]) -> list[JSON]:
    """Every effect of every point of a decision or recommendation."""
    return [e for point in data.get("points") or [] for e in point.get("effects") or []]


def iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def latest_date(values: Iterable[str | None]) -> str | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


# Registered facts, corrections and voiding -------------------------------------------------


class CorrectionFact(TypedDict):
    """A correction as a folded state keeps it (see :class:`Correction`)."""

    field: str
    wrong_value: Any
    right_value: Any
    reason: str
    position: int
    recorded_at: int
    recorded_by: str


class Registered(TypedDict):
    """What every folded state holds besides its entity's registered fields (see
    :func:`entity_state`); each read model's state extends it with what its view reads."""

    ref: str
    position: int
    recorded_at: int
    recorded_by: str
    corrections: list[CorrectionFact]
    voided: bool
    void_reason: str | None
    void_position: int | None


def entity_state(facts: list[Fact], entity: str, created: str) -> JSON | None:
    """The entity's registered fields with corrections applied, and whether it was voided.

    Fields are those of its ``created`` event; ``corrections`` lists each correction with
    its position (the link to it), ``voided``/``void_reason`` the voiding, if any.
    """
    state: JSON | None = None
    for fact in facts:
        if fact.entity != entity:
            continue
        event_type = fact.event_type
        if state is None:
            if event_type != created:
                continue
            state = dict(fact.data)
            state.update(
                position=fact.position,
                recorded_at=fact.recorded_at,
                recorded_by=fact.recorded_by,
                corrections=[],
                voided=False,
                void_reason=None,
                void_position=None,
            )
        elif event_type.endswith(CORRECTED):
            state[fact.data["field"]] = fact.data["right_value"]
            state["corrections"].append(
                {
                    "field": fact.data["field"],
                    "wrong_value": fact.data["wrong_value"],
                    "right_value": fact.data["right_value"],
                    "reason": fact.data["reason"],
                    "position": fact.position,
                    "recorded_at": fact.recorded_at,
                    "recorded_by": fact.recorded_by,
                }
            )
        elif event_type.endswith(VOIDED) and not state["voided"]:
            state.update(voided=True, void_reason=fact.data["reason"], void_position=fact.position)
    return state


@dataclass(frozen=True)
class Correction:
    """A registered fact was wrong; the read models show ``right_value``.

    ``position`` is the correction's own entry in the ledger: the link to it.
    """

    field: str
    wrong_value: Any
    right_value: Any
    reason: str
    position: int
    recorded_at: datetime
    recorded_by: str


def corrections_of(state: Mapping[str, Any]) -> tuple[Correction, ...]:
    return tuple(
        Correction(
            field=c["field"],
            wrong_value=c["wrong_value"],
            right_value=c["right_value"],
            reason=c["reason"],
            position=c["position"],
            recorded_at=from_micros(c["recorded_at"]),
            recorded_by=c["recorded_by"],
        )
        for c in state.get("corrections") or []
    )


# Decisions ----------------------------------------------------------------------------------


def endorsed_key(decision_key: str) -> str:
    """The key under which decisions endorsing the decision ``decision_key`` are filed."""
    return "endorsed:" + decision_key.split(":", 1)[1]


def endorsement_keys(item: Item) -> tuple[str, ...]:
    """A decision endorsing others is also filed under each decision it endorses."""
    if item.event_type != DECISION_RECORDED:
        return ()
    return tuple(
        endorsed_key(key("decision", e["decision"]))
        for e in effects(item.data)
        if e.get("effect") == "endorse_decision"
    )


def _registered(loader: Loader, k: str) -> JSON | None:
    return loader.memo("registered", k, _registered_now, loader, k)


def _registered_now(loader: Loader, k: str) -> JSON | None:
    return entity_state(loader.get(k), k, DECISION_RECORDED)


def _endorsers(loader: Loader, k: str) -> list[str]:
    return [f.entity for f in loader.get(endorsed_key(k)) if f.event_type == DECISION_RECORDED]


def _prefetch(loader: Loader, keys: list[str], depth: int = 0) -> None:
    """Ask for every key the decisions' derivations will read, a level at a time."""
    loader.need(keys)
    conditional = [
        k for k in keys
        if (d := _registered(loader, k)) is not None
        and any(c.get("endorsement_by") for c in d["conditions"])
    ]
    loader.need(endorsed_key(k) for k in conditional)
    endorsers = sorted({e for k in conditional for e in _endorsers(loader, k)})
    if endorsers and depth < ENDORSEMENT_DEPTH:
        _prefetch(loader, endorsers, depth + 1)


def decision(loader: Loader, k: str, depth: int = 0) -> JSON | None:
    """The derived facts of the decision filed under ``k`` (memoised; do not change it).

    Its registered fields corrected, ``conditions`` each with ``met_on`` and the
    endorsements that met it, and ``effective_on`` (None while a tracked condition is
    unmet, or when voided).
    """
    return loader.memo("decision", k, _derive, loader, k, depth)


def _derive(loader: Loader, k: str, depth: int) -> JSON | None:
    registered = _registered(loader, k)
    if registered is None:
        return None
    d = dict(registered)
    conditions: list[JSON] = []
    for condition in registered["conditions"]:
        by = condition.get("endorsement_by")
        met: list[JSON] = []
        for endorser in _endorsers(loader, k) if by and depth < ENDORSEMENT_DEPTH else []:
            e = decision(loader, endorser, depth + 1)
            if e is None or e["voided"] or e["effective_on"] is None:
                continue
            if same(e["organisation"], by["organisation"]) and same(e["body"], by["body"]):
                met.append(
                    {"decision": e["ref"], "decided_on": e["decided_on"],
                     "effective_on": e["effective_on"]}
                )
        met.sort(key=lambda m: (m["effective_on"], m["decision"]))
        conditions.append(
            {
                "text": condition["text"],
                "endorsement_by": by,
                "met_on": met[0]["effective_on"] if met else None,
                "endorsements": met,
            }
        )
    d["conditions"] = conditions
    tracked = [c for c in conditions if c["endorsement_by"]]
    if d["voided"] or any(c["met_on"] is None for c in tracked):
        d["effective_on"] = None
    else:
        d["effective_on"] = latest_date([d["decided_on"], *(c["met_on"] for c in tracked)])
    return d


def decisions(loader: Loader, keys: Iterable[str], *, meetings: bool) -> dict[str, JSON]:
    """The derived facts (see :func:`decision`) of each decision under ``keys`` that exists.

    With ``meetings`` each also has ``verified_on``, ``posted_on``, ``appeal_period_ends``
    and ``appeals`` of its paragraph.
    """
    wanted = sorted(set(keys))
    _prefetch(loader, wanted)
    found = {k: d for k in wanted if (d := decision(loader, k)) is not None}
    if not meetings:
        return found
    loader.need(key("meeting", d["meeting"]) for d in found.values() if d.get("meeting"))
    return {k: _with_meeting(loader, k) for k in found}


def _with_meeting(loader: Loader, k: str) -> JSON:
    return loader.memo("decision+meeting", k, _add_meeting, loader, k)


def _add_meeting(loader: Loader, k: str) -> JSON:
    d = decision(loader, k)
    assert d is not None
    status: JSON = {"verified_on": None, "posted_on": None, "appeal_period_ends": None,
                    "appeals": []}
    if d.get("meeting") and d.get("paragraph") is not None:
        meeting = key("meeting", d["meeting"])
        status = paragraph_status(loader.get(meeting), meeting, d["paragraph"])
    return {**d, **status}


def paragraph_status(facts: list[Fact], meeting: str, number: int) -> JSON:
    """Verification, posting and appeals of § ``number`` of a meeting, from its facts."""
    state = entity_state(facts, meeting, MEETING_HELD)
    result: JSON = {"verified_on": None, "posted_on": None, "appeal_period_ends": None,
                    "appeals": []}
    if state is None or state["voided"]:
        return result
    own = [f for f in facts if f.entity == meeting]
    recorded_at = next(
        (f.position for f in own
         if f.event_type == MEETING_PARAGRAPH_RECORDED and f.data["number"] == number),
        None,
    )
    verified: list[str] = [
        f.data["verified_on"] for f in own
        if f.event_type == MEETING_PARAGRAPH_VERIFIED and f.data["number"] == number
    ]
    minutes = first(own, MEETING_MINUTES_VERIFIED)
    if minutes is not None and recorded_at is not None and recorded_at < minutes.position:
        verified.append(minutes.data["verified_on"])
    result["verified_on"] = min(verified) if verified else None
    posted = first(own, MEETING_MINUTES_POSTED)
    if posted is not None and result["verified_on"] is not None:
        result["posted_on"] = posted.data["posted_on"]
        result["appeal_period_ends"] = posted.data["appeal_period_ends"]
    appeals: dict[str, JSON] = {}
    for f in own:
        if f.event_type == MEETING_APPEAL_LODGED and f.data["paragraph"] == number:
            appeals[f.data["appeal_ref"].casefold()] = {
                "appeal_ref": f.data["appeal_ref"],
                "lodged_on": f.data["lodged_on"],
                "appellant": f.data["appellant"],
                "court": f.data.get("court"),
                "resolved_on": None,
                "outcome": None,
            }
        elif f.event_type == MEETING_APPEAL_RESOLVED:
            appeal = appeals.get(f.data["appeal_ref"].casefold())
            if appeal is not None:
                appeal.update(resolved_on=f.data["resolved_on"], outcome=f.data["outcome"])
    result["appeals"] = list(appeals.values())
    return result


@dataclass(frozen=True)
class ConditionStatus:
    """A condition of a decision, as of the date asked about.

    ``met`` is None for a condition stated as text only, which the ledger cannot check.
    """

    text: str
    endorsement_by: str | None
    met: bool | None
    met_on: date | None
    endorsed_by: tuple[str, ...]


ConditionsState = Literal["none", "pending", "met", "untracked"]


def conditions_as_of(decision: Mapping[str, Any], as_of: date) -> tuple[ConditionStatus, ...]:
    statuses = []
    for c in decision.get("conditions") or []:
        by = c.get("endorsement_by")
        met_on = parse_date(c.get("met_on"))
        statuses.append(
            ConditionStatus(
                text=c["text"],
                endorsement_by=f"{by['organisation']}/{by['body']}" if by else None,
                met=(met_on is not None and met_on <= as_of) if by else None,
                met_on=met_on if met_on is not None and met_on <= as_of else None,
                endorsed_by=tuple(
                    e["decision"] for e in c.get("endorsements") or []
                    if parse_date(e["effective_on"]) <= as_of  # type: ignore[operator]
                ),
            )
        )
    return tuple(statuses)


def conditions_state(conditions: tuple[ConditionStatus, ...]) -> ConditionsState:
    if not conditions:
        return "none"
    if any(c.met is False for c in conditions):
        return "pending"
    if any(c.met is None for c in conditions):
        return "untracked"
    return "met"


def effective_as_of(decision: Mapping[str, Any], as_of: date) -> bool:
    """Whether the decision is in effect on ``as_of`` (its conditions met by then)."""
    effective_on = parse_date(decision.get("effective_on"))
    return effective_on is not None and effective_on <= as_of


AppealStatus = Literal["not_posted", "appealable", "appealed", "annulled", "final"]


@dataclass(frozen=True)
class Appeal:
    appeal_ref: str
    lodged_on: date
    appellant: str
    court: str | None
    resolved_on: date | None
    outcome: str | None


def appeals_as_of(decision: Mapping[str, Any], as_of: date) -> tuple[Appeal, ...]:
    result = []
    for a in decision.get("appeals") or []:
        lodged = parse_date(a["lodged_on"])
        if lodged is None or lodged > as_of:
            continue
        resolved = parse_date(a.get("resolved_on"))
        known = resolved is not None and resolved <= as_of
        result.append(
            Appeal(
                appeal_ref=a["appeal_ref"],
                lodged_on=lodged,
                appellant=a["appellant"],
                court=a.get("court"),
                resolved_on=resolved if known else None,
                outcome=a.get("outcome") if known else None,
            )
        )
    return tuple(result)


def appeal_status(
    decision: Mapping[str, Any], appeals: tuple[Appeal, ...], as_of: date
) -> AppealStatus:
    """Appealed while an appeal lodged by then is unresolved; final once the period ran out."""
    if any(a.resolved_on is None for a in appeals):
        return "appealed"
    if any(a.outcome in ("upheld", "annulled") for a in appeals):
        return "annulled"
    posted = parse_date(decision.get("posted_on"))
    ends = parse_date(decision.get("appeal_period_ends"))
    if posted is None or posted > as_of:
        return "not_posted"
    if ends is not None and ends < as_of:
        return "final"
    return "appealable"


def verified_as_of(decision: Mapping[str, Any], as_of: date) -> date | None:
    verified = parse_date(decision.get("verified_on"))
    return verified if verified is not None and verified <= as_of else None


# Dates and descriptions of entries ----------------------------------------------------------

#: The domain date each kind of entry speaks of (decided on, issued on, ...), held by the
#: entry itself; an entry dated by the act it names is in :data:`DATED_BY` instead.
PRIMARY_DATE: dict[str, str] = {
    ORGANISATION_REGISTERED: "registered_on",
    ORGANISATION_ROLE_ASSIGNED: "valid_from",
    ORGANISATION_ROLE_ENDED: "valid_until",
    MATTER_OPENED: "opened_on",
    MATTER_DOCUMENT_REGISTERED: "dated",
    MEETING_HELD: "held_on",
    MEETING_MINUTES_VERIFIED: "verified_on",
    MEETING_PARAGRAPH_VERIFIED: "verified_on",
    MEETING_MINUTES_POSTED: "posted_on",
    MEETING_APPEAL_LODGED: "lodged_on",
    MEETING_APPEAL_RESOLVED: "resolved_on",
    MOTION_TABLED: "tabled_on",
    DECISION_RECORDED: "decided_on",
    RECOMMENDATION_ISSUED: "issued_on",
    CONSULTATION_OPENED: "opens_on",
    CONSULTATION_RESPONSE_RECEIVED: "received_on",
    CONSULTATION_CLOSED: "closed_on",
    AGREEMENT_REGISTERED: "valid_from",
    ASSIGNMENT_REPORTED_BACK: "reported_on",
}


#: The domain date of each kind of entity, the field its creating event holds it in (what
#: a correction of that field moves).
DATE_FIELD: dict[str, str] = {
    kind: PRIMARY_DATE[created] for kind, created in CREATED.items() if created in PRIMARY_DATE
}

#: Entries that speak of an act of another entity by naming it (the field naming it, and
#: that entity's kind): their domain date is that act's, read through it, never a copy.
#: A principal's decision on a recommendation, a party's on an agreement, an assignment
#: given and a deadline revised are each the decision that made them; the date these
#: events carried when first written is left unread, so a correction or voiding of the
#: decision reaches them all.
DATED_BY: dict[str, tuple[str, str]] = dict.fromkeys(
    (RECOMMENDATION_PRINCIPAL_DECIDED, AGREEMENT_PARTY_DECIDED, ASSIGNMENT_GIVEN,
     ASSIGNMENT_DEADLINE_REVISED),
    ("decision", "decision"),
)


def dated_by(event_type: str, data: Mapping[str, Any]) -> str | None:
    """The key of the act whose domain date an entry speaks of, when it names another."""
    named = DATED_BY.get(event_type)
    if named is None:
        return None
    ref = data.get(named[0])
    return key(named[1], ref) if ref else None


def act_date(loader: Loader, act: str) -> str | None:
    """The (corrected) domain date of the act filed under ``act`` as ISO text."""
    state = loader.memo("registered-any", act, _registered_any, loader, act)
    if state is None:
        return None
    return primary_date(CREATED[act.split(":", 1)[0]], state)


def _registered_any(loader: Loader, act: str) -> JSON | None:
    return entity_state(loader.get(act), act, CREATED[act.split(":", 1)[0]])


def date_of(loader: Loader, event_type: str, data: Mapping[str, Any]) -> str | None:
    """An entry's domain date, read through the act it names if it names one (the caller
    asks ``loader.need`` for those acts first, see :func:`dated_by`)."""
    act = dated_by(event_type, data)
    if act is not None:
        on = act_date(loader, act)
        if on is not None:
            return on
    return primary_date(event_type, data)


def primary_date(event_type: str, data: Mapping[str, Any]) -> str | None:
    """The domain date an entry speaks of, as ISO text (None for registry acts)."""
    name = PRIMARY_DATE.get(event_type)
    value = data.get(name) if name else None
    return str(value)[:10] if value else None


_DESCRIPTIONS: dict[str, str] = {
    ORGANISATION_REGISTERED: "{ref} registered as {organisation_kind}: {name}",
    ORGANISATION_BODY_ESTABLISHED: "body {code} established: {name}",
    ORGANISATION_ROLE_ASSIGNED: "{person} became {role}",
    ORGANISATION_ROLE_ENDED: "{person} left the role {role}",
    MATTER_OPENED: "matter opened: {title}",
    MATTER_CASE_NUMBER_ADDED: "case number {organisation} {dnr} added",
    MATTER_LINKED: "linked to {other} ({relation})",
    MATTER_DOCUMENT_REGISTERED: "document {document_ref} registered: {title}",
    CASE_NUMBER_CLAIMED: "case number {ref} claimed",
    MEETING_HELD: "{organisation}/{body} met",
    MEETING_CHECKERS_ELECTED: "checkers elected: {checkers}",
    MEETING_PARAGRAPH_RECORDED: "§ {number} recorded: {title}",
    MEETING_MINUTES_VERIFIED: "minutes verified by {verified_by}",
    MEETING_PARAGRAPH_VERIFIED: "§ {number} verified by {verified_by}",
    MEETING_MINUTES_POSTED: "minutes posted; appeals until {appeal_period_ends}",
    MEETING_APPEAL_LODGED: "appeal {appeal_ref} of § {paragraph} lodged by {appellant}",
    MEETING_APPEAL_RESOLVED: "appeal {appeal_ref} resolved: {outcome}",
    MOTION_TABLED: "motion {ref} tabled before {organisation}/{body} by {proposer}",
    DECISION_RECORDED: "{organisation}/{body} decided {ref} ({outcome})",
    RECOMMENDATION_ISSUED: "{joint_body} recommended: {title}",
    RECOMMENDATION_PRINCIPAL_DECIDED: "{principal}: {outcome} by {decision}",
    RECOMMENDATION_PRINCIPAL_DECISION_WITHDRAWN: "{principal}'s decision {decision} withdrawn",
    CONSULTATION_OPENED: "consultation sent by {organisation}: {subject}",
    CONSULTATION_RESPONSE_RECEIVED: "{principal} answered: {stance}",
    CONSULTATION_CLOSED: "consultation closed",
    AGREEMENT_REGISTERED: "{agreement_kind} registered: {title}",
    AGREEMENT_PARTY_DECIDED: "{party} decided to {change[kind]} it by {decision}",
    AGREEMENT_PARTY_DECISION_WITHDRAWN: "{party}'s decision {decision} withdrawn",
    ASSIGNMENT_GIVEN: "{owner} was given {ref}: {task}",
    ASSIGNMENT_DEADLINE_REVISED: "deadline moved to {due_on} by {decision}",
    ASSIGNMENT_REPORTED_BACK: "reported back",
}


class _Fields:
    """The fields a description names: lists of names joined, missing ones as ``?``."""

    __slots__ = ("_data", "_ref")

    def __init__(self, data: Mapping[str, Any], ref: str) -> None:
        self._data = data
        self._ref = ref

    def __getitem__(self, name: str) -> Any:
        value = self._data.get(name, self._ref if name == "ref" else "?")
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return ", ".join(value)
        return value


def describe(event_type: str, ref: str, data: Mapping[str, Any]) -> str:
    """A one-line English account of an entry, for timelines and the audit trail."""
    if event_type.endswith(CORRECTED):
        template = "{field} corrected from {wrong_value} to {right_value}: {reason}"
    elif event_type.endswith(VOIDED):
        template = "{ref} voided: {reason}"
    else:
        template = _DESCRIPTIONS.get(event_type, event_type + " {ref}")
    try:
        return template.format_map(_Fields(data, ref))
    except (KeyError, IndexError, TypeError, ValueError):
        return f"{event_type} {ref}"
