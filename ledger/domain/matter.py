"""Matters (ärenden): case numbers across organisations, links, and registered documents."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar
from uuid import UUID

from ledger.domain.base import LedgerAggregate, entity_id, parse_text
from ledger.errors import AlreadyRecorded, Problem, RuleViolation

MATTER_LINK_KINDS = ("follows_up", "relates_to", "replaces", "part_of")


def case_number_ref(organisation: str, dnr: str) -> str:
    """The reference of one organisation's case number: ``RJH:RS/203/2021``."""
    return f"{organisation}:{dnr}"


class Matter(LedgerAggregate):
    """A case handled together, carrying one case number (dnr) per organisation.

    A joint matter may carry several: the board's ``RS/203/2021`` and the committee's
    ``HSN/485/2021``. Each case number is claimed through a :class:`CaseNumber` index
    entry so that no two matters can hold the same one.
    """

    kind: ClassVar[str] = "matter"
    correctable: ClassVar[dict[str, Any]] = {"title": parse_text}

    class Opened(LedgerAggregate.Created):
        """A matter was opened."""

        title: str
        opened_on: date
        case_numbers: list[dict[str, str]]

    class CaseNumberAdded(LedgerAggregate.Event):
        """Another organisation registered the matter under its own case number."""

        organisation: str
        dnr: str

        def apply(self, aggregate: Matter) -> None:
            aggregate.case_numbers.append({"organisation": self.organisation, "dnr": self.dnr})

    class Linked(LedgerAggregate.Event):
        """The matter relates to another one."""

        other: str
        relation: str

        def apply(self, aggregate: Matter) -> None:
            aggregate.links.append({"other": self.other, "relation": self.relation})

    class DocumentRegistered(LedgerAggregate.Event):
        """A document the matter rests on, identified by the SHA-256 of its content."""

        document_ref: str
        title: str
        document_kind: str
        dated: date
        organisation: str
        sha256: str
        media_type: str | None

        def apply(self, aggregate: Matter) -> None:
            aggregate.documents[self.document_ref.casefold()] = self.sha256

    title: str
    case_numbers: list[dict[str, str]]
    links: list[dict[str, str]]
    documents: dict[str, str]

    def __init__(
        self, ref: str, title: str, opened_on: date, case_numbers: list[dict[str, str]]
    ) -> None:
        super().__init__(ref)
        self.title = title
        self.case_numbers = list(case_numbers)
        self.links = []
        self.documents = {}

    def owners(self) -> set[str]:
        return {c["organisation"] for c in self.case_numbers}

    @classmethod
    def open(cls, title: str, opened_on: date, case_numbers: list[dict[str, str]]) -> Matter:
        first = case_numbers[0]
        ref = case_number_ref(first["organisation"], first["dnr"])
        matter: Matter = cls._create(
            cls.Opened,
            id=cls.id_for(ref),
            ref=ref,
            title=title,
            opened_on=opened_on,
            case_numbers=case_numbers,
        )
        return matter

    def add_case_number(self, organisation: str, dnr: str) -> None:
        self.check_not_voided()
        self.trigger_event(self.CaseNumberAdded, organisation=organisation, dnr=dnr)

    def link(self, other: str, relation: str) -> None:
        self.check_not_voided()
        if other.casefold() == self.ref.casefold():
            raise RuleViolation(
                "a matter cannot be linked to itself", [Problem("other", "is this matter")]
            )
        self.trigger_event(self.Linked, other=other, relation=relation)

    def register_document(
        self,
        document_ref: str,
        title: str,
        document_kind: str,
        dated: date,
        organisation: str,
        sha256: str,
        media_type: str | None,
    ) -> None:
        self.check_not_voided()
        if document_ref.casefold() in self.documents:
            raise AlreadyRecorded(
                f"document {document_ref!r} is already registered on {self.ref}",
                [Problem("document_ref", "already registered")],
            )
        self.trigger_event(
            self.DocumentRegistered,
            document_ref=document_ref,
            title=title,
            document_kind=document_kind,
            dated=dated,
            organisation=organisation,
            sha256=sha256,
            media_type=media_type,
        )


class CaseNumber(LedgerAggregate):
    """Index entry: one organisation's case number belongs to exactly one matter."""

    kind: ClassVar[str] = "case-number"

    class Claimed(LedgerAggregate.Created):
        """A case number was claimed by a matter."""

        matter_id: UUID

    matter_id: UUID

    def __init__(self, ref: str, matter_id: UUID) -> None:
        super().__init__(ref)
        self.matter_id = matter_id

    @classmethod
    def claim(cls, organisation: str, dnr: str, matter_id: UUID) -> CaseNumber:
        ref = case_number_ref(organisation, dnr)
        claimed: CaseNumber = cls._create(
            cls.Claimed, id=cls.id_for(ref), ref=ref, matter_id=matter_id
        )
        return claimed


def case_number_id(organisation: str, dnr: str) -> UUID:
    return entity_id(CaseNumber.kind, case_number_ref(organisation, dnr))
