"""Registrar routes: one POST per act of the event catalogue, each a typed command."""

import asyncio
import functools
import json
import time
from datetime import datetime
from importlib import resources
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Body, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.auth import Writer
from api.reading import POSITION_HEADER
from api.routes.integrity import MAX_WAIT_SECONDS, InclusionProof, receipt_out
from ledger import commands as c
from ledger.application import Ledger, Receipt
from ledger.errors import InvalidCommand, Problem
from ledger.group_commit import GroupCommitter
from ledger.integrity.errors import IntegrityError
from ledger.integrity.log import InclusionReceipt, IntegrityLog
from ledger.integrity.sealer import Sealer

router = APIRouter(prefix="/v1", tags=["registrar"])
log = structlog.get_logger("samsyn.api")

#: Where each command is posted. The path names the act, the body is the command.
ROUTES: dict[type[c.Command], str] = {
    c.RegisterOrganisation: "/organisations",
    c.EstablishBody: "/bodies",
    c.AssignRole: "/roles",
    c.EndRole: "/roles/endings",
    c.OpenMatter: "/matters",
    c.AddCaseNumber: "/matters/case-numbers",
    c.LinkMatters: "/matters/links",
    c.RegisterDocument: "/documents",
    c.HoldMeeting: "/meetings",
    c.ElectCheckers: "/meetings/checkers",
    c.RecordParagraph: "/meetings/paragraphs",
    c.VerifyMinutes: "/meetings/verifications",
    c.VerifyParagraph: "/meetings/paragraph-verifications",
    c.PostMinutes: "/meetings/postings",
    c.LodgeAppeal: "/appeals",
    c.ResolveAppeal: "/appeals/resolutions",
    c.TableMotion: "/motions",
    c.RecordDecision: "/decisions",
    c.IssueRecommendation: "/recommendations",
    c.OpenConsultation: "/consultations",
    c.RecordConsultationResponse: "/consultations/responses",
    c.CloseConsultation: "/consultations/closings",
    c.RegisterAgreement: "/agreements",
    c.ReportBack: "/assignments/reports",
    c.CorrectEntry: "/corrections",
    c.VoidEntry: "/voidings",
}


class EntryReceipt(BaseModel):
    position: int
    aggregate_id: str
    version: int
    event_type: str
    ref: str | None = None


class Inclusion(BaseModel):
    """The inclusion receipts of a command's entries, asked for with ``receipt_wait``."""

    status: Literal["sealed", "pending"] = Field(
        description="sealed: every entry is in a signed checkpoint and its receipt is here; "
        "pending: not within receipt_wait (the entries are recorded all the same).")
    receipts: list[InclusionProof] = Field(
        description="One per entry, as GET /v1/integrity/receipts/{position} answers it.")
    pending: list[str] = Field(
        description="Where to fetch the receipts still missing (also in Link headers).")


class ReceiptModel(BaseModel):
    """What the ledger answers for a recorded command."""

    position: int = Field(description="Position of the command's first entry in the ledger.")
    ledger_position: int = Field(
        description="The ledger position the command reached (its last entry; also in the "
        "X-Samsyn-Position header): pass it as `min_position` to a read to see this write.")
    id: str = Field(description="Id of the entry the command is about.")
    ref: str | None = Field(description="The reference registrars use for it, if new.")
    recorded_at: datetime
    recorded_by: str
    entries: list[EntryReceipt]
    inclusion: Inclusion | None = Field(
        default=None, description="Only with receipt_wait: the entries' inclusion receipts.")


def to_model(receipt: Receipt) -> ReceiptModel:
    first = receipt.entries[0]
    return ReceiptModel(
        position=int(first["position"]),
        ledger_position=max(receipt.positions, default=int(first["position"])),
        id=str(first["aggregate_id"]),
        ref=first.get("ref"),
        recorded_at=receipt.recorded_at,
        recorded_by=receipt.recorded_by,
        entries=[EntryReceipt(**e) for e in receipt.entries],
    )


def parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidCommand("If-Match must be an entry version such as \"3\"",
                             [Problem("If-Match", f"{value!r} is not a version")])
    return int(text)


@functools.cache
def demo_examples() -> dict[str, dict[str, Any]]:
    """The first command of each type in the real history, as the API's examples."""
    found: dict[str, dict[str, Any]] = {}
    text = resources.files("ledger").joinpath("data/demo.jsonl").read_text("utf-8")
    for line in text.splitlines():
        data = json.loads(line)
        data.pop("assumed", None)
        data.pop("source", None)
        found.setdefault(data["type"], data)
    return found


#: What every recording route does besides its act, said once for the OpenAPI document.
RECORDING = (
    "The command is checked against what the ledger holds; if it is accepted, every event it "
    "makes is appended in one transaction and the answer is 201 with the receipt (the ledger "
    "positions reached, the entries made). Nothing is written when it is refused: 422 names "
    "each field that is wrong, 403 says what the account may not do, 409 that it conflicts "
    "with what is recorded.\n\n"
    "Send an `Idempotency-Key` to make a retry safe: the same key with the same command "
    "answers the first receipt again (`Idempotent-Replayed: true`). Send `If-Match` with the "
    "version of the entry acted on (its history's `ETag`) to refuse the write if someone "
    "changed the entry since you read it."
)

