"""Read model 1, agreement status: in force or not on any date, its validity, every change.

A change (adopt, extend, revise, terminate, replace) is decided by each party on its own;
it is *in force* only once every party has decided the same change (``change_key``) by a
decision that is itself in effect, from the day the last of them took effect. Until then
it is *pending*, naming who has decided, who waits on a condition, and who has not.
A recommendation carrying the change makes it pending before anyone decides.

On a date: valid until the latest extension in force by then (else the registered end),
cut by a termination or replacement in force; a replacement without a date ends the
agreement when the replacement itself takes effect (adopted by all its parties).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal, cast

from ledger.domain.agreement import change_key
from projections.derivations import (
    Correction,
    Registered,
    corrections_of,
    decisions,
    effects,
    endorsement_keys,
    entity_state,
    same,
)
from projections.events import (
    AGREEMENT_PARTY_DECIDED,
    AGREEMENT_PARTY_DECISION_WITHDRAWN,
    AGREEMENT_REGISTERED,
    RECOMMENDATION_ISSUED,
)
from projections.facts import JSON, Fact, Item, Loader, key, parse_date
from projections.readmodel import FoldedReadModel

AgreementState = Literal[
    "in_force", "awaiting_adoption", "not_yet_in_force", "expired", "terminated", "superseded"
]
ChangeState = Literal["in_force", "pending", "awaiting_replacement"]


@dataclass(frozen=True)
class PartyDecision:
    """One party's decision on a change, as of the date asked about."""

    party: str
    decision: str
    decided_on: date
    effective_on: date | None


@dataclass(frozen=True)
class AgreementChange:
    """A change to the agreement and where each party stands on it."""

    kind: str
    until: date | None
    effective_on: date | None
    replaced_by: str | None
    summary: str | None
    state: ChangeState
    in_force_from: date | None
    decided: tuple[PartyDecision, ...]
    awaiting_conditions: tuple[PartyDecision, ...]
    not_decided: tuple[str, ...]
    recommended_by: tuple[str, ...]


@dataclass(frozen=True)
class AgreementStatus:
    """An agreement or joint plan on the date ``as_of``."""

    ref: str
    title: str
    kind: str
    parties: tuple[str, ...]
    matter: str | None
    as_of: date
    status: AgreementState
    in_force: bool
    valid_from: date
    valid_until: date | None
    registered_valid_until: date | None
    extended: bool
    ends_on: date | None
    superseded_by: str | None
    pending_changes: tuple[AgreementChange, ...]
    history: tuple[AgreementChange, ...]
    corrections: tuple[Correction, ...]


class FoldedAgreement(Registered):
    """An agreement's folded state: what :func:`agreement_status` reads (dates ISO).

    ``changes`` are the changes its parties decided or a recommendation carried, each with
    the parties' decisions (dated and in effect as the decisions are) and the day it is in
    force from; ``replacements`` when each agreement replacing it without a date starts.
    """

    title: str
    agreement_kind: str
    parties: list[str]
    matter: str | None
    valid_from: str
    valid_until: str | None
    concluded: bool
    changes: list[JSON]
    replacements: dict[str, JSON]


class AgreementStatusModel(FoldedReadModel[FoldedAgreement]):
    """Agreements with their parties' decisions, and the decisions' effect dates."""

    name = "agreements"
    entity_kind = "agreement"
    root_events = frozenset({AGREEMENT_REGISTERED})

    def extra_keys(self, item: Item) -> Sequence[str]:
        if item.event_type == RECOMMENDATION_ISSUED:
            return sorted(
                {key("agreement", e["agreement"]) for e in effects(item.data)
                 if str(e.get("effect", "")).endswith("_agreement")}
            )
        return endorsement_keys(item)

    def fold(self, entity: str, loader: Loader) -> FoldedAgreement | None:
        facts = loader.get(entity)
        state = cast(FoldedAgreement | None, entity_state(facts, entity, AGREEMENT_REGISTERED))
        if state is None:
            return None
        recommended = [f for f in facts if f.event_type == RECOMMENDATION_ISSUED]
        loader.need({f.entity for f in recommended} | _decision_keys_of(facts, entity))
        changes = _changes(loader, entity, state, facts)
        for r in recommended:
            issued = entity_state(loader.get(r.entity), r.entity, RECOMMENDATION_ISSUED)
            if issued is None or issued["voided"]:
                continue
            for effect in effects(issued):
                kind = str(effect.get("effect", ""))
                if kind.endswith("_agreement") and same(effect["agreement"], state["ref"]):
                    change = {k: v for k, v in effect.items() if k not in ("effect", "agreement")}
                    change["kind"] = kind.removesuffix("_agreement")
                    _change(changes, change, r.position)["recommended_by"].append(
                        {"recommendation": issued["ref"], "issued_on": issued["issued_on"]}
                    )
        for change in changes.values():
            change["in_force_from"] = _in_force_from(change["decisions"], state["parties"])
        replacements = sorted(
            {c["replaced_by"] for c in changes.values()
             if c["kind"] == "replace" and not c.get("effective_on")},
            key=str.casefold,
        )
        state["replacements"] = _replacements(loader, replacements)
        state["changes"] = sorted(changes.values(), key=lambda c: c["order"])
        return state


