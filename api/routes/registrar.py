"""Registrar routes: one POST per act of the event catalogue, each a typed command."""

import functools
import json
from datetime import datetime
from importlib import resources
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, Header, Request, Response
from pydantic import BaseModel, Field

from api.auth import Writer
from ledger import commands as c
from ledger.application import Receipt
from ledger.errors import InvalidCommand, Problem
from ledger.group_commit import GroupCommitter

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


class ReceiptModel(BaseModel):
    """What the ledger answers for a recorded command."""

    position: int = Field(description="Position of the command's first entry in the ledger.")
    id: str = Field(description="Id of the entry the command is about.")
    ref: str | None = Field(description="The reference registrars use for it, if new.")
    recorded_at: datetime
    recorded_by: str
    entries: list[EntryReceipt]


def to_model(receipt: Receipt) -> ReceiptModel:
    first = receipt.entries[0]
    return ReceiptModel(
        position=int(first["position"]),
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


def record(
    request: Request, response: Response, command: c.Command, account: Any,
    idempotency_key: str | None, if_match: str | None,
) -> ReceiptModel:
    committer: GroupCommitter = request.app.state.committer
    receipt = committer.execute(
        command,
        recorded_by=account.name,
        idempotency_key=idempotency_key,
        acting_for=account.acting_for,
        expected_version=parse_if_match(if_match),
    )
    model = to_model(receipt)
    log.info("recorded", command=command.type, account=account.name,
             positions=receipt.positions, replayed=receipt.replayed)
    response.status_code = 201
    response.headers["Location"] = f"/v1/entries/{model.id}"
    if receipt.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    for follower in (request.app.state.runner, getattr(request.app.state, "sealer", None)):
        if follower is not None:
            follower.notify()
    return model


def _endpoint(model: type[c.Command]) -> Any:
    example = demo_examples().get(model.model_fields["type"].default)

    def endpoint(
        request: Request,
        response: Response,
        account: Writer,
        command: Annotated[model, Body(openapi_examples=(  # type: ignore[valid-type]
            {"real_history": {"summary": "From the real history", "value": example}}
            if example else None))],
        idempotency_key: Annotated[str | None, Header(
            alias="Idempotency-Key", min_length=1, max_length=200,
            description="Retrying with the same key and body records the command once.")] = None,
        if_match: Annotated[str | None, Header(
            alias="If-Match", pattern=r'^(W/)?"?[0-9]{1,9}"?$',
            description="The version of the target entry you read; 409 if it moved on.")] = None,
    ) -> ReceiptModel:
        return record(request, response, command, account, idempotency_key, if_match)

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
        name=_model.__name__,
        responses={401: {}, 403: {}, 404: {}, 409: {}, 422: {}, 503: {}},
    )
