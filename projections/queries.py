"""The query API the HTTP layer calls: one method per question, typed answers.

Every method answers *as of* a domain date (default: today, or the day of ``known_at``)
and optionally *as known at* a recorded time: only what had been recorded by then.
Without ``known_at`` answers come from the maintained current state; with it, from the
facts of the entities asked about, recorded by then (never a replay of the ledger).
Single-entity methods answer None for something unknown, voided, or not yet existing on
the date asked about.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from ledger.settings import Settings
from projections import failures
from projections.adoption import Adoption, adoption
from projections.agreement_status import AgreementState, AgreementStatus, agreement_status
from projections.assignments import AssignmentState, AssignmentStatus, assignment_status
from projections.audit_trail import AuditEntry
from projections.consultations import ConsultationStatus, RoundState, consultation_status
from projections.db import Database
from projections.decision_register import DecisionEntry, decision_entry
from projections.derivations import same
from projections.facts import S, fact_tables, key, to_micros
from projections.failures import Failure
from projections.matter_timeline import (
    MatterSummary,
    MatterTimeline,
    entry_positions,
    find_matter,
    matter_summary,
    matter_timeline,
)
from projections.organisations import OrganisationView, organisation_view
from projections.pipeline import (
    ADOPTION,
    AGREEMENTS,
    ASSIGNMENTS,
    AUDIT,
    CONSULTATIONS,
    DECISIONS,
    MATTERS,
    ORGANISATIONS,
    READ_MODELS,
    ensure_tables,
    tracked,
)
from projections.search import SearchHit, search

T = TypeVar("T")
FACTS = fact_tables()


def _views(states: Iterable[S], view: Callable[[S, date], T | None], as_of: date) -> list[T]:
    return [v for s in states if (v := view(s, as_of)) is not None]


class ReadModels:
    """Answers the seven questions from the read models in the ledger's database.

    Give the settings (and the PostgreSQL schema, if the ledger uses one) or an open
    :class:`~projections.db.Database`. ``today`` is the default date asked about. Without
    ``create`` the tables are expected to exist (a read replica cannot create them).
    """

    def __init__(
        self,
        source: Settings | Database,
        *,
        schema: str | None = None,
        today: Callable[[], date] = date.today,
        create: bool = True,
    ) -> None:
        self._own_database = not isinstance(source, Database)
        self.database = source if isinstance(source, Database) else Database(source, schema=schema)
        self.today = today
        if create:  # not on a read replica: the primary creates them, and they replicate
            ensure_tables(self.database)

    def close(self) -> None:
        if self._own_database:
            self.database.close()

    def __enter__(self) -> ReadModels:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _when(self, as_of: date | None, known_at: datetime | None) -> tuple[date, int | None]:
        if known_at is not None and known_at.tzinfo is None:
            known_at = known_at.replace(tzinfo=UTC)
        if as_of is None:
            as_of = known_at.astimezone(UTC).date() if known_at is not None else self.today()
        return as_of, None if known_at is None else to_micros(known_at)

    def position(self) -> int:
        """The ledger position every read model has applied."""
        with self.database.transaction(write=False) as tx:
            positions = tracked(tx, (m.name for m in READ_MODELS))
        return min((p for p, _ in positions.values()), default=0)

    def positions(self) -> dict[str, int]:
        """The ledger position each read model has applied, by name."""
        with self.database.transaction(write=False) as tx:
            positions = tracked(tx, (m.name for m in READ_MODELS))
        return {m.name: positions[m.name][0] for m in READ_MODELS if m.name in positions}

    def failures(self) -> list[Failure]:
        """Every entry a read model set aside because it failed on it (see
        :mod:`projections.failures`)."""
        with self.database.transaction(write=False) as tx:
            return failures.listed(tx)

    # 1. Agreement status ----------------------------------------------------------------------

    def agreement_status(
        self, ref: str, *, as_of: date | None = None, known_at: datetime | None = None
    ) -> AgreementStatus | None:
        """An agreement or joint plan: in force or not, validity, pending changes, history."""
        day, known = self._when(as_of, known_at)
        with self.database.transaction(write=False) as tx:
            state = AGREEMENTS.state(tx, key("agreement", ref), FACTS, known)
        return agreement_status(state, day) if state else None

    def list_agreements(
        self,
        *,
        party: str | None = None,
        status: AgreementState | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> list[AgreementStatus]:
        """Every agreement (of ``party``, in ``status``) on the date asked about."""
        day, known = self._when(as_of, known_at)
        with self.database.transaction(write=False) as tx:
            states = AGREEMENTS.select(tx, FACTS, known)
        return [
            a for a in _views(states, agreement_status, day)
            if (party is None or any(same(p, party) for p in a.parties))
            and (status is None or a.status == status)
        ]

    # 2. Adoption per principal ----------------------------------------------------------------

    def adoption(
        self,
        recommendation_ref: str,
        *,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> Adoption | None:
        """Each addressed principal's outcome on a recommendation, the count, who is overdue."""
        day, known = self._when(as_of, known_at)
        with self.database.transaction(write=False) as tx:
            state = ADOPTION.state(tx, key("recommendation", recommendation_ref), FACTS, known)
        return adoption(state, day) if state else None

    def list_adoption(
        self,
        *,
        joint_body: str | None = None,
        addressee: str | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> list[Adoption]:
        """Adoption of every recommendation (of ``joint_body``, addressed to ``addressee``)."""
        day, known = self._when(as_of, known_at)
        where, params = ("joint_body = ?", [joint_body.casefold()]) if joint_body else ("", [])
        with self.database.transaction(write=False) as tx:
            states = ADOPTION.select(tx, FACTS, known, where, params)
        return [
            a for a in _views(states, adoption, day)
            if addressee is None or any(same(p.principal, addressee) for p in a.principals)
        ]

    # 3. Consultations -------------------------------------------------------------------------

    def consultation(
        self, ref: str, *, as_of: date | None = None, known_at: datetime | None = None
    ) -> ConsultationStatus | None:
        """Who answered a consultation, when and how; who did not; who was late."""
        day, known = self._when(as_of, known_at)
        with self.database.transaction(write=False) as tx:
            state = CONSULTATIONS.state(tx, key("consultation", ref), FACTS, known)
        return consultation_status(state, day) if state else None

    def consultations(
        self,
        *,
        organisation: str | None = None,
        state: RoundState | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> list[ConsultationStatus]:
        """Every consultation (sent by ``organisation``, in ``state``) on the date asked about."""
        day, known = self._when(as_of, known_at)
        where, params = (
            ("organisation = ?", [organisation.casefold()]) if organisation else ("", [])
        )
        with self.database.transaction(write=False) as tx:
            states = CONSULTATIONS.select(tx, FACTS, known, where, params)
        return [
            c for c in _views(states, consultation_status, day)
            if state is None or c.state == state
        ]

    # 4. Decision register ---------------------------------------------------------------------

    def decision(
        self, ref: str, *, as_of: date | None = None, known_at: datetime | None = None
    ) -> DecisionEntry | None:
        """One decision: verified or not, conditions pending or met, appealed or final."""
        day, known = self._when(as_of, known_at)
        with self.database.transaction(write=False) as tx:
            state = DECISIONS.state(tx, key("decision", ref), FACTS, known)
        return decision_entry(state, day) if state else None

    def decisions(
        self,
        *,
        organisation: str | None = None,
        body: str | None = None,
        from_: date | None = None,
        to: date | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> list[DecisionEntry]:
        """Decisions by organisation, body and period (decided between ``from_`` and ``to``)."""
        day, known = self._when(as_of, known_at)
        # As known at a past moment the date may since have been corrected: match any value.
        low, high = ("decided_max", "decided_min") if known is not None else ("decided_on",) * 2
        conditions, params = _decision_filter(organisation, body, from_, to, low, high)
        with self.database.transaction(write=False) as tx:
            states = DECISIONS.select(tx, FACTS, known, " AND ".join(conditions), params)
        entries = [
            d for d in _views(states, decision_entry, day)
            if (from_ is None or d.decided_on >= from_) and (to is None or d.decided_on <= to)
        ]
        return sorted(entries, key=lambda d: (d.decided_on, d.organisation, d.body, d.ref))

    def decisions_page(
        self,
        *,
        organisation: str | None = None,
        body: str | None = None,
        from_: date | None = None,
        to: date | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[DecisionEntry], int]:
        """A page of :meth:`decisions` and how many there are in all.

        As known now, only the states of the page's decisions (and of those decided on
        the same days, to order ties) are read: the current-state table has the dates.
        """
        if known_at is not None:
            entries = self.decisions(organisation=organisation, body=body, from_=from_, to=to,
                                     as_of=as_of, known_at=known_at)
            return entries[offset:offset + limit], len(entries)
        day, _ = self._when(as_of, None)
        wanted, values = _decision_filter(organisation, body, from_, to)
        conditions = ["voided = 0", "decided_on <= ?", *wanted]
        params: list[Any] = [day.isoformat(), *values]
        with self.database.transaction(write=False) as tx:
            rows = tx.query(
                f"SELECT entity, decided_on FROM {tx.table(DECISIONS.tables_for().current)}"
                f" WHERE {' AND '.join(conditions)} ORDER BY decided_on",
                params,
            )
            total = len(rows)
            if offset >= total:
                return [], total
            dates = [d for _, d in rows]
            first = bisect.bisect_left(dates, dates[offset])
            last = bisect.bisect_right(dates, dates[min(offset + limit, total) - 1])
            states = DECISIONS.states(tx, [e for e, _ in rows[first:last]], FACTS)
        entries = sorted(
            _views(states.values(), decision_entry, day),
            key=lambda d: (d.decided_on, d.organisation, d.body, d.ref),
        )
        return entries[offset - first:offset - first + limit], total

    # 5. Matter timeline -----------------------------------------------------------------------

    def matter_timeline(
        self,
        organisation: str,
        dnr: str,
        *,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> MatterTimeline | None:
        """Everything about the matter carrying ``organisation``'s case number ``dnr``."""
        day, known = self._when(as_of, known_at)
        with self.database.transaction(write=False) as tx:
            entity = find_matter(tx, FACTS, organisation, dnr, known)
            header = MATTERS.state(tx, entity, FACTS, known) if entity else None
            state = MATTERS.timeline(tx, header, FACTS, known) if header else None
            data = AUDIT.data(tx, entry_positions(state)) if state else {}
        return matter_timeline(state, day, data) if state else None

    def matters(
        self, *, organisation: str | None = None, as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> list[MatterSummary]:
        """Every matter opened by the date asked about (with a case number of
        ``organisation``), most recently opened first."""
        day, known = self._when(as_of, known_at)
        with self.database.transaction(write=False) as tx:
            states = MATTERS.select(tx, FACTS, known)
        found = [m for m in _views(states, matter_summary, day)
                 if organisation is None
                 or any(same(c.organisation, organisation) for c in m.case_numbers)]
        return sorted(found, key=lambda m: (m.opened_on, m.title.casefold()), reverse=True)

    # 6. Assignments and deadlines -------------------------------------------------------------

    def assignment(
        self, ref: str, *, as_of: date | None = None, known_at: datetime | None = None
    ) -> AssignmentStatus | None:
        """One assignment: its due date, deadline revisions, and whether it is done or overdue."""
        day, known = self._when(as_of, known_at)
        with self.database.transaction(write=False) as tx:
            state = ASSIGNMENTS.state(tx, key("assignment", ref), FACTS, known)
        return assignment_status(state, day) if state else None

    def assignments(
        self,
        *,
        status: AssignmentState | None = None,
        organisation: str | None = None,
        owner: str | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> list[AssignmentStatus]:
        """Assignments (in ``status``, of ``organisation``, owned by ``owner``)."""
        day, known = self._when(as_of, known_at)
        where, params = (
            ("organisation = ?", [organisation.casefold()]) if organisation else ("", [])
        )
        with self.database.transaction(write=False) as tx:
            states = ASSIGNMENTS.select(tx, FACTS, known, where, params)
        return [
            a for a in _views(states, assignment_status, day)
            if (status is None or a.status == status) and (owner is None or same(a.owner, owner))
        ]

    # Who takes part ----------------------------------------------------------------------

    def organisation(
        self, ref: str, *, as_of: date | None = None, known_at: datetime | None = None
    ) -> OrganisationView | None:
        """One organisation: its name and kind, its bodies, who held its roles then."""
        day, known = self._when(as_of, known_at)
        with self.database.transaction(write=False) as tx:
            state = ORGANISATIONS.state(tx, key("organisation", ref), FACTS, known)
        return organisation_view(state, day) if state else None

    def organisations(
        self,
        *,
        kind: str | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> list[OrganisationView]:
        """Every organisation (of ``kind``) registered by the date asked about, by name."""
        day, known = self._when(as_of, known_at)
        where, params = ("kind = ?", [kind]) if kind else ("", [])
        with self.database.transaction(write=False) as tx:
            states = ORGANISATIONS.select(tx, FACTS, known, where, params)
        return sorted(_views(states, organisation_view, day), key=lambda o: o.name.casefold())

    def search(
        self, query: str, *, as_of: date | None = None, known_at: datetime | None = None,
        limit: int = 50,
    ) -> list[SearchHit]:
        """Entities and documents whose words match every word of ``query`` (Swedish
        stems), best first, as of the date and as known at the moment asked about."""
        day, known = self._when(as_of, known_at)
        with self.database.transaction(write=False) as tx:
            return search(tx, query, day, known, limit)

    # 7. Audit trail ---------------------------------------------------------------------------

    def audit_trail(
        self,
        *,
        kind: str | None = None,
        ref: str | None = None,
        recorded_by: str | None = None,
        adjustments_only: bool = False,
        recorded_from: datetime | None = None,
        recorded_to: datetime | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Who recorded what and when, in ledger order (page with ``after``/``limit``).

        ``kind`` narrows it to one kind of entity, with ``ref`` to one entity;
        ``adjustments_only`` to corrections and voidings. Here ``as_of`` is no default:
        without it entries of every domain date are listed.
        """
        entity = key(kind, ref) if kind and ref else None
        with self.database.transaction(write=False) as tx:
            return AUDIT.entries(
                tx,
                kind=kind if entity is None else None,
                entity=entity,
                recorded_by=recorded_by,
                adjustments_only=adjustments_only,
                recorded_from=recorded_from,
                recorded_to=recorded_to,
                as_of=as_of,
                known_at=known_at,
                after=after,
                limit=limit,
            )


def _decision_filter(
    organisation: str | None,
    body: str | None,
    from_: date | None,
    to: date | None,
    low: str = "decided_on",
    high: str = "decided_on",
) -> tuple[list[str], list[Any]]:
    """SQL conditions and parameters choosing decisions by organisation, body and period
    (``low`` >= from_, ``high`` <= to) in the decision register's current-state table."""
    conditions: list[str] = []
    params: list[Any] = []
    for column, value in (("organisation", organisation), ("body", body)):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value.casefold())
    for condition, bound in ((f"{low} >= ?", from_), (f"{high} <= ?", to)):
        if bound is not None:
            conditions.append(condition)
            params.append(bound.isoformat())
    return conditions, params
