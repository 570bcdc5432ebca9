"""The OParl 1.1 routes: ``/oparl/v1/system``, the body list, each Body's object lists, objects.

Lists are in a stable order (the order in which the ledger created the objects), paged
with ``page`` and ``limit``, with ``links.next`` on every page but the last, and filtered by
``created_since``/``created_until``/``modified_since``/``modified_until``. Voided entries are
served as deleted objects (``deleted: true``, ``modified`` = when voided) in lists only when
``modified_since`` is given (a client syncing learns what went away), and always at their
own URL.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from api.auth import CurrentAccount
from api.oparl.render import JSON, LIST_TYPES, TYPES, Renderer
from ledger.application import Ledger
from projections.oparl import Catalogue, OParlRecord

#: Not in Samsyn's OpenAPI document: the facade's contract is OParl 1.1 and its JSON Schemas
#: (tests/oparl validates every object against them), not Samsyn's own /v1 API.
router = APIRouter(prefix="/oparl/v1", tags=["oparl"], include_in_schema=False)

#: Objects per page unless the client asks for another ``limit`` (at most ``MAX_LIMIT``).
PAGE_SIZE = 100
MAX_LIMIT = 1000


class CatalogueFeed:
    """The catalogue kept up to date from the ledger's feed. One request reads it at a time:
    it folds what was appended since the last request, then renders from a still catalogue."""

    def __init__(self) -> None:
        self.catalogue = Catalogue()
        self.lock = threading.Lock()


_FEED_LOCK = threading.Lock()


@contextmanager
def _reading(request: Request) -> Iterator[Renderer]:
    state = request.app.state
    with _FEED_LOCK:
        feed = getattr(state, "oparl", None)
        if feed is None:
            feed = state.oparl = CatalogueFeed()
    ledger: Ledger = state.ledger
    with feed.lock:
        feed.catalogue.update(ledger.read_all(after=feed.catalogue.position))
        yield Renderer(feed.catalogue, str(request.base_url).rstrip("/"), state.read_models)


@dataclass(frozen=True)
class Filters:
    created_since: datetime | None
    created_until: datetime | None
    modified_since: datetime | None
    modified_until: datetime | None
    page: int
    limit: int

    def keeps(self, record: OParlRecord) -> bool:
        if record.deleted and self.modified_since is None:
            return False
        bounds = ((record.created, self.created_since, self.created_until),
                  (record.modified, self.modified_since, self.modified_until))
        return all((low is None or value >= low) and (high is None or value <= high)
                   for value, low, high in bounds)

    def query(self, page: int) -> str:
        params: dict[str, Any] = {k: v.isoformat() for k, v in (
            ("created_since", self.created_since), ("created_until", self.created_until),
            ("modified_since", self.modified_since), ("modified_until", self.modified_until),
        ) if v is not None}
        if self.limit != PAGE_SIZE:
            params["limit"] = self.limit
        params["page"] = page
        return urlencode(params)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def filters(
    created_since: Annotated[datetime | None, Query(description="created at or after")] = None,
    created_until: Annotated[datetime | None, Query(description="created at or before")] = None,
    modified_since: Annotated[datetime | None, Query(
        description="modified at or after; deleted objects are listed only with this")] = None,
    modified_until: Annotated[datetime | None, Query(description="modified at or before")] = None,
    page: Annotated[int, Query(ge=1, le=10**9)] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = PAGE_SIZE,
) -> Filters:
    return Filters(_aware(created_since), _aware(created_until), _aware(modified_since),
                   _aware(modified_until), page, limit)


def _page(request: Request, records: list[OParlRecord], chosen: Filters,
          render: Callable[[OParlRecord], JSON]) -> JSON:
    kept = [r for r in records if chosen.keeps(r)]
    total_pages = max(1, math.ceil(len(kept) / chosen.limit))
    start = (chosen.page - 1) * chosen.limit
    here = str(request.url.replace(query=None))
    links = {
        "first": f"{here}?{chosen.query(1)}",
        "last": f"{here}?{chosen.query(total_pages)}",
    }
    if chosen.page > 1:
        links["prev"] = f"{here}?{chosen.query(min(chosen.page - 1, total_pages))}"
    if chosen.page < total_pages:
        links["next"] = f"{here}?{chosen.query(chosen.page + 1)}"
    return {
        "data": [render(r) for r in kept[start:start + chosen.limit]],
        "pagination": {"totalElements": len(kept), "elementsPerPage": chosen.limit,
                       "currentPage": chosen.page, "totalPages": total_pages},
        "links": links,
    }


@router.get("/system", summary="The OParl system: the entry point")
async def system(request: Request, account: CurrentAccount) -> JSON:
    """The OParl 1.1 System object: where an OParl client starts; every other object is
    reached by following links from here."""
    def answer() -> JSON:
        with _reading(request) as renderer:
            return renderer.system()
    return await run_in_threadpool(answer)


@router.get("/bodies", summary="Every Body (one per organisation)")
async def bodies(request: Request, account: CurrentAccount,
                 chosen: Annotated[Filters, Depends(filters)]) -> JSON:
    """Every Body (one per organisation of the ledger), paged and filtered as OParl lists."""
    def answer() -> JSON:
        with _reading(request) as renderer:
            records = [renderer.c.records[o] for o in renderer.c.bodies]
            return _page(request, records, chosen, renderer.render)
    return await run_in_threadpool(answer)


@router.get("/body/{body}/{kind}", summary="A Body's list of objects of one type")
async def body_list(request: Request, account: CurrentAccount, body: str, kind: str,
                    chosen: Annotated[Filters, Depends(filters)]) -> JSON:
    """A Body's objects of one type (organizations, persons, memberships, meetings,
    agenda-items, papers, consultations, files) in a stable order, paged, filtered by
    created/modified time; voided ones as deleted objects when ``modified_since`` is given."""
    if kind not in LIST_TYPES:
        raise HTTPException(404, f"no OParl list {kind!r}")

    def answer() -> JSON:
        with _reading(request) as renderer:
            if renderer.c.get("Body", body) is None:
                raise HTTPException(404, f"no OParl body {body!r}")
            return _page(request, renderer.c.listing(LIST_TYPES[kind], body), chosen,
                         renderer.render)
    return await run_in_threadpool(answer)


@router.get("/organization/{organization}/meetings", summary="An Organization's meetings")
async def organization_meetings(request: Request, account: CurrentAccount, organization: str,
                                chosen: Annotated[Filters, Depends(filters)]) -> JSON:
    """The meetings of one Organization (a body of an organisation), as an OParl list."""
    def answer() -> JSON:
        with _reading(request) as renderer:
            found = renderer.c.get("Organization", organization)
            if found is None or found.body is None:
                raise HTTPException(404, f"no OParl organization {organization!r}")
            meetings = [m for m in renderer.c.listing("Meeting", found.body)
                        if renderer.meeting_organization(m) == organization]
            return _page(request, meetings, chosen, renderer.render)
    return await run_in_threadpool(answer)


@router.get("/{kind}/{object_id}", summary="One OParl object")
async def one(request: Request, account: CurrentAccount, kind: str, object_id: str) -> JSON:
    """One OParl object at its own URL (a voided one as a deleted object)."""
    if kind not in TYPES:
        raise HTTPException(404, f"no OParl object type {kind!r}")

    def answer() -> JSON:
        with _reading(request) as renderer:
            record = renderer.c.get(TYPES[kind], object_id)
            if record is None:
                raise HTTPException(404, f"no OParl {TYPES[kind]} {object_id!r}")
            return renderer.render(record)
    return await run_in_threadpool(answer)
