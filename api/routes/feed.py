"""Auditor routes: the complete, ordered feed of ledger entries, paged and live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.accounts import Account
from api.auth import CurrentAccount
from api.reading import feed_ledger
from api.redaction import recorder, shown
from api.routes import MAX_POSITION
from ledger.application import Entry, Ledger
from ledger.errors import InvalidCommand, Problem

router = APIRouter(prefix="/v1", tags=["auditor"])
FeedLedger = Annotated[Ledger, Depends(feed_ledger)]


class FeedItem(BaseModel):
    """One ledger entry in the total order."""

    position: int = Field(description="Position in the ledger's total order (gaps possible).")
    aggregate_id: str
    version: int
    type: str = Field(description="Event type, e.g. Decision.Recorded.")
    domain_dates: dict[str, str] = Field(description="The dates the entry speaks of.")
    recorded_at: datetime = Field(description="When the ledger stamped the entry.")
    recorded_by: str | None = Field(description="Who recorded it (hidden from readers).")
    data: dict[str, Any]


class FeedPage(BaseModel):
    items: list[FeedItem]
    next_after: int = Field(description="Pass as `after` to read on.")
    head: int = Field(description="The ledger's highest position when this page was read.")


def to_item(entry: Entry, account: Account) -> FeedItem:
    """``entry`` as ``account`` may see it (see :mod:`api.redaction`)."""
    return FeedItem(
        position=entry.position,
        aggregate_id=str(entry.aggregate_id),
        version=entry.version,
        type=entry.event_type,
        domain_dates=entry.domain_dates,
        recorded_at=entry.recorded_at,
        recorded_by=recorder(entry, account),
        data=entry.data,
    )


@router.get("/events", response_model=FeedPage, summary="The ordered feed of entries")
def read_events(
    ledger: FeedLedger,
    account: CurrentAccount,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION,
                                description="Read entries after this position.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> FeedPage:
    """The ledger's entries in their one total order, `limit` at a time after position `after`.
    Each item carries its event type, domain dates, recorded time and data; who recorded it
    is shown to auditors only. Follow `next_after` to the end."""
    head = ledger.max_position()
    entries = ledger.read(after, limit)
    items = [to_item(e, account) for e in shown(entries, account)]
    return FeedPage(
        items=items,
        next_after=entries[-1].position if entries else after,
        head=head,
    )


STREAM_POLL_SECONDS = 0.5
STREAM_HEARTBEAT_SECONDS = 15.0


@router.get(
    "/events/stream",
    summary="Live feed of entries as Server-Sent Events (resumable with Last-Event-ID)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_events(
    request: Request,
    ledger: FeedLedger,
    account: CurrentAccount,
    after: Annotated[int | None, Query(ge=0, le=MAX_POSITION,
                                       description="Start after this position.")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Each event's ``id`` is its position: a client that reconnects with Last-Event-ID
    continues exactly where it left off. Without either, the stream starts at the head."""
    if last_event_id is not None:
        if not last_event_id.strip().isdigit() or int(last_event_id) > MAX_POSITION:
            raise InvalidCommand("Last-Event-ID must be a ledger position",
                                 [Problem("Last-Event-ID", f"{last_event_id!r} is not one")])
        position = int(last_event_id)
    elif after is not None:
        position = after
    else:
        position = await run_in_threadpool(ledger.max_position)

    async def events() -> AsyncIterator[str]:
        nonlocal position
        quiet = 0.0
        yield "retry: 2000\n\n"
        while not await request.is_disconnected():
            entries = await run_in_threadpool(ledger.read, position, 100)
            for entry in shown(entries, account):
                item = to_item(entry, account)
                yield f"id: {entry.position}\nevent: entry\ndata: {item.model_dump_json()}\n\n"
            if entries:
                position = entries[-1].position
                quiet = 0.0
                continue
            await asyncio.sleep(STREAM_POLL_SECONDS)
            quiet += STREAM_POLL_SECONDS
            if quiet >= STREAM_HEARTBEAT_SECONDS:
                quiet = 0.0
                yield ": keep-alive\n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
