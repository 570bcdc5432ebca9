"""Dashboard routes: the read models, each as of any date and as known at any moment."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.accounts import Account
from api.auth import Auditor, CurrentAccount
from projections.adoption import Adoption
from projections.agreement_status import AgreementState, AgreementStatus
from projections.assignments import AssignmentState, AssignmentStatus
from projections.audit_trail import AuditEntry
from projections.consultations import ConsultationStatus, RoundState
from projections.decision_register import DecisionEntry
from projections.matter_timeline import MatterTimeline
from projections.queries import ReadModels

router = APIRouter(prefix="/v1", tags=["dashboard"])
T = TypeVar("T")

HIDDEN = "(hidden)"


class When(BaseModel):
    as_of: date | None
    known_at: datetime | None


def when(
    as_of: Annotated[date | None, Query(description="The domain date asked about (default "
                                        "today, or the day of known_at).")] = None,
    known_at: Annotated[datetime | None, Query(description="Only what had been recorded by "
                                               "this moment (ISO 8601).")] = None,
) -> When:
    return When(as_of=as_of, known_at=known_at)


At = Annotated[When, Depends(when)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


def read_models(request: Request) -> ReadModels:
    models: ReadModels = request.app.state.read_models
    return models


def redacted(value: Any, account: Account) -> Any:
    """Who recorded what is for auditors and registrars, not for readers."""
    data = jsonable_encoder(value)
    if account.sees_recorders:
        return data

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: HIDDEN if k == "recorded_by" else walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(data)


def etag_for(request: Request, response: Response) -> str | None:
    """A validator that changes whenever the read models move on; 304 when unchanged."""
    position = request.app.state.read_models.position()
    tag = hashlib.sha256(f"{position}|{request.url.path}?{request.url.query}".encode()
                         ).hexdigest()[:32]
    etag = f'W/"{tag}"'
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "no-cache"
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return etag
    return None


async def answer(
    request: Request, response: Response, account: Account, compute: Callable[[], Any],
) -> Any:
    if etag_for(request, response) is not None:
        return Response(status_code=304, headers=dict(response.headers))
    result = await run_in_threadpool(compute)
    if result is None:
        raise HTTPException(404, f"nothing at {request.url.path} on the date asked about")
    return redacted(result, account)


def page(items: list[T], offset: int, limit: int) -> dict[str, Any]:
    return {"items": items[offset:offset + limit], "total": len(items), "offset": offset,
            "limit": limit}


Offset = Annotated[int, Query(ge=0)]
Limit = Annotated[int, Query(ge=1, le=500)]
Models = Annotated[ReadModels, Depends(read_models)]


@router.get("/agreements", response_model=Page[AgreementStatus],
            summary="Agreements and joint plans: in force or not, validity, pending changes")
async def list_agreements(request: Request, response: Response, account: CurrentAccount,
                          models: Models, at: At, party: str | None = None,
                          status: AgreementState | None = None, offset: Offset = 0,
                          limit: Limit = 100) -> Any:
    return await answer(request, response, account, lambda: page(models.list_agreements(
        party=party, status=status, as_of=at.as_of, known_at=at.known_at), offset, limit))


@router.get("/agreements/{ref:path}", response_model=AgreementStatus,
            summary="One agreement's status on a date, with its history of changes")
async def agreement(request: Request, response: Response, account: CurrentAccount,
                    models: Models, at: At, ref: str) -> Any:
    return await answer(request, response, account, lambda: models.agreement_status(
        ref, as_of=at.as_of, known_at=at.known_at))


@router.get("/recommendations", response_model=Page[Adoption],
            summary="Adoption of every recommendation per principal")
async def list_recommendations(request: Request, response: Response, account: CurrentAccount,
                               models: Models, at: At, joint_body: str | None = None,
                               addressee: str | None = None, offset: Offset = 0,
                               limit: Limit = 100) -> Any:
    return await answer(request, response, account, lambda: page(models.list_adoption(
        joint_body=joint_body, addressee=addressee, as_of=at.as_of, known_at=at.known_at),
        offset, limit))


@router.get("/recommendations/{ref:path}/adoption", response_model=Adoption,
            summary="Each addressed principal's outcome, the count, who is overdue")
async def recommendation_adoption(request: Request, response: Response,
                                  account: CurrentAccount, models: Models, at: At,
                                  ref: str) -> Any:
    return await answer(request, response, account, lambda: models.adoption(
        ref, as_of=at.as_of, known_at=at.known_at))


@router.get("/consultations", response_model=Page[ConsultationStatus],
            summary="Consultations: who answered, who did not, who was late")
async def list_consultations(request: Request, response: Response, account: CurrentAccount,
                             models: Models, at: At, organisation: str | None = None,
                             state: RoundState | None = None, offset: Offset = 0,
                             limit: Limit = 100) -> Any:
    return await answer(request, response, account, lambda: page(models.consultations(
        organisation=organisation, state=state, as_of=at.as_of, known_at=at.known_at),
        offset, limit))


@router.get("/consultations/{ref:path}", response_model=ConsultationStatus,
            summary="One consultation round")
async def consultation(request: Request, response: Response, account: CurrentAccount,
                       models: Models, at: At, ref: str) -> Any:
    return await answer(request, response, account, lambda: models.consultation(
        ref, as_of=at.as_of, known_at=at.known_at))


@router.get("/decisions", response_model=Page[DecisionEntry],
            summary="The decision register: by organisation, body and period")
async def list_decisions(
    request: Request, response: Response, account: CurrentAccount, models: Models, at: At,
    organisation: str | None = None, body: str | None = None,
    decided_from: Annotated[date | None, Query(alias="from")] = None,
    decided_to: Annotated[date | None, Query(alias="to")] = None,
    offset: Offset = 0, limit: Limit = 100,
) -> Any:
    return await answer(request, response, account, lambda: page(models.decisions(
        organisation=organisation, body=body, from_=decided_from, to=decided_to,
        as_of=at.as_of, known_at=at.known_at), offset, limit))


@router.get("/decisions/{ref:path}", response_model=DecisionEntry,
            summary="One decision: verified, conditions, appeals")
async def decision(request: Request, response: Response, account: CurrentAccount,
                   models: Models, at: At, ref: str) -> Any:
    return await answer(request, response, account, lambda: models.decision(
        ref, as_of=at.as_of, known_at=at.known_at))


@router.get("/matters/{case_number:path}/timeline", response_model=MatterTimeline,
            summary="Everything about a matter, across organisations and case numbers")
async def matter_timeline(request: Request, response: Response, account: CurrentAccount,
                          models: Models, at: At, case_number: str) -> Any:
    organisation, _, dnr = case_number.partition(":")
    if not dnr:
        raise HTTPException(404, "name the matter as ORGANISATION:DNR, e.g. RJH:RS/203/2021")
    return await answer(request, response, account, lambda: models.matter_timeline(
        organisation, dnr, as_of=at.as_of, known_at=at.known_at))


@router.get("/assignments", response_model=Page[AssignmentStatus],
            summary="Assignments and deadlines: open, done, overdue")
async def list_assignments(request: Request, response: Response, account: CurrentAccount,
                           models: Models, at: At, status: AssignmentState | None = None,
                           organisation: str | None = None, owner: str | None = None,
                           offset: Offset = 0, limit: Limit = 100) -> Any:
    return await answer(request, response, account, lambda: page(models.assignments(
        status=status, organisation=organisation, owner=owner, as_of=at.as_of,
        known_at=at.known_at), offset, limit))


@router.get("/assignments/{ref:path}", response_model=AssignmentStatus,
            summary="One assignment with its deadline revisions")
async def assignment(request: Request, response: Response, account: CurrentAccount,
                     models: Models, at: At, ref: str) -> Any:
    return await answer(request, response, account, lambda: models.assignment(
        ref, as_of=at.as_of, known_at=at.known_at))


@router.get("/audit-trail", response_model=list[AuditEntry], tags=["auditor"],
            summary="Who recorded what and when; corrections and voidings with reasons")
async def audit_trail(
    request: Request, response: Response, account: Auditor, models: Models, at: At,
    kind: str | None = None, ref: str | None = None, recorded_by: str | None = None,
    adjustments_only: bool = False, after: Annotated[int, Query(ge=0)] = 0,
    limit: Limit = 100,
) -> Any:
    return await answer(request, response, account, lambda: models.audit_trail(
        kind=kind, ref=ref, recorded_by=recorded_by, adjustments_only=adjustments_only,
        as_of=at.as_of, known_at=at.known_at, after=after, limit=limit))
