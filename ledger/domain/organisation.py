"""Organisations (principals, joint bodies, others), their decision-making bodies and roles."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from ledger.domain.base import LedgerAggregate, parse_text
from ledger.errors import AlreadyRecorded, Problem, RuleViolation

ORGANISATION_KINDS = ("principal", "joint_body", "other")
BODY_KINDS = ("assembly", "board", "committee", "subcommittee", "council", "officials_group")


class Organisation(LedgerAggregate):
    """A self-governing principal, a joint body of principals, or another organisation.

    Its ``ref`` is the short name registrars use (``RJH``, ``Berg``, ``SVOM``). Bodies live
    inside the organisation because a body never changes owner and its code (``RS``,
    ``HSN``, ``KS``) is only unique within it.
    """

    kind: ClassVar[str] = "organisation"
    correctable: ClassVar[dict[str, Any]] = {"name": parse_text}

    class Registered(LedgerAggregate.Created):
        """An organisation entered the reference data."""

        name: str
        organisation_kind: str
        registered_on: date

    class BodyEstablished(LedgerAggregate.Event):
        """A decision-making or preparing body of the organisation."""

        code: str
        name: str
        body_kind: str

        def apply(self, aggregate: Organisation) -> None:
            aggregate.bodies[self.code.casefold()] = {
                "code": self.code,
                "name": self.name,
                "kind": self.body_kind,
            }

    class RoleAssigned(LedgerAggregate.Event):
        """A person holds a role (chair, registrar, regional director) from a date."""

        person: str
        role: str
        body: str | None
        valid_from: date

        def apply(self, aggregate: Organisation) -> None:
            aggregate.roles.append(
                {"person": self.person, "role": self.role, "body": self.body,
                 "valid_from": self.valid_from, "valid_until": None}
            )

    class RoleEnded(LedgerAggregate.Event):
        """A person left a role."""

        person: str
        role: str
        valid_until: date

        def apply(self, aggregate: Organisation) -> None:
            for held in aggregate.roles:
                if (held["person"], held["role"], held["valid_until"]) == (
                    self.person, self.role, None,
                ):
                    held["valid_until"] = self.valid_until

    name: str
    organisation_kind: str
    bodies: dict[str, dict[str, str]]
    roles: list[dict[str, Any]]

    def __init__(self, ref: str, name: str, organisation_kind: str, registered_on: date) -> None:
        super().__init__(ref)
        self.name = name
        self.organisation_kind = organisation_kind
        self.bodies = {}
        self.roles = []

    @classmethod
    def register(
        cls, ref: str, name: str, organisation_kind: str, registered_on: date
    ) -> Organisation:
        organisation: Organisation = cls._create(
            cls.Registered,
            id=cls.id_for(ref),
            ref=ref,
            name=name,
            organisation_kind=organisation_kind,
            registered_on=registered_on,
        )
        return organisation

    @property
    def is_principal(self) -> bool:
        return self.organisation_kind == "principal"

    def has_body(self, code: str) -> bool:
        return code.casefold() in self.bodies

    def body_name(self, code: str) -> str:
        return self.bodies[code.casefold()]["name"]

    def establish_body(self, code: str, name: str, body_kind: str) -> None:
        self.check_not_voided()
        if self.has_body(code):
            raise AlreadyRecorded(
                f"{self.ref} already has a body {code!r}",
                [Problem("code", f"{self.ref}/{code} exists")],
            )
        self.trigger_event(self.BodyEstablished, code=code, name=name, body_kind=body_kind)

    def assign_role(self, person: str, role: str, body: str | None, valid_from: date) -> None:
        self.check_not_voided()
        self.trigger_event(
            self.RoleAssigned, person=person, role=role, body=body, valid_from=valid_from
        )

    def end_role(self, person: str, role: str, valid_until: date) -> None:
        held = [
            r for r in self.roles
            if r["person"] == person and r["role"] == role and r["valid_until"] is None
        ]
        if not held:
            raise RuleViolation(
                f"{person} holds no current role {role!r} in {self.ref}",
                [Problem("person", f"no current role {role!r} for {person!r}")],
            )
        if valid_until < held[0]["valid_from"]:
            raise RuleViolation(
                "a role cannot end before it starts",
                [Problem("valid_until", f"before {held[0]['valid_from'].isoformat()}")],
            )
        self.trigger_event(self.RoleEnded, person=person, role=role, valid_until=valid_until)
