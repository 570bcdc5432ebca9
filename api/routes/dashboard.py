"""Dashboard routes: the read models, each as of any date and as known at any moment."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, TypeAdapter
from starlette.concurrency import run_in_threadpool
from typing_extensions import TypedDict

from api.accounts import Account
from api.auth import Auditor, CurrentAccount
from api.reading import reached, read_models
from api.redaction import redacted_json
from api.routes import MAX_POSITION
from ledger.limits import DomainDate, Moment, QueryRef
from projections.adoption import Adoption
from projections.agreement_status import AgreementState, AgreementStatus
from projections.assignments import AssignmentState, AssignmentStatus
from projections.audit_trail import AuditEntry
from projections.consultations import ConsultationStatus, RoundState
from projections.decision_register import DecisionEntry
from projections.matter_timeline import MatterSummary, MatterTimeline
from projections.organisations import OrganisationView
from projections.queries import ReadModels
from projections.search import MAX_QUERY, SearchHit

router = APIRouter(prefix="/v1", tags=["dashboard"])
T = TypeVar("T")


class When(BaseModel):
    as_of: date | None
    known_at: datetime | None


async def when(
    as_of: Annotated[DomainDate | None, Query(description="The domain date asked about (default "
                                              "today, or the day of known_at).")] = None,
    known_at: Annotated[Moment | None, Query(description="Only what had been recorded by "
                                             "this moment (ISO 8601).")] = None,
) -> When:
    return When(as_of=as_of, known_at=known_at)


At = Annotated[When, Depends(when)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


#: Writes an answer as JSON.
Dump = Callable[[Any], bytes]

async def etag_for(request: Request, account: Account) -> str:
    """A validator that changes whenever the read models move on, the day changes (the
    default date asked about) or the account may see other fields.

    The position is the one the read models answering have reached (see
    :func:`api.reading.reached`), read before they answer.
    """
    models: ReadModels = request.state.read_source.read_models
    position = await reached(request)
    seed = (f"{position}|{models.today()}|{account.sees_recorders}|"
            f"{request.url.path}?{request.url.query}")
    return f'W/"{hashlib.sha256(seed.encode()).hexdigest()[:32]}"'


async def answer(
    request: Request, account: Account, dump: Dump, compute: Callable[[], Any],
) -> Response:
    """The JSON of ``compute()`` (404 when None), or 304 when the client's copy is current.

    The answer is written once by ``dump`` (pydantic's serialiser for the route's model)
    and handed to the client as is: the route's ``response_model`` documents it.
    """
    etag = await etag_for(request, account)
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Authorization"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)

    def render() -> bytes | None:
        result = compute()
        return None if result is None else redacted_json(dump(result), account)

    body = await run_in_threadpool(render)
    if body is None:
        raise HTTPException(404, f"nothing at {request.url.path} on the date asked about")
    return Response(body, media_type="application/json", headers=headers)


class PageOf(TypedDict, Generic[T]):
    """What :func:`page` answers (serialised as :class:`Page`)."""

    items: list[T]
    total: int
    offset: int
    limit: int


def dumper(model: Any) -> Dump:
    """Pydantic's JSON serialiser for ``model`` (a dataclass, a page of them, a list)."""
    adapter: TypeAdapter[Any] = TypeAdapter(model)
    return adapter.dump_json


AGREEMENTS = dumper(PageOf[AgreementStatus])
AGREEMENT = dumper(AgreementStatus)
ADOPTIONS = dumper(PageOf[Adoption])
ADOPTION = dumper(Adoption)
CONSULTATIONS = dumper(PageOf[ConsultationStatus])
CONSULTATION = dumper(ConsultationStatus)
DECISIONS = dumper(PageOf[DecisionEntry])
DECISION = dumper(DecisionEntry)
TIMELINE = dumper(MatterTimeline)
ASSIGNMENTS = dumper(PageOf[AssignmentStatus])
ASSIGNMENT = dumper(AssignmentStatus)
AUDIT_TRAIL = dumper(list[AuditEntry])
ORGANISATIONS = dumper(PageOf[OrganisationView])
ORGANISATION = dumper(OrganisationView)
SEARCH = dumper(list[SearchHit])
MATTER_LIST = dumper(PageOf[MatterSummary])


