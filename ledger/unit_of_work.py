"""The set of aggregates one command reads and changes, saved together or not at all."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository

from ledger.domain.base import LedgerAggregate
from ledger.domain.matter import CaseNumber, Matter, case_number_id, case_number_ref
from ledger.domain.organisation import Organisation
from ledger.errors import (
    AlreadyRecorded,
    NotPermitted,
    Problem,
    RuleViolation,
    UnknownReference,
)

A = TypeVar("A", bound=LedgerAggregate)


class RecentAggregates:
    """Aggregates as last committed, so a busy committer need not reload them per command.

    The owner keeps it true: it puts in only aggregates whose every event is stored, and
    forgets any that may differ from the store (one changed by a command that was then
    refused or not saved, one another writer appended to). An aggregate is handed out
    itself, not a copy: whoever takes one either saves what it did to it or forgets it.
    The least recently used go first beyond ``capacity``.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._aggregates: OrderedDict[UUID, LedgerAggregate] = OrderedDict()

    def __iter__(self) -> Iterator[LedgerAggregate]:
        return iter(list(self._aggregates.values()))

    def get(self, aggregate_id: UUID) -> LedgerAggregate | None:
        found = self._aggregates.get(aggregate_id)
        if found is not None:
            self._aggregates.move_to_end(aggregate_id)
        return found

    def put(self, aggregates: Iterable[LedgerAggregate]) -> None:
        """Keep ``aggregates``, whose events are all stored (their pending ones are dropped)."""
        for aggregate in aggregates:
            aggregate.collect_events()
            self._aggregates[aggregate.id] = aggregate
            self._aggregates.move_to_end(aggregate.id)
        while len(self._aggregates) > self.capacity:
            self._aggregates.popitem(last=False)

    def forget(self, aggregate_ids: Iterable[UUID]) -> None:
        for aggregate_id in aggregate_ids:
            self._aggregates.pop(aggregate_id, None)

    def clear(self) -> None:
        self._aggregates.clear()


class UnitOfWork:
    """Loads aggregates by reference, each once, for the commands being checked.

    Every aggregate read is kept, so a command that touches the same record twice (or a
    later command of an import) sees the changes made so far; the events themselves are
    collected, in the order they happen, by the recording context's journal. With
    ``recent``, aggregates are taken from there before the store is asked.
    """

    def __init__(
        self,
        repository: Repository[UUID],
        acting_for: frozenset[str] | None = None,
        recent: RecentAggregates | None = None,
        deferred: bool = False,
    ) -> None:
        """``acting_for``: the organisations the recorder may act for (None: any).

        ``deferred``: whether the store is asked at once if a new aggregate's reference is
        taken (one query per new aggregate), or later, for all of them in bulk (an import
        of thousands of new entries): then :attr:`added` lists the new aggregates still to
        ask about.
        """
        self._repository = repository
        self._acting_for = acting_for
        self._recent = recent
        self._deferred = deferred
        self._loaded: dict[UUID, LedgerAggregate] = {}
        self._new: dict[UUID, LedgerAggregate] = {}
        self.added: list[LedgerAggregate] = []

    @property
    def aggregates(self) -> list[LedgerAggregate]:
        """Every aggregate read or added so far."""
        return [*self._loaded.values(), *self._new.values()]

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        if aggregate_id in self._new:
            found = self._new[aggregate_id]
        elif aggregate_id in self._loaded:
            found = self._loaded[aggregate_id]
        else:
            cached = self._recent.get(aggregate_id) if self._recent is not None else None
            if cached is not None:
                found = cached
            else:
                try:
                    found = self._repository.get(aggregate_id)
                except AggregateNotFoundError:
                    return None
            self._loaded[aggregate_id] = found
        return found if isinstance(found, cls) else None

    def get(self, cls: type[A], ref: str, field: str) -> A:
        """The live ``cls`` entity called ``ref``; unknown or voided ones are refused."""
        found = self.find(cls, cls.id_for(ref))
        if found is None:
            raise UnknownReference(cls.kind, ref, field)
        found.check_not_voided()
        return found

    def owned(self, cls: type[A], ref: str, field: str) -> A:
        """Like :meth:`get`, and the recorder must act for one of the entity's owners."""
        found = self.get(cls, ref, field)
        self.authorise(found.owners(), field)
        return found

    def get_any(self, cls: type[A], ref: str, field: str) -> A:
        """Like :meth:`get`, but voided entities are returned too (for adjustments)."""
        found = self.find(cls, cls.id_for(ref))
        if found is None:
            raise UnknownReference(cls.kind, ref, field)
        return found

    def add(self, aggregate: LedgerAggregate) -> None:
        """A new aggregate; refused if one with the same reference exists."""
        if self._deferred:
            taken = aggregate.id in self._new or aggregate.id in self._loaded
            if not taken:
                self.added.append(aggregate)
        else:
            found = self.find(type(aggregate), aggregate.id)
            taken = found is not None or aggregate.id in self._new
        if taken:
            raise AlreadyRecorded(
                f"{aggregate.kind} {aggregate.ref!r} is already recorded",
                [Problem("ref", f"a {aggregate.kind} {aggregate.ref!r} exists")],
            )
        self._new[aggregate.id] = aggregate

    def act_for(self, acting_for: frozenset[str] | None) -> None:
        """Check the next command for another recorder (group commit shares one unit)."""
        self._acting_for = acting_for

    def authorise(self, organisations: set[str], field: str) -> None:
        """Refuse unless the recorder may act for one of ``organisations``."""
        if self._acting_for is None:
            return
        if not {o.casefold() for o in organisations} & {o.casefold() for o in self._acting_for}:
            whose = ", ".join(sorted(organisations)) or "administrators"
            raise NotPermitted(
                f"this account may not record this act (it belongs to {whose})",
                [Problem(field, f"the account acts for {', '.join(sorted(self._acting_for))}")],
            )

    def organisation(self, ref: str, field: str) -> Organisation:
        return self.get(Organisation, ref, field)

    def principal(self, ref: str, field: str) -> Organisation:
        organisation = self.organisation(ref, field)
        if not organisation.is_principal:
            raise RuleViolation(
                f"{ref!r} is not a principal",
                [Problem(field, f"{ref} is a {organisation.organisation_kind}")],
            )
        return organisation

    def body(
        self, organisation_ref: str, code: str, field: str, organisation_field: str = "organisation"
    ) -> Organisation:
        """The organisation, after checking it has body ``code``."""
        organisation = self.organisation(organisation_ref, organisation_field)
        if not organisation.has_body(code):
            raise UnknownReference("body", f"{organisation.ref}/{code}", field)
        return organisation

    def matter(self, organisation: str, dnr: str, field: str) -> Matter:
        index = self.find(CaseNumber, case_number_id(organisation, dnr))
        if index is None:
            raise UnknownReference("matter", case_number_ref(organisation, dnr), field)
        matter = self.find(Matter, index.matter_id)
        if matter is None:  # pragma: no cover - the index and the matter are saved together
            raise UnknownReference("matter", case_number_ref(organisation, dnr), field)
        matter.check_not_voided()
        return matter
