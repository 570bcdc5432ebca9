"""Bulk import: a JSON Lines file of commands, checked whole, recorded all or nothing."""

from __future__ import annotations

import threading
from functools import partial
from typing import Annotated

import anyio.to_thread
import structlog
from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, Field

from api.auth import Writer
from api.reading import POSITION_HEADER
from ledger.application import Ledger, Receipt
from ledger.errors import InvalidCommand, Problem
from ledger.importing import ImportLine, parse_lines, record_lines

router = APIRouter(prefix="/v1", tags=["registrar"])
log = structlog.get_logger("samsyn.api")

#: Two lines of the demo history: one command per line, as `samsyn import` reads them.
IMPORT_EXAMPLE = (
    '{"type": "RegisterOrganisation", "ref": "Berg", "name": "Bergs kommun", '
    '"kind": "principal", "registered_on": "2017-01-01"}\n'
    '{"type": "EstablishBody", "organisation": "Berg", "code": "KS", '
    '"name": "Kommunstyrelsen", "kind": "board"}\n'
)


_running: set[int] = set()  # thread ids of imports being recorded


def imports_in_flight() -> int:
    """How many imports are being recorded now (a stopping service abandons them)."""
    return len(_running)


def _record(ledger: Ledger, lines: list[ImportLine], recorded_by: str,
            acting_for: frozenset[str] | None, key: str | None) -> list[Receipt]:
    _running.add(threading.get_ident())
    try:
        return record_lines(ledger, lines, recorded_by, acting_for, key)
    finally:
        _running.discard(threading.get_ident())


class ImportedLine(BaseModel):
    line: int
    type: str
    positions: list[int]


class ImportReceipt(BaseModel):
    commands: int
    first_position: int | None
    last_position: int | None
    ledger_position: int | None = Field(
        description="The ledger position the import reached (also in X-Samsyn-Position): "
        "pass it as `min_position` to a read to see what was imported.")
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
    # Abandoned if the service stops before it is done: the thread's transaction then rolls
    # back when the process ends, and the service stops within its grace (see api/cli.py).
    receipts = await anyio.to_thread.run_sync(
        partial(_record, ledger, lines, account.name, account.acting_for, idempotency_key),
        abandon_on_cancel=True,
    )
    positions = [p for r in receipts for p in r.positions]
    log.info("imported", account=account.name, commands=len(receipts),
             positions=[positions[0], positions[-1]] if positions else [])
    response.status_code = 201
    reached = max(positions, default=None)
    if reached is not None:
        response.headers[POSITION_HEADER] = str(reached)
    return ImportReceipt(
        commands=len(receipts),
        first_position=positions[0] if positions else None,
        last_position=positions[-1] if positions else None,
        ledger_position=reached,
        lines=[ImportedLine(line=line.number, type=r.command_type, positions=r.positions)
               for line, r in zip(lines, receipts, strict=True)],
    )