def page(items: list[T], offset: int, limit: int) -> PageOf[T]:
    return {"items": items[offset:offset + limit], "total": len(items), "offset": offset,
            "limit": limit}


Offset = Annotated[int, Query(ge=0, le=MAX_POSITION)]
#: A filter naming an organisation, a body, a person or an entry: what a reference may hold.
Filter = Annotated[QueryRef | None, Query()]
Limit = Annotated[int, Query(ge=1, le=500)]
Models = Annotated[ReadModels, Depends(read_models)]


@router.get("/organisations", response_model=Page[OrganisationView],
            summary="The organisations taking part, with their bodies and roles")
async def list_organisations(request: Request, account: CurrentAccount, models: Models,
                             at: At, kind: str | None = None, offset: Offset = 0,
                             limit: Limit = 100) -> Any:
    """Every organisation registered by the date asked about (principals, joint bodies,
    others; filter by `kind`), by name: its full name beside the short reference
    registrars use, its bodies and who held its roles on that date."""
    return await answer(request, account, ORGANISATIONS, lambda: page(models.organisations(
        kind=kind, as_of=at.as_of, known_at=at.known_at), offset, limit))


@router.get("/organisations/{ref}", response_model=OrganisationView,
            summary="One organisation, its bodies and roles")
async def organisation(request: Request, account: CurrentAccount, models: Models, at: At,
                       ref: str) -> Any:
    """One organisation by its short reference (for example `RJH`): name, kind, bodies and
    who held its roles on the date asked about."""
    return await answer(request, account, ORGANISATION, lambda: models.organisation(
        ref, as_of=at.as_of, known_at=at.known_at))


@router.get("/search", response_model=list[SearchHit],
            summary="Full-text search over titles, decision points and justifications")
async def search(request: Request, account: CurrentAccount, models: Models, at: At,
                 q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY,
                                         description="Words to find, every one required; "
                                         "Swedish inflections match (avtalen finds avtal).")],
                 limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Any:
    """Acts and registered documents whose titles, decision points, justifications,
    subjects or summaries hold every word of `q` (Swedish stems), best first. As of a
    date, what speaks of a later day is left out; as known at a moment, what was recorded
    later. Voided entries are never found."""
    return await answer(request, account, SEARCH, lambda: models.search(
        q, as_of=at.as_of, known_at=at.known_at, limit=limit))


@router.get("/agreements", response_model=Page[AgreementStatus],
            summary="Agreements and joint plans: in force or not, validity, pending changes")
async def list_agreements(request: Request, account: CurrentAccount,
                          models: Models, at: At, party: Filter = None,
                          status: AgreementState | None = None, offset: Offset = 0,
                          limit: Limit = 100) -> Any:
    """Every agreement and joint plan on the date asked about (`as_of`, default today), as known
    at `known_at` (default now): whether it is in force, its validity, changes in force and
    changes still waiting for parties' decisions. Filter by `party` or `status`; paged by
    `offset` and `limit`."""
    return await answer(request, account, AGREEMENTS, lambda: page(models.list_agreements(
        party=party, status=status, as_of=at.as_of, known_at=at.known_at), offset, limit))


@router.get("/agreements/{ref:path}", response_model=AgreementStatus,
            summary="One agreement's status on a date, with its history of changes")