def _decision_keys_of(facts: list[Fact], entity: str) -> set[str]:
    return {
        key("decision", f.data["decision"]) for f in facts
        if f.entity == entity and f.event_type == AGREEMENT_PARTY_DECIDED
    }


def _change(
    changes: dict[tuple[str, str], JSON], change: Mapping[str, Any], position: int
) -> JSON:
    """The entry for ``change`` (created on first sight), ordered by its first position."""
    ck = change_key(dict(change))
    if ck not in changes:
        changes[ck] = {
            "kind": change["kind"],
            "until": change.get("until"),
            "effective_on": change.get("effective_on"),
            "replaced_by": change.get("replaced_by"),
            "summary": change.get("summary"),
            "decisions": [],
            "recommended_by": [],
            "order": position,
        }
    changes[ck]["order"] = min(changes[ck]["order"], position)
    return changes[ck]


def _changes(
    loader: Loader, entity: str, state: Mapping[str, Any], facts: list[Fact]
) -> dict[tuple[str, str], JSON]:
    """Each change the parties decided, with their decisions and its in-force date."""
    own = [f for f in facts if f.entity == entity]
    withdrawn = {
        (f.data["party"].casefold(), f.data["decision"].casefold()) for f in own
        if f.event_type == AGREEMENT_PARTY_DECISION_WITHDRAWN
    }
    deciding = decisions(loader, _decision_keys_of(facts, entity), meetings=False)
    changes: dict[tuple[str, str], JSON] = {}
    for f in own:
        if f.event_type != AGREEMENT_PARTY_DECIDED:
            continue
        d = deciding.get(key("decision", f.data["decision"]))
        counts = (
            (f.data["party"].casefold(), f.data["decision"].casefold()) not in withdrawn
            and d is not None and not d["voided"]
        )
        if not counts:
            continue
        assert d is not None
        _change(changes, f.data["change"], f.position)["decisions"].append(
            {
                "party": f.data["party"],
                "decision": f.data["decision"],
                "decided_on": d["decided_on"],
                "effective_on": d["effective_on"],
                "position": f.position,
            }
        )
    return changes


def _in_force_from(party_decisions: list[JSON], parties: list[str]) -> str | None:
    """The day the last party's decision took effect, once every party has decided."""
    earliest: dict[str, str] = {}
    for d in party_decisions:
        if (on := d["effective_on"]) is not None:
            party = d["party"].casefold()
            earliest[party] = min(earliest.get(party, on), on)
    latest = None
    for party in parties:
        on = earliest.get(party.casefold())
        if on is None:
            return None
        latest = on if latest is None else max(latest, on)
    return latest


def _replacements(loader: Loader, refs: list[str]) -> dict[str, JSON]:
    """What a replacement without a date waits for: when each replacement takes effect."""
    keys = {ref: key("agreement", ref) for ref in refs}
    loader.need(keys.values())
    loader.need(k for ref in refs for k in _decision_keys_of(loader.get(keys[ref]), keys[ref]))
    result: dict[str, JSON] = {}
    for ref, k in keys.items():
        facts = loader.get(k)
        state = entity_state(facts, k, AGREEMENT_REGISTERED)
        if state is None:
            continue
        adopt = _changes(loader, k, state, facts).get(("adopt", "None"))
        adopted_from = _in_force_from(adopt["decisions"], state["parties"]) if adopt else None
        result[ref.casefold()] = {
            "ref": state["ref"],
            "voided": state["voided"],
            "valid_from": state["valid_from"],
            "concluded": state["concluded"],
            "adopted_from": adopted_from,
        }
    return result


# The view on a date ---------------------------------------------------------------------------


def _replacement_start(replacement: Mapping[str, Any] | None, as_of: date) -> date | None:
    """When the replacement takes effect, if that is known on ``as_of``."""
    if replacement is None or replacement["voided"]:
        return None
    valid_from = parse_date(replacement["valid_from"])
    assert valid_from is not None
    if replacement["concluded"]:
        return valid_from
    adopted = parse_date(replacement.get("adopted_from"))
    if adopted is None or adopted > as_of:
        return None
    return max(valid_from, adopted)


def _takes_effect_first(d: Mapping[str, Any]) -> tuple[str, str, int]:
    return (d["effective_on"] or "9999", d["decided_on"], d["position"])


