"""Integrity routes: the log's public key, signed checkpoints, proofs, receipts and exports.

Everything an auditor needs to check the ledger without trusting this service: pin the
public key, keep checkpoints, ask for inclusion and consistency proofs (RFC 9162) and
check them locally, and download an export for ``samsyn verify``. Hashes are lowercase hex;
checkpoint notes are the C2SP signed notes verbatim (docs/integrity.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from api.auth import Auditor, CurrentAccount
from api.problems import problem
from api.routes import MAX_POSITION
from ledger.application import Ledger
from ledger.integrity.checkpoint import parse_vkey
from ledger.integrity.cosignature import Policy
from ledger.integrity.errors import IntegrityError, TreeError
from ledger.integrity.log import (
    ExportRangeError,
    InclusionReceipt,
    IntegrityLog,
    LogDamaged,
    NotSealed,
    StoredCheckpoint,
)
from ledger.integrity.sealer import Sealer
from ledger.integrity.witnessing import WitnessEndpoint, attestation

router = APIRouter(prefix="/v1/integrity", tags=["auditor"])

MAX_WAIT_SECONDS = 10.0

STATUS: dict[type[IntegrityError], int] = {
    NotSealed: 404,
    TreeError: 422,
    ExportRangeError: 422,
    LogDamaged: 500,
}


def _refuse(error: IntegrityError) -> JSONResponse:
    """An integrity refusal as a problem document, with its own kind."""
    status = next((STATUS[c] for c in type(error).__mro__ if c in STATUS), 500)
    return problem(status, error.kind, error.title, str(error))


def _log(request: Request) -> IntegrityLog:
    integrity: IntegrityLog | None = getattr(request.app.state, "integrity", None)
    if integrity is None:
        raise HTTPException(503, "the integrity log is not running", headers={"Retry-After": "5"})
    return integrity


def _sealer(request: Request) -> Sealer | None:
    sealer: Sealer | None = getattr(request.app.state, "sealer", None)
    return sealer


class PublicKey(BaseModel):
    origin: str = Field(description="The log's name; first line of every checkpoint.")
    public_key: str = Field(
        description="The signed-note verifier key to pin: <name>+<key id>+<base64 key>."
    )
    key_id: str = Field(description="The 4-byte key ID, hex.")


class CheckpointOut(BaseModel):
    tree_size: int
    root_hash: str = Field(description="Root hash, hex (the note carries it in base64).")
    issued_at: datetime
    note: str = Field(description="The signed checkpoint note, verbatim.")


class CheckpointList(BaseModel):
    items: list[CheckpointOut]
    latest_tree_size: int | None = Field(description="Size of the latest checkpoint, if any.")


class InclusionProof(BaseModel):
    position: int
    leaf_index: int
    leaf_hash: str
    tree_size: int
    root_hash: str
    proof: list[str] = Field(description="Audit path, hex, from the leaf's sibling up.")
    checkpoint: str | None = Field(description="The signed note of that tree size, if any.")


class LeafProof(InclusionProof):
    leaf: str = Field(
        description="The entry's canonical leaf, exactly the bytes the log hashed (UTF-8 "
        "JSON, ASCII only): SHA-256(0x00 || leaf) must equal leaf_hash, and the proof must "
        "lead from it to the signed root.")


class ConsistencyProof(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]
    first_checkpoint: str | None
    second_checkpoint: str | None


class WitnessesOut(BaseModel):
    witnesses: list[str] = Field(description="Names of the witnesses the log asks.")
    keys: list[str] = Field(description="Their cosignature/v1 verifier keys, in that order.")
    quorum: int = Field(description="Cosignatures a checkpoint needs to count as attested.")
    latest_tree_size: int | None
    latest_cosigned_by: list[str]
    attested_tree_size: int | None = Field(
        description="The latest checkpoint cosigned by at least `quorum` witnesses.")
    attested_by: list[str]


def policy_of(request: Request) -> Policy | None:
    """The witness policy of the service's settings (None when no witness is configured)."""
    witnesses = request.app.state.settings.witnesses
    if not witnesses:
        return None
    endpoints = [WitnessEndpoint.parse(w) for w in witnesses]
    return Policy(tuple(e.key for e in endpoints),
                  request.app.state.settings.witness_quorum or len(endpoints))