async def agreement(request: Request, account: CurrentAccount,
                    models: Models, at: At, ref: str) -> Any:
    """One agreement's status on the date asked about: in force or not, valid from and until
    (`valid_until` is the last day in force; `ends_on` is the first day without it),
    extensions, termination or replacement, each change with the decisions behind it. 404
    when the agreement was not registered as known at `known_at`."""
    return await answer(request, account, AGREEMENT, lambda: models.agreement_status(
        ref, as_of=at.as_of, known_at=at.known_at))


@router.get("/recommendations", response_model=Page[Adoption],
            summary="Adoption of every recommendation per principal")
async def list_recommendations(request: Request, account: CurrentAccount,
                               models: Models, at: At, joint_body: Filter = None,
                               addressee: Filter = None, offset: Offset = 0,
                               limit: Limit = 100) -> Any:
    """Every recommendation with each addressed principal's outcome (adopted, adopted with
    amendments, rejected, no decision yet) on the date asked about. Filter by `joint_body`
    or `addressee`."""
    return await answer(request, account, ADOPTIONS, lambda: page(models.list_adoption(
        joint_body=joint_body, addressee=addressee, as_of=at.as_of, known_at=at.known_at),
        offset, limit))


@router.get("/recommendations/{ref:path}/adoption", response_model=Adoption,
            summary="Each addressed principal's outcome, the count, who is overdue")
async def recommendation_adoption(request: Request, response: Response,
                                  account: CurrentAccount, models: Models, at: At,
                                  ref: str) -> Any:
    """One recommendation: each addressed principal's outcome, which body decided on which date
    and §, whether that paragraph is verified and its conditions hold, the count (for
    example 6 of 9) and who is overdue."""
    return await answer(request, account, ADOPTION, lambda: models.adoption(
        ref, as_of=at.as_of, known_at=at.known_at))


@router.get("/consultations", response_model=Page[ConsultationStatus],
            summary="Consultations: who answered, who did not, who was late")
async def list_consultations(request: Request, account: CurrentAccount,
                             models: Models, at: At, organisation: Filter = None,
                             state: RoundState | None = None, offset: Offset = 0,
                             limit: Limit = 100) -> Any:
    """Every consultation round on the date asked about: who was asked, who answered with which
    stance, who did not, who answered late. Filter by the sending `organisation` or the
    round's `state`."""
    return await answer(request, account, CONSULTATIONS, lambda: page(models.consultations(
        organisation=organisation, state=state, as_of=at.as_of, known_at=at.known_at),
        offset, limit))


@router.get("/consultations/{ref:path}", response_model=ConsultationStatus,
            summary="One consultation round")
async def consultation(request: Request, account: CurrentAccount,
                       models: Models, at: At, ref: str) -> Any:
    """One consultation round: its period, each response (received on, stance, late or not), who
    has not answered."""
    return await answer(request, account, CONSULTATION, lambda: models.consultation(
        ref, as_of=at.as_of, known_at=at.known_at))


@router.get("/decisions", response_model=Page[DecisionEntry],
            summary="The decision register: by organisation, body and period")
async def list_decisions(
    request: Request, account: CurrentAccount, models: Models, at: At,
    organisation: Filter = None, body: Filter = None,
    decided_from: Annotated[DomainDate | None, Query(alias="from")] = None,
    decided_to: Annotated[DomainDate | None, Query(alias="to")] = None,
    offset: Offset = 0, limit: Limit = 100,
) -> Any:
    """The decision register: decisions by `organisation`, `body` and period (`from`, `to`:
    decision dates, both inclusive), with verification, conditions and appeals as on the
    date asked about."""
    def register() -> PageOf[DecisionEntry]:
        items, total = models.decisions_page(
            organisation=organisation, body=body, from_=decided_from, to=decided_to,
            as_of=at.as_of, known_at=at.known_at, offset=offset, limit=limit)
        return {"items": items, "total": total, "offset": offset, "limit": limit}

    return await answer(request, account, DECISIONS, register)


@router.get("/decisions/{ref:path}", response_model=DecisionEntry,
            summary="One decision: verified, conditions, appeals")