def _change_view(
    change: Mapping[str, Any], parties: Sequence[str], as_of: date, end: date | None
) -> AgreementChange | None:
    seen = [d for d in change["decisions"] if parse_date(d["decided_on"]) <= as_of]  # type: ignore[operator]
    recommended = [
        r["recommendation"] for r in change["recommended_by"]
        if parse_date(r["issued_on"]) <= as_of  # type: ignore[operator]
    ]
    if not seen and not recommended:
        return None
    decided: list[PartyDecision] = []
    waiting: list[PartyDecision] = []
    not_decided: list[str] = []
    first: dict[str, JSON] = {}  # each party's decision that takes effect first
    for d in seen:
        party = d["party"].casefold()
        if party not in first or _takes_effect_first(d) < _takes_effect_first(first[party]):
            first[party] = d
    for party in parties:
        d = first.get(party.casefold())
        if d is None:
            not_decided.append(party)
            continue
        effective = parse_date(d["effective_on"])
        view = PartyDecision(
            party=d["party"],
            decision=d["decision"],
            decided_on=parse_date(d["decided_on"]),  # type: ignore[arg-type]
            effective_on=effective if effective is not None and effective <= as_of else None,
        )
        (decided if view.effective_on is not None else waiting).append(view)
    in_force_from = parse_date(change["in_force_from"])
    if in_force_from is not None and in_force_from > as_of:
        in_force_from = None
    state: ChangeState = "pending"
    if in_force_from is not None:
        awaiting = change["kind"] == "replace" and end is None
        state = "awaiting_replacement" if awaiting else "in_force"
    return AgreementChange(
        kind=change["kind"],
        until=parse_date(change.get("until")),
        effective_on=parse_date(change.get("effective_on")),
        replaced_by=change.get("replaced_by"),
        summary=change.get("summary"),
        state=state,
        in_force_from=in_force_from,
        decided=tuple(decided),
        awaiting_conditions=tuple(waiting),
        not_decided=tuple(not_decided),
        recommended_by=tuple(recommended),
    )


#: The change that ends the agreement (terminates or replaces it) and the day it ends.
Ending = tuple[date, AgreementChange]


def _history(
    state: FoldedAgreement, as_of: date
) -> tuple[list[AgreementChange], Ending | None]:
    """The changes known on ``as_of``, and the earliest end one of them in force brings."""
    parties = list(state["parties"])
    replacements = state.get("replacements") or {}
    history: list[AgreementChange] = []
    ending: Ending | None = None
    for change in state["changes"]:
        end = None
        if change["kind"] == "terminate":
            end = parse_date(change.get("effective_on"))
        elif change["kind"] == "replace":
            end = parse_date(change.get("effective_on")) or _replacement_start(
                replacements.get(str(change["replaced_by"]).casefold()), as_of
            )
        view = _change_view(change, parties, as_of, end)
        if view is None:
            continue
        history.append(view)
        if view.state == "in_force" and end is not None and (ending is None or end < ending[0]):
            ending = (end, view)
    return history, ending


def _start(state: FoldedAgreement, in_force: list[AgreementChange]) -> date | None:
    """When the agreement starts: its registered start, or once every party adopted it
    (one registered as not concluded; None until then)."""
    valid_from = parse_date(state["valid_from"])
    assert valid_from is not None
    if state["concluded"]:
        return valid_from
    adopted = next((c for c in in_force if c.kind == "adopt"), None)
    adopted_from = adopted.in_force_from if adopted else None
    return max(valid_from, adopted_from) if adopted_from else None


def _valid_until(
    registered_until: date | None, extensions: list[AgreementChange], ending: Ending | None
) -> date | None:
    """The latest extension in force (else the registered end), cut the day before an end."""
    valid_until = extensions[-1].until if extensions else registered_until
    if ending is not None:
        last_day = ending[0] - timedelta(days=1)
        valid_until = last_day if valid_until is None else min(valid_until, last_day)
    return valid_until


def _status(
    ending: Ending | None, start: date | None, valid_until: date | None, as_of: date
) -> AgreementState:
    if ending is not None and ending[0] <= as_of:
        return "superseded" if ending[1].kind == "replace" else "terminated"
    if start is None:
        return "awaiting_adoption"
    if as_of < start:
        return "not_yet_in_force"
    if valid_until is not None and as_of > valid_until:
        return "expired"
    return "in_force"


def agreement_status(state: FoldedAgreement, as_of: date) -> AgreementStatus | None:
    """The agreement on ``as_of`` from its folded state (None if it was voided)."""
    if state["voided"]:
        return None
    valid_from = parse_date(state["valid_from"])
    registered_until = parse_date(state.get("valid_until"))
    assert valid_from is not None
    history, ending = _history(state, as_of)
    in_force = [c for c in history if c.state == "in_force"]
    start = _start(state, in_force)
    extensions = sorted(
        (c for c in in_force if c.kind == "extend"),
        key=lambda c: (c.in_force_from, history.index(c)),
    )
    valid_until = _valid_until(registered_until, extensions, ending)
    status = _status(ending, start, valid_until, as_of)
    superseded = status == "superseded" and ending is not None
    return AgreementStatus(
        ref=state["ref"],
        title=state["title"],
        kind=state["agreement_kind"],
        parties=tuple(state["parties"]),
        matter=state.get("matter"),
        as_of=as_of,
        status=status,
        in_force=status == "in_force",
        valid_from=start or valid_from,
        valid_until=valid_until,
        registered_valid_until=registered_until,
        extended=bool(extensions),
        ends_on=ending[0] if ending else None,
        superseded_by=ending[1].replaced_by if superseded and ending else None,
        pending_changes=tuple(c for c in history if c.state != "in_force"),
        history=tuple(history),
        corrections=corrections_of(state),
    )
