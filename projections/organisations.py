"""Read model of the organisations: principals, joint bodies and others, with their bodies
and the people in roles, as of any date.

It answers "who takes part": the list a dashboard names its columns by (full names beside
the short references registrars use), the bodies a register filters on, and who held a
role on a date. An organisation exists from the day it was registered; a role counts from
its first day to its last (``valid_until`` is the last day held).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypedDict, cast

from projections.derivations import Correction, Registered, corrections_of, entity_state
from projections.events import (
    ORGANISATION_BODY_ESTABLISHED,
    ORGANISATION_REGISTERED,
    ORGANISATION_ROLE_ASSIGNED,
    ORGANISATION_ROLE_ENDED,
)
from projections.facts import Loader, parse_date
from projections.readmodel import FoldedReadModel


@dataclass(frozen=True)
class Body:
    """A decision-making or preparing body of an organisation (board, committee, ...)."""

    code: str
    name: str
    kind: str


@dataclass(frozen=True)
class Role:
    """A person in a role of the organisation (or of one of its bodies)."""

    person: str
    role: str
    body: str | None
    valid_from: date
    valid_until: date | None


@dataclass(frozen=True)
class OrganisationView:
    """One organisation on ``as_of``: its bodies and who held its roles then."""

    ref: str
    name: str
    kind: str
    registered_on: date
    as_of: date
    bodies: tuple[Body, ...]
    roles: tuple[Role, ...]
    corrections: tuple[Correction, ...]


class BodyFact(TypedDict):
    code: str
    name: str
    kind: str


class RoleFact(TypedDict):
    person: str
    role: str
    body: str | None
    valid_from: str
    valid_until: str | None


class FoldedOrganisation(Registered):
    """An organisation's folded state: what :func:`organisation_view` reads (dates ISO)."""

    name: str
    organisation_kind: str
    registered_on: str
    bodies: list[BodyFact]
    roles: list[RoleFact]


class OrganisationsModel(FoldedReadModel[FoldedOrganisation]):
    """Organisations with their bodies and roles."""

    name = "organisations"
    entity_kind = "organisation"
    root_events = frozenset({ORGANISATION_REGISTERED})
    columns = (("kind", "text"),)

    def fold(self, entity: str, loader: Loader) -> FoldedOrganisation | None:
        facts = loader.get(entity)
        state = cast(FoldedOrganisation | None,
                     entity_state(facts, entity, ORGANISATION_REGISTERED))
        if state is None:
            return None
        bodies: dict[str, BodyFact] = {}
        roles: list[RoleFact] = []
        for fact in facts:
            data = fact.data
            if fact.event_type == ORGANISATION_BODY_ESTABLISHED:
                bodies[data["code"].casefold()] = {
                    "code": data["code"], "name": data["name"], "kind": data["body_kind"]}
            elif fact.event_type == ORGANISATION_ROLE_ASSIGNED:
                roles.append({"person": data["person"], "role": data["role"],
                              "body": data.get("body"), "valid_from": data["valid_from"],
                              "valid_until": None})
            elif fact.event_type == ORGANISATION_ROLE_ENDED:
                _end_role(roles, data)
        state["bodies"] = list(bodies.values())
        state["roles"] = roles
        return state

    def column_values(self, state: FoldedOrganisation) -> tuple[Any, ...]:
        return (state["organisation_kind"],)


def _end_role(roles: list[RoleFact], data: Mapping[str, Any]) -> None:
    """The latest open holding of that role by that person ends on ``valid_until``."""
    for held in reversed(roles):
        if (held["valid_until"] is None and held["person"].casefold() == data["person"].casefold()
                and held["role"].casefold() == data["role"].casefold()):
            held["valid_until"] = data["valid_until"]
            return


def organisation_view(state: FoldedOrganisation, as_of: date) -> OrganisationView | None:
    """The organisation on ``as_of`` (None if voided or registered later)."""
    registered_on = parse_date(state["registered_on"])
    assert registered_on is not None
    if state["voided"] or registered_on > as_of:
        return None
    roles = []
    for r in state["roles"]:
        start, end = parse_date(r["valid_from"]), parse_date(r["valid_until"])
        assert start is not None
        if start <= as_of and (end is None or as_of <= end):
            roles.append(Role(r["person"], r["role"], r.get("body"), start, end))
    return OrganisationView(
        ref=state["ref"],
        name=state["name"],
        kind=state["organisation_kind"],
        registered_on=registered_on,
        as_of=as_of,
        bodies=tuple(Body(b["code"], b["name"], b["kind"]) for b in state["bodies"]),
        roles=tuple(roles),
        corrections=corrections_of(state),
    )
