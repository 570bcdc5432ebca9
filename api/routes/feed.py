"""Auditor routes: the complete, ordered feed of ledger entries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.auth import CurrentAccount
from ledger.application import Entry, Ledger

router = APIRouter(prefix="/v1", tags=["auditor"])


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


def to_item(entry: Entry) -> FeedItem:
    return FeedItem(
        position=entry.position,
        aggregate_id=str(entry.aggregate_id),
        version=entry.version,
        type=entry.event_type,
        domain_dates=entry.domain_dates,
        recorded_at=entry.recorded_at,
        recorded_by=entry.recorded_by,
        data=entry.data,
    )


@router.get("/events", response_model=FeedPage, summary="The ordered feed of entries")
def read_events(
    request: Request,
    account: CurrentAccount,
    after: Annotated[int, Query(ge=0, description="Read entries after this position.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> FeedPage:
    ledger: Ledger = request.app.state.ledger
    head = ledger.max_position()
    entries = ledger.read(after, limit)
    items = [to_item(e) for e in entries]
    if not account.sees_recorders:
        for item in items:
            item.recorded_by = None
    return FeedPage(
        items=items,
        next_after=entries[-1].position if entries else after,
        head=head,
    )