def _checkpoint_out(checkpoint: StoredCheckpoint) -> CheckpointOut:
    return CheckpointOut(
        tree_size=checkpoint.tree_size,
        root_hash=checkpoint.root_hash.hex(),
        issued_at=checkpoint.issued_at,
        note=checkpoint.note,
    )


def receipt_out(receipt: InclusionReceipt) -> InclusionProof:
    return InclusionProof(
        position=receipt.position,
        leaf_index=receipt.leaf_index,
        leaf_hash=receipt.leaf_hash.hex(),
        tree_size=receipt.tree_size,
        root_hash=receipt.root_hash.hex(),
        proof=[h.hex() for h in receipt.proof],
        checkpoint=receipt.checkpoint,
    )


def _seal_now(request: Request, integrity: IntegrityLog) -> None:
    """Catch up with the ledger: through the sealer if it runs here, else directly."""
    sealer = _sealer(request)
    if sealer is not None:
        sealer.tick()
    else:
        integrity.seal_all(request.app.state.ledger)


_REFUSALS: dict[int | str, dict[str, Any]] = {404: {}, 422: {}}


@router.get("/witnesses", response_model=WitnessesOut,
            summary="The witnesses, the policy, and how far they attest the log")
def witnesses(request: Request, account: CurrentAccount) -> WitnessesOut:
    """The principals' witnesses the log asks to cosign each checkpoint (their names and
    cosignature/v1 keys), how many must cosign (the quorum), who cosigned the latest
    checkpoint, and the latest checkpoint cosigned by at least the quorum."""
    policy = policy_of(request) or Policy((), 0)
    found = attestation(_log(request), policy)
    return WitnessesOut(
        witnesses=list(found.witnesses), keys=[w.vkey for w in policy.witnesses],
        quorum=found.quorum, latest_tree_size=found.latest_tree_size,
        latest_cosigned_by=list(found.latest_cosigned_by),
        attested_tree_size=found.attested_tree_size, attested_by=list(found.attested_by),
    )


@router.get("/public-key", response_model=PublicKey, summary="The log's public key, to pin")
def public_key(request: Request) -> PublicKey:
    """The integrity log's Ed25519 verifier key as a signed-note key (`origin+keyid+base64`). Pin
    it once and verify every checkpoint and export against it."""
    integrity = _log(request)
    key_id = parse_vkey(integrity.public_key).key_id.hex()
    return PublicKey(origin=integrity.origin, public_key=integrity.public_key, key_id=key_id)


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    summary="The latest signed checkpoint, as a plain note (for tlog tooling)",
    responses={200: {"content": {"text/plain": {}}}, 404: {}},
)
def latest_note(request: Request, account: CurrentAccount) -> Response:
    """The latest signed checkpoint as a plain-text signed note (C2SP tlog-checkpoint), for
    transparency-log tooling."""
    latest = _log(request).latest_checkpoint()
    if latest is None:
        raise HTTPException(404, "no checkpoint has been issued yet")
    return PlainTextResponse(latest.note, headers={"Cache-Control": "no-cache"})


@router.get(
    "/checkpoints/latest",
    response_model=CheckpointOut,
    summary="The latest signed checkpoint",
    responses={404: {}},
)
def latest_checkpoint(request: Request, account: CurrentAccount) -> CheckpointOut:
    """The latest signed checkpoint: tree size, root hash, time and the signed note."""
    latest = _log(request).latest_checkpoint()
    if latest is None:
        raise HTTPException(404, "no checkpoint has been issued yet")
    return _checkpoint_out(latest)


