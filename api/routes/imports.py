"""Bulk import: a JSON Lines file of commands, checked whole, recorded all or nothing."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.auth import Writer
from ledger.application import Ledger
from ledger.errors import InvalidCommand, Problem
from ledger.importing import parse_lines, record_lines

router = APIRouter(prefix="/v1", tags=["registrar"])
log = structlog.get_logger("samsyn.api")

#: Two lines of the demo history: one command per line, as `samsyn import` reads them.
IMPORT_EXAMPLE = (
    '{"type": "RegisterOrganisation", "ref": "Berg", "name": "Bergs kommun", '
    '"kind": "principal", "registered_on": "2017-01-01"}\n'
    '{"type": "EstablishBody", "organisation": "Berg", "code": "KS", '
    '"name": "Kommunstyrelsen", "kind": "board"}\n'
)


class ImportedLine(BaseModel):
    line: int
    type: str
    positions: list[int]


class ImportReceipt(BaseModel):
    commands: int
    first_position: int | None
    last_position: int | None
    lines: list[ImportedLine]


@router.post(
    "/import",
    status_code=201,
    response_model=ImportReceipt,
    summary="Record a JSON Lines file of commands, all or nothing",
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/x-ndjson": {"schema": {"type": "string"}, "example": IMPORT_EXAMPLE},
        "text/plain": {"schema": {"type": "string"}},
    }}},
    responses={401: {}, 403: {}, 409: {}, 413: {}, 422: {}, 503: {}},
)
async def import_commands(
    request: Request,
    response: Response,
    account: Writer,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
    ] = None,
) -> ImportReceipt:
    """Every line is checked first, against the ledger as the lines before it leave it.
    One bad line means nothing is written; the answer names every bad line and why."""
    body = await request.body()  # at most SAMSYN_MAX_IMPORT_BYTES (api.app.BodyLimit)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidCommand("the file is not UTF-8",
                             [Problem("body", f"byte {e.start} is not UTF-8")]) from None
    lines = parse_lines(text.splitlines())
    if not lines:
        raise InvalidCommand("the file holds no commands", [Problem("body", "empty")])
    ledger: Ledger = request.app.state.ledger
    receipts = await run_in_threadpool(
        record_lines, ledger, lines, account.name, account.acting_for, idempotency_key
    )
    positions = [p for r in receipts for p in r.positions]
    log.info("imported", account=account.name, commands=len(receipts),
             positions=[positions[0], positions[-1]] if positions else [])
    response.status_code = 201
    return ImportReceipt(
        commands=len(receipts),
        first_position=positions[0] if positions else None,
        last_position=positions[-1] if positions else None,
        lines=[ImportedLine(line=line.number, type=r.command_type, positions=r.positions)
               for line, r in zip(lines, receipts, strict=True)],
    )