async def decision(request: Request, account: CurrentAccount,
                   models: Models, at: At, ref: str) -> Any:
    """One decision: its points and their effects, outcome against the motion, conditions pending
    or met, verification of its paragraph, posting and appeals."""
    return await answer(request, account, DECISION, lambda: models.decision(
        ref, as_of=at.as_of, known_at=at.known_at))


@router.get("/matters", response_model=Page[MatterSummary],
            summary="The matters: titles, case numbers, when opened")
async def list_matters(request: Request, account: CurrentAccount, models: Models, at: At,
                       organisation: str | None = None, offset: Offset = 0,
                       limit: Limit = 100) -> Any:
    """Every matter opened by the date asked about, most recently opened first, with its
    case numbers (filter by an `organisation` that registered it). Follow a case number
    to `/v1/matters/{ORGANISATION:DNR}/timeline` for everything about it."""
    return await answer(request, account, MATTER_LIST, lambda: page(models.matters(
        organisation=organisation, as_of=at.as_of, known_at=at.known_at), offset, limit))


@router.get("/matters/{case_number:path}/timeline", response_model=MatterTimeline,
            summary="Everything about a matter, across organisations and case numbers")
async def matter_timeline(request: Request, account: CurrentAccount,
                          models: Models, at: At, case_number: str) -> Any:
    """Everything recorded about one matter, across every organisation and case number, in domain-
    date order. Name the matter by any of its case numbers as `ORGANISATION:DNR`, for
    example `RJH:RS/203/2021`."""
    organisation, _, dnr = case_number.partition(":")
    if not dnr:
        raise HTTPException(404, "name the matter as ORGANISATION:DNR, e.g. RJH:RS/203/2021")
    return await answer(request, account, TIMELINE, lambda: models.matter_timeline(
        organisation, dnr, as_of=at.as_of, known_at=at.known_at))


@router.get("/assignments", response_model=Page[AssignmentStatus],
            summary="Assignments and deadlines: open, done, overdue")
async def list_assignments(request: Request, account: CurrentAccount,
                           models: Models, at: At, status: AssignmentState | None = None,
                           organisation: Filter = None, owner: Filter = None,
                           offset: Offset = 0, limit: Limit = 100) -> Any:
    """Assignments given by decisions: open, done or overdue on the date asked about, with their
    deadlines. Filter by `status`, `organisation` or `owner`."""
    return await answer(request, account, ASSIGNMENTS, lambda: page(models.assignments(
        status=status, organisation=organisation, owner=owner, as_of=at.as_of,
        known_at=at.known_at), offset, limit))


@router.get("/assignments/{ref:path}", response_model=AssignmentStatus,
            summary="One assignment with its deadline revisions")
async def assignment(request: Request, account: CurrentAccount,
                     models: Models, at: At, ref: str) -> Any:
    """One assignment: owner, task, the deadline in force and every revision of it, reports back."""
    return await answer(request, account, ASSIGNMENT, lambda: models.assignment(
        ref, as_of=at.as_of, known_at=at.known_at))


@router.get("/audit-trail", response_model=list[AuditEntry], tags=["auditor"],
            summary="Who recorded what and when; corrections and voidings with reasons")
async def audit_trail(
    request: Request, account: Auditor, models: Models, at: At,
    kind: Filter = None, ref: Filter = None, recorded_by: Filter = None,
    adjustments_only: bool = False,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0,
    limit: Limit = 100,
) -> Any:
    """Who recorded what and when, in ledger order: every entry with its recorder and recorded
    time; corrections and voidings with their reasons. For auditors and administrators.
    Page with `after` (a ledger position) and `limit`."""
    return await answer(request, account, AUDIT_TRAIL, lambda: models.audit_trail(
        kind=kind, ref=ref, recorded_by=recorded_by, adjustments_only=adjustments_only,
        as_of=at.as_of, known_at=at.known_at, after=after, limit=limit))