@router.get("/checkpoints", response_model=CheckpointList, summary="The kept checkpoints")
def list_checkpoints(
    request: Request,
    account: CurrentAccount,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_POSITION, description="Only tree sizes above this.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CheckpointList:
    """The checkpoints kept, oldest first, paged."""
    integrity = _log(request)
    latest = integrity.latest_checkpoint()
    items = integrity.checkpoints(after_size=after, limit=limit)
    return CheckpointList(
        items=[_checkpoint_out(c) for c in items],
        latest_tree_size=latest.tree_size if latest is not None else None,
    )


@router.get(
    "/checkpoints/{tree_size}",
    response_model=CheckpointOut,
    summary="The checkpoint of one tree size",
    responses={404: {}},
)
def checkpoint_of_size(
    request: Request, account: CurrentAccount,
    tree_size: Annotated[int, Path(ge=0, le=MAX_POSITION)],
) -> CheckpointOut:
    """The checkpoint signed at one tree size. 404 when none was signed at that size."""
    found = _log(request).checkpoint_at(tree_size)
    if found is None:
        raise HTTPException(404, f"no checkpoint of tree size {tree_size}")
    return _checkpoint_out(found)


@router.post(
    "/checkpoints",
    response_model=CheckpointOut,
    summary="Seal what is stored and sign a checkpoint now",
    responses={200: {"description": "The tree has not grown: the latest checkpoint"},
               201: {"description": "A new checkpoint"}},
    status_code=201,
)
def issue_checkpoint(request: Request, response: Response, account: Auditor) -> Any:
    """Seal every stored entry into the integrity log and sign a checkpoint now (auditors and
    administrators). 201 with the new checkpoint; 200 with the latest when the tree has not
    grown."""
    integrity = _log(request)
    try:
        before = integrity.latest_checkpoint()
        _seal_now(request, integrity)
        integrity.issue_checkpoint()
    except IntegrityError as e:
        return _refuse(e)
    latest = integrity.latest_checkpoint()
    assert latest is not None
    if before is not None and before.tree_size == latest.tree_size:
        response.status_code = 200
    return _checkpoint_out(latest)


@router.get(
    "/proofs/inclusion",
    response_model=InclusionProof,
    summary="Inclusion proof of the entry at a position in a signed tree",
    responses=_REFUSALS,
)
def inclusion_proof(
    request: Request,
    account: CurrentAccount,
    position: Annotated[int, Query(ge=1, le=MAX_POSITION, description="The entry's position.")],
    tree_size: Annotated[
        int | None,
        Query(ge=1, le=MAX_POSITION, description="Tree size (default: latest checkpoint)."),
    ] = None,
) -> Any:
    """The RFC 9162 inclusion proof of the entry at `position` in the tree of `tree_size`
    (default: the latest checkpoint's)."""
    try:
        return receipt_out(_log(request).receipt(position, tree_size))
    except IntegrityError as e:
        return _refuse(e)


@router.get(
    "/leaves/{position}",
    response_model=LeafProof,
    summary="An entry's exact leaf bytes with its inclusion proof in a signed tree",
    responses=_REFUSALS,
)
def leaf(
    request: Request,
    account: Auditor,
    position: Annotated[int, Path(ge=1, le=MAX_POSITION)],
    tree_size: Annotated[
        int | None,
        Query(ge=1, le=MAX_POSITION, description="Tree size (default: latest checkpoint)."),
    ] = None,
) -> Any:
    """For auditors (the leaf carries who recorded the entry): hash ``leaf`` yourself,
    check the proof against the checkpoint's root and the checkpoint against the pinned
    key, e.g. with ``verify_samsyn.py inclusion``. A row changed since it was sealed shows
    as a leaf that no longer hashes to ``leaf_hash``."""
    integrity = _log(request)
    try:
        receipt = integrity.receipt(position, tree_size)
        data = integrity.leaf_data(position, request.app.state.ledger)
    except IntegrityError as e:
        return _refuse(e)
    return LeafProof(**receipt_out(receipt).model_dump(), leaf=data.decode("ascii"))


@router.get(
    "/proofs/consistency",
    response_model=ConsistencyProof,
    summary="Consistency proof between two tree sizes",
    responses=_REFUSALS,
)
def consistency_proof(
    request: Request,
    account: CurrentAccount,
    first: Annotated[int, Query(ge=0, le=MAX_POSITION, description="The older tree size.")],
    second: Annotated[int, Query(ge=0, le=MAX_POSITION, description="The newer tree size.")],
) -> Any:
    """The RFC 9162 consistency proof between the trees of sizes `first` and `second`: the later
    tree extends the earlier one."""
    integrity = _log(request)
    try:
        proof = integrity.consistency_proof(first, second)
        first_root, second_root = integrity.root_at(first), integrity.root_at(second)
    except IntegrityError as e:
        return _refuse(e)
    first_cp, second_cp = integrity.checkpoint_at(first), integrity.checkpoint_at(second)
    return ConsistencyProof(
        first=first,
        second=second,
        first_root=first_root.hex(),
        second_root=second_root.hex(),
        proof=[h.hex() for h in proof],
        first_checkpoint=first_cp.note if first_cp is not None else None,
        second_checkpoint=second_cp.note if second_cp is not None else None,
    )


@router.get(
    "/receipts/{position}",
    response_model=InclusionProof,
    summary="Wait until an entry is sealed and signed; its inclusion receipt",
    responses={**_REFUSALS, 503: {}},
)
def receipt(
    request: Request,
    account: CurrentAccount,
    position: Annotated[int, Path(ge=1, le=MAX_POSITION)],
    wait: Annotated[
        float, Query(ge=0, le=MAX_WAIT_SECONDS, description="Seconds to wait at most.")
    ] = 5.0,
) -> Any:
    """Ask right after an append (the receipt of the append names the positions): the
    answer is the entry's inclusion proof in a checkpoint signed after it was sealed."""
    integrity = _log(request)
    ledger: Ledger = request.app.state.ledger
    if position > ledger.max_position():
        return _refuse(NotSealed(f"no entry is stored at position {position}"))
    sealer = _sealer(request)
    try:
        if sealer is None:  # no sealer in this process: seal and sign here
            integrity.seal_all(ledger)
            leaf_index, _ = integrity.leaf(position)
            latest = integrity.latest_checkpoint()
            if latest is None or latest.tree_size <= leaf_index:
                integrity.issue_checkpoint()
            return receipt_out(integrity.receipt(position))
        return receipt_out(sealer.receipt(position, timeout=wait))
    except IntegrityError as e:
        return _refuse(e)
    except TimeoutError as e:
        raise HTTPException(503, f"not sealed yet: {e}", headers={"Retry-After": "1"}) from e


@router.get(
    "/export",
    summary="Export the ledger for offline verification (JSON Lines)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}, 422: {}},
)
def export(
    request: Request,
    account: Auditor,
    from_position: Annotated[
        int | None,
        Query(alias="from", ge=0, le=MAX_POSITION,
              description="First position (format v1 exports start at the first entry)."),
    ] = None,
    to_position: Annotated[
        int | None,
        Query(alias="to", ge=0, le=MAX_POSITION,
              description="Last position; rounded down to a checkpoint."),
    ] = None,
) -> Response:
    """Up to the latest checkpoint (POST /checkpoints first for an up-to-date one). Check
    it with ``samsyn verify FILE --key <public key>``."""
    integrity = _log(request)
    try:
        plan = integrity.plan_export(from_position, to_position)
    except IntegrityError as e:
        return _refuse(e)
    lines: Iterator[str] = integrity.export_lines(plan, ledger=request.app.state.ledger)
    filename = f"samsyn-export-{plan.tree_size}.jsonl"
    return StreamingResponse(
        lines,
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{filename}"',
                 "X-Samsyn-Tree-Size": str(plan.tree_size)},
    )
