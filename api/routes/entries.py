"""Auditor routes: the history of one entry (a matter, agreement, recommendation, ...)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Request, Response

from api.auth import CurrentAccount
from api.redaction import shown
from api.routes.feed import to_item
from ledger.application import Ledger
from ledger.domain.base import entity_id
from ledger.domain.matter import CaseNumber, case_number_id
from ledger.handlers import ENTRY_CLASSES

router = APIRouter(prefix="/v1", tags=["auditor"])


def _history(request: Request, response: Response, aggregate_id: UUID,
             account: CurrentAccount) -> dict[str, Any]:
    ledger: Ledger = request.app.state.ledger
    found = ledger.entry_with_history(aggregate_id)
    if found is None or isinstance(found[0], CaseNumber):
        raise HTTPException(404, f"no entry {aggregate_id}")
    aggregate, entries = found
    events = [to_item(entry, account) for entry in shown(entries, account)]
    response.headers["ETag"] = f'"{aggregate.version}"'
    return {
        "id": str(aggregate.id),
        "kind": aggregate.kind,
        "ref": aggregate.ref,
        "version": aggregate.version,
        "voided": aggregate.voided,
        "events": [e.model_dump(mode="json") for e in events],
    }


@router.get("/entries/{entry_id}", summary="The history of one entry, by id")
def entry_history(request: Request, response: Response, entry_id: UUID,
                  account: CurrentAccount) -> dict[str, Any]:
    """Every event of one entry (a matter, decision, agreement, ...) by its id, oldest first, with
    corrections and voidings. The `ETag` is the entry's version, for `If-Match` on the next
    write."""
    return _history(request, response, entry_id, account)


@router.get("/history/{kind}/{ref:path}", summary="The history of one entry, by reference")
def history_by_ref(
    request: Request, response: Response, account: CurrentAccount,
    kind: Annotated[str, Path(description=f"One of: {', '.join(ENTRY_CLASSES)}")],
    ref: Annotated[str, Path(description="e.g. RJH, Hemsjukvårdsavtalet, RJH:RS/203/2021")],
) -> dict[str, Any]:
    """Every event of one entry named by its kind and reference (for example `decision` and
    `RJH/RS/2021-03-25 §58`), oldest first. The `ETag` is the entry's version."""
    if kind not in ENTRY_CLASSES:
        raise HTTPException(404, f"no kind {kind!r}; one of {', '.join(ENTRY_CLASSES)}")
    ledger: Ledger = request.app.state.ledger
    if kind == "matter":
        organisation, _, dnr = ref.partition(":")
        index = ledger.aggregate(case_number_id(organisation, dnr))
        if not isinstance(index, CaseNumber):
            raise HTTPException(404, f"no matter with case number {ref!r}")
        return _history(request, response, index.matter_id, account)
    return _history(request, response, entity_id(kind, ref), account)
