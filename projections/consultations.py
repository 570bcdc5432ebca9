"""Read model 3, consultations: who answered, when and with what stance; who did not; who was late.

On a date, a principal has answered if a response received by then is recorded (its
latest counts; earlier ones stay in the list). An answer received after the closing date
is late; a principal still silent after the closing date is overdue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypedDict, cast

from projections.derivations import Correction, Registered, corrections_of, entity_state, same
from projections.events import (
    CONSULTATION_CLOSED,
    CONSULTATION_OPENED,
    CONSULTATION_RESPONSE_RECEIVED,
)
from projections.facts import Loader, parse_date
from projections.readmodel import FoldedReadModel

RoundState = Literal["not_yet_open", "open", "period_ended", "closed"]


@dataclass(frozen=True)
class ConsultationResponse:
    principal: str
    received_on: date
    stance: str
    summary: str | None
    decision: str | None
    late: bool
    position: int


@dataclass(frozen=True)
class ConsultationStatus:
    """A consultation round on ``as_of``: "6 of 9 answered" is ``answered`` of ``addressed``."""

    ref: str
    organisation: str
    subject: str
    matter: str | None
    decision: str | None
    opens_on: date
    closes_on: date
    closed_on: date | None
    as_of: date
    state: RoundState
    addressees: tuple[str, ...]
    responses: tuple[ConsultationResponse, ...]
    answered: int
    addressed: int
    responded: tuple[str, ...]
    missing: tuple[str, ...]
    late: tuple[str, ...]
    overdue: tuple[str, ...]
    corrections: tuple[Correction, ...]


class ResponseFact(TypedDict):
    """A principal's response to the consultation, as received."""

    principal: str
    received_on: str
    stance: str
    summary: str | None
    decision: str | None
    position: int


class FoldedConsultation(Registered):
    """A consultation round's folded state: what :func:`consultation_status` reads."""

    organisation: str
    subject: str
    matter: str | None
    decision: str | None
    addressees: list[str]
    opens_on: str
    closes_on: str
    responses: list[ResponseFact]
    closed_on: str | None


class ConsultationsModel(FoldedReadModel[FoldedConsultation]):
    """Consultation rounds and their responses."""

    name = "consultations"
    entity_kind = "consultation"
    root_events = frozenset({CONSULTATION_OPENED})
    columns = (("organisation", "text"),)

    def fold(self, entity: str, loader: Loader) -> FoldedConsultation | None:
        facts = loader.get(entity)
        state = cast(FoldedConsultation | None, entity_state(facts, entity, CONSULTATION_OPENED))
        if state is None:
            return None
        state["responses"] = [
            {
                "principal": f.data["principal"],
                "received_on": f.data["received_on"],
                "stance": f.data["stance"],
                "summary": f.data.get("summary"),
                "decision": f.data.get("decision"),
                "position": f.position,
            }
            for f in facts if f.event_type == CONSULTATION_RESPONSE_RECEIVED
        ]
        closed = next((f for f in facts if f.event_type == CONSULTATION_CLOSED), None)
        state["closed_on"] = closed.data["closed_on"] if closed else None
        return state

    def column_values(self, state: FoldedConsultation) -> tuple[Any, ...]:
        return (state["organisation"].casefold(),)


def consultation_status(state: FoldedConsultation, as_of: date) -> ConsultationStatus | None:
    """The round on ``as_of`` from its folded state (None if voided)."""
    if state["voided"]:
        return None
    opens_on = parse_date(state["opens_on"])
    closes_on = parse_date(state["closes_on"])
    closed_on = parse_date(state.get("closed_on"))
    assert opens_on is not None and closes_on is not None
    if closed_on is not None and closed_on > as_of:
        closed_on = None
    responses = tuple(
        ConsultationResponse(
            principal=r["principal"],
            received_on=received,
            stance=r["stance"],
            summary=r.get("summary"),
            decision=r.get("decision"),
            late=received > closes_on,
            position=r["position"],
        )
        for r in state["responses"]
        if (received := parse_date(r["received_on"])) is not None and received <= as_of
    )
    addressees = tuple(state["addressees"])
    latest = {
        p: max((r for r in responses if same(r.principal, p)),
               key=lambda r: (r.received_on, r.position), default=None)
        for p in addressees
    }
    state_now: RoundState
    if closed_on is not None:
        state_now = "closed"
    elif as_of < opens_on:
        state_now = "not_yet_open"
    elif as_of > closes_on:
        state_now = "period_ended"
    else:
        state_now = "open"
    return ConsultationStatus(
        ref=state["ref"],
        organisation=state["organisation"],
        subject=state["subject"],
        matter=state.get("matter"),
        decision=state.get("decision"),
        opens_on=opens_on,
        closes_on=closes_on,
        closed_on=closed_on,
        as_of=as_of,
        state=state_now,
        addressees=addressees,
        responses=responses,
        answered=sum(r is not None for r in latest.values()),
        addressed=len(addressees),
        responded=tuple(p for p, r in latest.items() if r is not None),
        missing=tuple(p for p, r in latest.items() if r is None),
        late=tuple(p for p, r in latest.items() if r is not None and r.late),
        overdue=tuple(p for p, r in latest.items() if r is None and as_of > closes_on),
        corrections=corrections_of(state),
    )