#: Examples of the acts the real history does not contain.
EXAMPLES: dict[str, dict[str, Any]] = {
    "CorrectEntry": {"type": "CorrectEntry",
                     "entry": {"kind": "decision", "ref": "RJH/RS/2021-03-25 §58"},
                     "field": "decided_on", "right_value": "2021-03-25",
                     "reason": "The date was registered from the memo, not the minutes."},
    "VoidEntry": {"type": "VoidEntry", "entry": {"kind": "matter", "ref": "RJH:RS/999/2021"},
                  "reason": "Registered twice by mistake; RJH:RS/203/2021 is the matter."},
}


def describe(model: type[c.Command]) -> str:
    """The OpenAPI description of the route recording ``model``: its docstring, then what
    every recording route does."""
    doc = " ".join((model.__doc__ or "").split())
    return f"{doc}\n\n{RECORDING}"


def inclusion(request: Request, response: Response, positions: list[int],
              wait: float) -> Inclusion:
    """Wait up to ``wait`` seconds until every one of ``positions`` is sealed and covered by
    a signed checkpoint; their receipts, or where to fetch them later."""
    integrity: IntegrityLog | None = getattr(request.app.state, "integrity", None)
    sealer: Sealer | None = getattr(request.app.state, "sealer", None)
    deadline = time.monotonic() + wait
    found: dict[int, InclusionReceipt] = {}
    try:
        if integrity is not None and (sealer is None or not sealer.leading):
            # Nobody seals here (another process leads the sealer): seal and sign inline.
            ledger: Ledger = request.app.state.ledger
            integrity.seal_all(ledger)
            leaf_index, _ = integrity.leaf(max(positions))
            latest = integrity.latest_checkpoint()
            if latest is None or latest.tree_size <= leaf_index:
                integrity.issue_checkpoint()
            found = {p: integrity.receipt(p) for p in positions}
        elif integrity is not None and sealer is not None:
            # The last entry first: once it is signed, the others are too.
            for position in sorted(positions, reverse=True):
                remaining = max(0.0, deadline - time.monotonic())
                found[position] = sealer.receipt(position, timeout=remaining)
    except TimeoutError as e:
        log.info("receipt pending", positions=positions, reason=str(e))
    except IntegrityError as e:
        log.warning("receipt pending", positions=positions, reason=str(e))
    missing = [f"/v1/integrity/receipts/{p}" for p in sorted(set(positions) - set(found))]
    if missing:
        response.headers["Link"] = ", ".join(f'<{url}>; rel="receipt"' for url in missing)
    return Inclusion(
        status="pending" if missing else "sealed",
        receipts=[receipt_out(found[p]) for p in sorted(found)],
        pending=missing,
    )


async def record(
    request: Request, response: Response, command: c.Command, account: Any,
    idempotency_key: str | None, if_match: str | None, receipt_wait: float | None = None,
) -> ReceiptModel:
    """Hand the command to the group committer and await its batch on the event loop: no
    thread is held per request while the batch is checked and committed."""
    committer: GroupCommitter = request.app.state.committer
    receipt = await asyncio.wrap_future(committer.submit(
        command,
        recorded_by=account.name,
        idempotency_key=idempotency_key,
        acting_for=account.acting_for,
        expected_version=parse_if_match(if_match),
    ))
    model = to_model(receipt)
    # Debug only: the service's request line already names the act, account and status,
    # and a second line per append was a twentieth of the service's time under load.
    log.debug("recorded", command=command.type, account=account.name,
              positions=receipt.positions, replayed=receipt.replayed)
    response.status_code = 201
    response.headers["Location"] = f"/v1/entries/{model.id}"
    response.headers[POSITION_HEADER] = str(model.ledger_position)
    if receipt.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    for follower in (request.app.state.runner, getattr(request.app.state, "sealer", None)):
        if follower is not None:
            follower.notify()
    if receipt_wait is not None:
        model.inclusion = await run_in_threadpool(
            inclusion, request, response, receipt.positions, receipt_wait)
    return model


def _endpoint(model: type[c.Command]) -> Any:
    kind = model.model_fields["type"].default
    real = demo_examples().get(kind)
    example = real or EXAMPLES.get(kind)
    label = "From the real history" if real else "An example"

    async def endpoint(
        request: Request,
        response: Response,
        account: Writer,
        command: Annotated[model, Body(openapi_examples=(  # type: ignore[valid-type]
            {"example": {"summary": label, "value": example}}
            if example else None))],
        idempotency_key: Annotated[str | None, Header(
            alias="Idempotency-Key", min_length=1, max_length=200,
            description="Retrying with the same key and body records the command once.")] = None,
        if_match: Annotated[str | None, Header(
            alias="If-Match", pattern=r'^(W/)?"?[0-9]{1,9}"?$',
            description="The version of the target entry you read; 409 if it moved on.")] = None,
        receipt_wait: Annotated[float | None, Query(
            ge=0, le=MAX_WAIT_SECONDS,
            description="Also wait up to this many seconds for the entries to be sealed and "
            "signed, and answer their inclusion receipts in `inclusion`. The act is recorded "
            "either way; receipts not ready in time are marked pending, with where to fetch "
            "them.")] = None,
    ) -> ReceiptModel:
        return await record(request, response, command, account, idempotency_key, if_match,
                            receipt_wait)

    endpoint.__name__ = f"record_{model.__name__}"
    return endpoint


for _model, _path in ROUTES.items():
    router.add_api_route(
        _path,
        _endpoint(_model),
        methods=["POST"],
        status_code=201,
        response_model=ReceiptModel,
        summary=(_model.__doc__ or _model.__name__).strip().splitlines()[0],
        description=describe(_model),
        name=_model.__name__,
        responses={401: {}, 403: {}, 404: {}, 409: {}, 422: {}, 503: {}},
    )
