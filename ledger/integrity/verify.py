"""The offline export format: its writer, and the verifier auditors run without our server.

An export is JSON Lines (UTF-8, each line one JSON object ending in ``\\n``)::

    {"format":"samsyn-export","version":2,"origin":"<log origin>","public_key":"<vkey>"}
    {"kind":"entry","leaf_index":0,"leaf_hash":"<64 lowercase hex>","entry":<the leaf>}
    …
    {"kind":"checkpoint","note":"<signed checkpoint note>"}
    {"kind":"key-rotation","note":"<signed rotation statement>"}   (rare; see ``rotation``)

Rules the verifier enforces (docs/integrity.md is the full specification):

* exactly the members shown, no duplicates, JSON types as shown (integers are integers);
* ``entry`` is the entry's canonical leaf (``canonical.py``), a JSON object in one fixed
  form, embedded byte for byte as the sealer hashed it;
* entries carry leaf indexes 0, 1, 2, … in order, and strictly increasing positions;
* a checkpoint of size N comes right after the entry with leaf index N-1 (after the
  header when N is 0); every checkpoint is signed by the header's key, names the header's
  origin, and its root equals the root recomputed from the entries before it;
* a key rotation comes right after the checkpoint of the size it names, is signed by the
  key in force and by the new key, and later checkpoints are signed by the new key;
* the last checkpoint covers every entry.

``leaf_hash`` is the hash the sealer recorded when it sealed the entry, not one the
exporter recomputed. It adds no security (the signed roots do that) but lets the verifier
name the exact entry whose content changed after sealing. If someone rewrote the sealed
hashes too, the signed roots still expose it, and the verifier names the range between the
last checkpoint that matched and the first that did not.

The verifier trusts nothing in the file: the header's key is only as good as the auditor's
reason to believe it, so auditors should pin the key (``trusted_vkey``) or keep a
checkpoint from an earlier audit (``trusted_checkpoint``).

How it is fast: lines are digested in blocks by ``_digest_block``: find the leaf on the line,
hash it as it stands, compare with the sealed hash. That needs no state, so blocks can be
digested in worker processes. Everything that depends on order (leaf sequence, positions,
the Merkle tree, checkpoints, naming the first problem) happens in one place, ``_Verifier``,
in line order, whichever way the blocks were digested; findings are therefore identical in
both modes.
"""

from __future__ import annotations

import binascii
import gc
import hashlib
import itertools
import json
import multiprocessing
import os
import re
import threading
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult
from typing import Any, NoReturn

from .canonical import (
    LEAF_FORMAT,
    LEAF_MEMBERS,
    LEAF_PREFIX,
    LedgerEntry,
    leaf_data_encoded,
    validate_encoded,
)
from .checkpoint import Checkpoint, VerifierKey, parse_and_verify_checkpoint, parse_vkey
from .errors import (
    CheckpointFormatError,
    CheckpointSignatureError,
    ExportVerificationError,
    ExportWriteError,
    Finding,
    FindingKind,
    KeyFormatError,
    KeyIdentityError,
)
from .merkle import EMPTY_ROOT, MerkleAccumulator, range_subtrees, verify_consistency
from .rotation import KeyRotation, parse_rotation

FORMAT_NAME = "samsyn-export"
FORMAT_VERSION = 2

PROGRESS_EVERY = 4096
"""The progress callback is called once each time this many more entries have passed."""

PARALLEL_MIN_BYTES = 16 << 20
"""Exports smaller than this are verified in-process: starting workers would cost more."""

_MAX_PENDING = 1_000_000
"""Entries since the last matching checkpoint kept for diagnosis (~70 MB). Past this, an
out-of-order entry may be named less precisely; detection is unaffected."""

_READ_BYTES = 1 << 20  # in-process reading: bytes per block
_RANGE_BYTES = 4 << 20  # parallel reading: bytes per worker task

HEADER_KEYS = frozenset({"format", "version", "origin", "public_key"})
ENTRY_KEYS = frozenset({"kind", "leaf_index", "leaf_hash", "entry"})
LEAF_KEYS = frozenset(LEAF_MEMBERS)
CHECKPOINT_KEYS = frozenset({"kind", "note"})
ROTATION_KEYS = frozenset({"kind", "note"})
ROTATION_KIND = "key-rotation"

# Objects decode to tuples of (name, value) pairs so duplicate names can be refused: a line
# with two "state_b64" members would mean different things to different JSON parsers.
# (Tuples, not lists, so that a JSON array of pairs cannot pass for an object.)
_decode_json = json.JSONDecoder(object_pairs_hook=tuple).raw_decode
_SEALED_HASH = re.compile(rb"[0-9a-f]{64}")


# -- writing ---------------------------------------------------------------------------------


_ENTRY_LINE = '{"kind":"entry","leaf_index":%d,"leaf_hash":"%s","entry":%s}\n'


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"


def header_line(origin: str, vkey: str) -> str:
    """The first line of an export."""
    return _dumps(
        {"format": FORMAT_NAME, "version": FORMAT_VERSION, "origin": origin, "public_key": vkey}
    )


def entry_line(leaf_index: int, entry: LedgerEntry, leaf_hash: bytes) -> str:
    """One entry line; ``leaf_hash`` should be the hash recorded when the entry was sealed.

    The leaf is written byte for byte (it is ASCII), so the verifier can hash it as it reads it.
    """
    return _ENTRY_LINE % (leaf_index, leaf_hash.hex(), entry.leaf_data().decode("ascii"))


def checkpoint_line(note: str) -> str:
    """One checkpoint line carrying a signed checkpoint note verbatim."""
    return _dumps({"kind": "checkpoint", "note": note})


def rotation_line(statement: str) -> str:
    """One key-rotation line carrying a signed rotation statement verbatim (``rotation``)."""
    return _dumps({"kind": ROTATION_KIND, "note": statement})


def export_lines(
    entries: Iterable[LedgerEntry],
    checkpoints: Iterable[str],
    vkey: str,
    origin: str,
    *,
    sealed_leaf_hashes: Iterable[bytes] | None = None,
) -> Iterator[str]:
    """The lines of an export of ``entries`` (in leaf order, from leaf 0), each ending in \\n.

    Each checkpoint is verified with ``vkey`` and placed right after the entry that
    completes its tree size; the largest must cover every entry, so export entries up to
    the latest checkpoint only. Pass the sealer's recorded leaf hashes as
    ``sealed_leaf_hashes`` so the verifier can name altered entries; without them the
    hashes are recomputed from the entries, which proves nothing about them.
    Raises ``ExportWriteError`` when the result could not verify.
    """
    key = parse_vkey(vkey)
    parsed: list[Checkpoint] = []
    for note in checkpoints:
        checkpoint = parse_and_verify_checkpoint(note, key)
        if checkpoint.origin != origin:
            raise ExportWriteError(
                f"checkpoint for origin {checkpoint.origin!r} in an export of {origin!r}"
            )
        parsed.append(checkpoint)
    if not parsed:
        raise ExportWriteError("an export needs at least one checkpoint")
    parsed.sort(key=lambda c: c.tree_size)
    final_size = parsed[-1].tree_size
    hashes = iter(sealed_leaf_hashes) if sealed_leaf_hashes is not None else None

    yield header_line(origin, key.vkey)
    pending = 0
    while pending < len(parsed) and parsed[pending].tree_size == 0:
        yield checkpoint_line(parsed[pending].text)
        pending += 1
    count = 0
    for entry in entries:
        if count >= final_size:
            raise ExportWriteError(
                f"entry {count} lies beyond the latest checkpoint (size {final_size})"
            )
        if hashes is None:
            sealed = entry.leaf_hash()
        else:
            sealed = next(hashes, b"")
            if len(sealed) != 32:
                raise ExportWriteError(f"no sealed 32-byte leaf hash for entry {count}")
        yield entry_line(count, entry, sealed)
        count += 1
        while pending < len(parsed) and parsed[pending].tree_size == count:
            yield checkpoint_line(parsed[pending].text)
            pending += 1
    if count < final_size:
        raise ExportWriteError(f"checkpoint of size {final_size} but only {count} entries")


def write_export(
    path: str | os.PathLike[str],
    entries: Iterable[LedgerEntry],
    checkpoints: Iterable[str],
    vkey: str,
    origin: str,
    *,
    sealed_leaf_hashes: Iterable[bytes] | None = None,
) -> None:
    """Write ``export_lines(...)`` to a new file at ``path`` (UTF-8, ``\\n`` line ends)."""
    with open(path, "x", encoding="utf-8", newline="\n") as f:
        f.writelines(
            export_lines(entries, checkpoints, vkey, origin, sealed_leaf_hashes=sealed_leaf_hashes)
        )


# -- digesting lines (stateless; runs in worker processes too) --------------------------------


# A line exactly as ``entry_line`` writes it is, byte for byte:
#   {"kind":"entry","leaf_index":<digits>,"leaf_hash":"<64 hex>","entry":<leaf>}
# and the leaf starts with LEAF_PREFIX then the position's digits. The fast path finds those
# boundaries, hashes the leaf as it stands and compares with the sealed hash; a match vouches
# for the entry (and a leaf that was not canonical could only match a hash the sealer never
# wrote, which the signed roots then expose). Every other line, including an entry merely
# re-spaced or re-ordered, takes the JSON path, which checks it strictly.
_LINE_START = b'{"kind":"entry","leaf_index":'
_HASH_START = b',"leaf_hash":"'
_LEAF_START = b'","entry":' + LEAF_PREFIX
_LINE_END = b"}}\n"
_DIGITS_AT = len(_LINE_START)
_HASH_AT = len(_HASH_START)  # from the comma after the leaf index
_LEAF_AT = len(_HASH_START) + 64  # from the comma after the leaf index
_LEAF_FROM = len(b'","entry":')  # from _LEAF_AT to the leaf's first byte
_POSITION_FROM = len(_LEAF_START)  # from _LEAF_AT to the position's first digit
_LEAF_HASH_START = hashlib.sha256(b"\x00")  # copied for each leaf: SHA-256(0x00 || leaf)


@dataclass(slots=True)
class _Run:
    """Consecutive lines that are entries vouched for: their content matches their sealed
    hash, their leaf indexes count up by one and their positions increase.

    ``subtrees`` is the Merkle tree over the run's leaves as aligned perfect subtrees
    (``merkle.range_subtrees``), hashed where the run was digested; ``hashes`` holds the
    leaf hashes, 32 bytes each, only for naming entries when something goes wrong.
    """

    offset: int
    """Offset of the run's first line in its block."""
    first_index: int
    positions: list[int]
    hashes: bytes
    subtrees: list[tuple[int, bytes]]


@dataclass(slots=True)
class _Block:
    """Consecutive export lines, digested: runs of entries vouched for, and the rest verbatim.

    ``items`` are in line order: a ``_Run``, or an ``(offset, line)`` pair for every other
    line, which the JSON path judges. ``cut`` says the last line had no newline, i.e. the
    export ends mid-line.
    """

    line_count: int
    items: list[_Run | tuple[int, bytes]]
    cut: bool


def _make_run(offset: int, first_index: int, positions: list[int], hashes: list[bytes]) -> _Run:
    subtrees = range_subtrees(first_index, hashes)
    return _Run(offset, first_index, positions, b"".join(hashes), subtrees)


def _digest_block(data: bytes, cut: bool) -> _Block:
    """Digest ``data``: whole lines, each ending in a newline, and if ``cut`` one more line
    without (the export ends mid-line). See ``_Block``. Pure: safe in any process.

    Lines are looked at in place, never split out: an entry's leaf is hashed straight from
    ``data`` through a memoryview, which spares two copies of every line.
    """
    items: list[_Run | tuple[int, bytes]] = []
    add_item = items.append
    find, startswith, view = data.find, data.startswith, memoryview(data)
    new_hash, hexlify = _LEAF_HASH_START.copy, binascii.hexlify
    line_start, hash_start, leaf_start, line_end = _LINE_START, _HASH_START, _LEAF_START, _LINE_END
    digits_at, hash_at, leaf_at = _DIGITS_AT, _HASH_AT, _LEAF_AT
    leaf_from, position_from = _LEAF_FROM, _POSITION_FROM
    # the run being gathered: it continues while lines keep extending it
    run_line = next_line = next_index = last_position = -1
    positions: list[int] = []
    hashes: list[bytes] = []
    at, line_no, size = 0, 0, len(data)
    while at < size:
        end = find(b"\n", at)
        if end < 0:  # the cut line, never vouched for
            end = size
        elif startswith(line_start, at):
            comma = find(b",", at + digits_at, end)
            leaf = comma + leaf_at
            position_end = find(b",", leaf + position_from, end)
            if (
                comma > 0
                and position_end > 0
                and startswith(hash_start, comma)
                and startswith(leaf_start, leaf)
                and startswith(line_end, end - 2)
            ):
                leaf_hash = new_hash()
                leaf_hash.update(view[leaf + leaf_from : end - 1])
                digest = leaf_hash.digest()
                index_digits = data[at + digits_at : comma]
                position_digits = data[leaf + position_from : position_end]
                # canonical digits only: what JSON reads as that integer, written one way
                if (
                    hexlify(digest) == data[comma + hash_at : leaf]
                    and index_digits.isdigit()
                    and (index_digits[0] != 48 or len(index_digits) == 1)
                    and position_digits.isdigit()
                    and (position_digits[0] != 48 or len(position_digits) == 1)
                ):
                    leaf_index = int(index_digits)
                    position = int(position_digits)
                    if not (
                        line_no == next_line
                        and leaf_index == next_index
                        and position > last_position
                    ):
                        if positions:
                            first = next_index - len(positions)
                            add_item(_make_run(run_line, first, positions, hashes))
                        run_line, positions, hashes = line_no, [], []
                    positions.append(position)
                    hashes.append(digest)
                    next_line, next_index, last_position = line_no + 1, leaf_index + 1, position
                    at = end + 1
                    line_no += 1
                    continue
        if positions:  # the run ends here; keep the items in line order
            add_item(_make_run(run_line, next_index - len(positions), positions, hashes))
            positions, hashes = [], []
        add_item((line_no, data[at:end]))
        at = end + 1
        line_no += 1
    if positions:
        add_item(_make_run(run_line, next_index - len(positions), positions, hashes))
    view.release()
    return _Block(line_no, items, cut)


def _split_chunks(chunks: Iterable[bytes]) -> Iterator[_Block]:
    """Digest a byte stream, given in chunks, block by block of whole lines."""
    rest = b""
    for chunk in chunks:
        data = rest + chunk if rest else chunk
        whole = data.rfind(b"\n") + 1
        rest = data[whole:]
        if whole:
            yield _digest_block(data[:whole] if rest else data, cut=False)
    if rest:
        yield _digest_block(rest, cut=True)


def _file_chunks(f: Any) -> Iterator[bytes]:
    while chunk := f.read(_READ_BYTES):
        yield chunk


def _grouped_chunks(items: Iterable[bytes] | Iterable[str]) -> Iterator[bytes]:
    """Caller-supplied lines or chunks, encoded and grouped into ~1 MiB chunks."""
    group: list[bytes] = []
    size = 0
    for item in items:
        data = item.encode() if isinstance(item, str) else bytes(item)
        group.append(data)
        size += len(data)
        if size >= _READ_BYTES:
            yield b"".join(group)
            group, size = [], 0
    if group:
        yield b"".join(group)


def _digest_range(path: str, start: int, end: int) -> _Block:
    """Worker task: digest the lines of the file that *start* within bytes [start, end).

    A line belongs to the range its first byte lies in, so ranges can be cut anywhere:
    a range skips the tail of a line begun before it and finishes the line it began.
    """
    with open(path, "rb") as f:
        if start > 0:
            f.seek(start - 1)
            f.readline()  # to the first line starting at or after `start`
        first = f.tell()
        if first >= end:
            return _Block(0, [], False)
        data = f.read(end - first)
        if not data.endswith(b"\n"):
            data += f.readline()
    # only at the end of the file can the last line lack its newline: the export was cut
    return _digest_block(data, cut=not data.endswith(b"\n"))


def _parallel_blocks(path: str, size: int, workers: int) -> Generator[_Block, None, None]:
    """Blocks of the file digested by ``workers`` processes, yielded in file order.

    At most two tasks per worker are in flight, so a slow consumer cannot make finished
    blocks pile up in memory. Workers are forked when the caller is single-threaded (fast
    to start, nothing re-imported) and spawned otherwise, since forking a threaded process
    can deadlock; spawning re-imports the caller's main module, which must then be guarded
    by ``if __name__ == "__main__"``. The pool is torn down when iteration ends or stops.
    """
    forkable = "fork" in multiprocessing.get_all_start_methods()
    method = "fork" if forkable and threading.active_count() == 1 else "spawn"
    with multiprocessing.get_context(method).Pool(workers, initializer=gc.disable) as pool:
        starts = iter(range(0, size, _RANGE_BYTES))
        in_flight: deque[AsyncResult[_Block]] = deque()
        for start in itertools.islice(starts, 2 * workers):
            in_flight.append(pool.apply_async(_digest_range, (path, start, start + _RANGE_BYTES)))
        while in_flight:
            block = in_flight.popleft().get()
            start = next(starts, -1)
            if start >= 0:
                in_flight.append(
                    pool.apply_async(_digest_range, (path, start, start + _RANGE_BYTES))
                )
            yield block


# -- verifying (in line order, in one process) ------------------------------------------------


@dataclass(frozen=True)
class VerificationReport:
    """What a successful verification established."""

    origin: str
    public_key: str
    """The export's verifier key (vkey string)."""
    key_pinned: bool
    """True if the key was checked against one the auditor supplied; if False, the export
    only proved itself consistent with a key it brought along."""
    entries: int
    """Number of entries, which is the tree size covered by the latest checkpoint."""
    root_hash: bytes
    checkpoints: int
    """Number of checkpoints whose signature and root were checked."""
    latest_checkpoint: Checkpoint
    first_position: int | None
    last_position: int | None
    trusted_checkpoint: Checkpoint | None
    trusted_relation: str | None
    """How the trusted checkpoint relates: "covered" (its root recomputed from the export)
    or "prefix-proven" (the export is proven a prefix of it by a consistency proof)."""
    rotations: tuple[KeyRotation, ...] = ()
    """Key rotations followed, in order: ``public_key`` is the key after the last one."""


def _no_progress(_: int) -> None:
    pass


class _Verifier:
    """One verification run over digested blocks; all order-dependent checks live here."""

    def __init__(
        self,
        trusted_vkey: str | None,
        trusted_checkpoint: str | None,
        consistency_proof: Sequence[bytes] | None,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.trusted_vkey = trusted_vkey
        self.trusted_text = trusted_checkpoint
        self.consistency_proof = consistency_proof
        self.progress = progress if progress is not None else _no_progress
        self.next_progress = PROGRESS_EVERY if progress is not None else -1
        self.origin = ""
        self.key: VerifierKey | None = None
        self.trusted: Checkpoint | None = None
        self.trusted_size = -1
        # where we are
        self.blocks: Iterator[_Block] = iter(())
        self.block = _Block(0, [], False)
        self.base_line = 0  # line number of the line before the current block
        self.cut = False  # the export ends mid-line (sticky: later blocks may be empty)
        self.line_no = 0
        self.count = 0
        self.last_position = -1
        self.first_position: int | None = None
        # the tree, and what we know about it
        self.acc = MerkleAccumulator()
        self.confirmed = 0  # leading entries proven by a matching checkpoint
        self.confirmed_acc = MerkleAccumulator()
        # entries since the last matching checkpoint: enough to name an entry, or recompute a
        # root, when something goes wrong; reset at every match
        self.pending_hashes = bytearray()
        self.pending_positions: list[int] = []
        self.checkpoints = 0
        self.latest: Checkpoint | None = None
        self.rotations: list[KeyRotation] = []
        self.unmet_pin: VerifierKey | None = None  # pinned, not yet met in the key chain
        self.trusted_problem: str | None = None

    # -- failing ----------------------------------------------------------------------------

    def fail(
        self,
        kind: FindingKind,
        detail: str,
        leaf_index: int | None = None,
        position: int | None = None,
        *,
        line: bool = True,
        confirmed: int | None = None,
    ) -> NoReturn:
        raise ExportVerificationError(
            Finding(
                kind=kind,
                detail=detail,
                line_number=self.line_no if line else None,
                leaf_index=leaf_index,
                position=position,
                confirmed_size=self.confirmed if confirmed is None else confirmed,
            )
        )

    # -- the run ----------------------------------------------------------------------------

    def run(self, blocks: Iterator[_Block]) -> VerificationReport:
        self.blocks = blocks
        for block in blocks:
            self.block = block
            self.cut = self.cut or block.cut
            self.consume(block)
            self.base_line += block.line_count
        return self.finish()

    def consume(self, block: _Block) -> None:
        """Take a block's items in line order: runs of vouched-for entries, and the rest."""
        base, last = self.base_line, block.line_count - 1
        for item in block.items:
            if isinstance(item, _Run):
                self.accept(item, base + item.offset + 1)
            else:
                offset, line = item
                self.line_no = base + offset + 1
                self.special(line, cut=block.cut and offset == last)

    def accept(self, run: _Run, first_line_no: int) -> None:
        """Append a run of entries whose content is already checked; check its place."""
        if self.key is None:
            self.line_no = first_line_no
            self.fail(FindingKind.MALFORMED, "the first line must be the export header")
        count = self.count
        self.line_no = first_line_no
        if run.first_index != count:
            self.leaf_index_anomaly(count, run.first_index)
        positions = run.positions
        if positions[0] <= self.last_position:
            self.position_anomaly(count, positions[0])
        if count == 0:
            self.first_position = positions[0]
        size = len(positions)
        end = count + size
        if count < self.trusted_size <= end:
            # the kept checkpoint's size falls in this run: its root, leaf by leaf
            acc = self.acc.copy()
            hashes = run.hashes
            for offset in range(0, (self.trusted_size - count) * 32, 32):
                acc.append(hashes[offset : offset + 32])
            self.line_no = first_line_no + self.trusted_size - count - 1
            self.check_trusted_root(acc.root())
        append_subtree = self.acc.append_subtree
        for height, root in run.subtrees:
            append_subtree(root, height)
        if len(self.pending_positions) < _MAX_PENDING:  # a soft cap, checked per run
            self.pending_hashes += run.hashes
            self.pending_positions.extend(positions)
        self.count = end
        self.last_position = positions[-1]
        if end >= self.next_progress >= 0:
            self.progress(end)
            self.next_progress = (end // PROGRESS_EVERY + 1) * PROGRESS_EVERY

    def special(self, line: bytes, *, cut: bool) -> None:
        """A line the fast path would not vouch for: the header, a checkpoint, or anything odd."""
        obj = self.parse_object(line, cut=cut)
        if self.key is None:
            self.read_header(obj)
            return
        kind = obj.get("kind")
        if kind == "checkpoint":
            self.checkpoint(obj)
        elif kind == "entry":
            self.accept(self.slow_entry(obj), self.line_no)
        elif kind == ROTATION_KIND:
            self.rotation(obj)
        else:
            self.fail(FindingKind.MALFORMED, f"unknown line kind {kind!r}")

    def parse_object(self, line: bytes, *, cut: bool) -> dict[str, Any]:
        try:
            text = line.decode()
            pairs, end = _decode_json(text)
        except (UnicodeDecodeError, ValueError) as exc:
            if cut:
                self.fail(FindingKind.UNSEALED, "the export is cut off in the middle of a line")
            self.fail(FindingKind.MALFORMED, f"not a JSON line: {exc}")
        if end != len(text) or type(pairs) is not tuple:
            self.fail(FindingKind.MALFORMED, "not exactly one JSON object on the line")
        obj = dict(pairs)
        if len(obj) != len(pairs):
            self.fail(FindingKind.MALFORMED, "duplicate member names")
        return obj

    def slow_entry(self, obj: dict[str, Any]) -> _Run:
        """Check an entry line that missed the fast path, naming exactly what is wrong."""
        count = self.count
        if obj.keys() != ENTRY_KEYS:
            self.fail(FindingKind.MALFORMED, "an entry line has exactly the entry members", count)
        leaf_index = obj["leaf_index"]
        if type(leaf_index) is not int:
            self.fail(FindingKind.MALFORMED, "leaf_index must be an integer", count)
        if leaf_index != count:
            self.leaf_index_anomaly(count, leaf_index)
        sealed = obj["leaf_hash"]
        if type(sealed) is not str or not _SEALED_HASH.fullmatch(sealed.encode()):
            self.fail(FindingKind.MALFORMED, "leaf_hash must be 64 lowercase hex digits", count)
        leaf = self.leaf_object(obj["entry"], count)
        position, version = leaf["position"], leaf["originator_version"]
        texts = (leaf["originator_id"], leaf["topic"], leaf["state_b64"], leaf["recorded_at"])
        if type(position) is not int or type(version) is not int:
            self.fail(FindingKind.MALFORMED, "position and originator_version are integers", count)
        if not all(type(v) is str for v in texts):
            self.fail(FindingKind.MALFORMED, "entry members other than integers are strings", count)
        try:
            oid, topic, state_b64, recorded_at = (str(v).encode() for v in texts)
            validate_encoded(position, oid, version, topic, recorded_at)
        except (UnicodeEncodeError, ValueError) as exc:  # also EncodingError
            self.fail(FindingKind.MALFORMED, f"entry {count}: {exc}", count)
        # the leaf as the sealer wrote it: the values in the one canonical form, state_b64
        # as read (if it is not the base64 the sealer wrote, the hash says so)
        data = leaf_data_encoded(position, oid, version, topic, state_b64, recorded_at)
        leaf_hash = hashlib.sha256(b"\x00" + data).digest()
        if leaf_hash.hex() != sealed:
            self.fail(
                FindingKind.ALTERED,
                "entry content does not match the leaf hash sealed for it "
                f"(sealed {sealed[:16]}…, content hashes to {leaf_hash.hex()[:16]}…)",
                count,
                position,
            )
        return _Run(0, leaf_index, [position], leaf_hash, [(0, leaf_hash)])

    def leaf_object(self, value: object, count: int) -> dict[str, Any]:
        """The ``entry`` member as a dict: an object with exactly the leaf's members."""
        if type(value) is not tuple:  # objects decode to tuples of pairs, see _decode_json
            self.fail(FindingKind.MALFORMED, "entry must be a JSON object", count)
        leaf = dict(value)
        if len(leaf) != len(value):
            self.fail(FindingKind.MALFORMED, "duplicate member names in entry", count)
        if leaf.keys() != LEAF_KEYS:
            self.fail(FindingKind.MALFORMED, "entry has exactly the leaf members", count)
        if leaf["format"] != LEAF_FORMAT:
            self.fail(FindingKind.MALFORMED, f"unknown leaf format {leaf['format']!r}", count)
        return leaf

    # -- header and trusted inputs ----------------------------------------------------------

    def read_header(self, obj: dict[str, Any]) -> None:
        if (
            obj.keys() != HEADER_KEYS
            or obj["format"] != FORMAT_NAME
            or type(obj["version"]) is not int
            or type(obj["origin"]) is not str
            or type(obj["public_key"]) is not str
        ):
            self.fail(FindingKind.MALFORMED, "the first line is not a samsyn-export header")
        if obj["version"] != FORMAT_VERSION:
            self.fail(FindingKind.MALFORMED, f"unsupported export version {obj['version']}")
        try:
            key = parse_vkey(obj["public_key"])
        except KeyFormatError as exc:
            self.fail(FindingKind.MALFORMED, f"bad public_key: {exc}")
        if self.trusted_vkey is not None:
            pinned = parse_vkey(self.trusted_vkey)
            if pinned != key:  # unless a rotation signed by the pinned key vouches for it
                self.unmet_pin = pinned
        self.origin = obj["origin"]
        self.key = key
        self.read_trusted()

    def read_trusted(self) -> None:
        if self.trusted_text is None:
            return
        assert self.key is not None
        try:
            trusted = parse_and_verify_checkpoint(self.trusted_text, self.key)
        except (CheckpointSignatureError, CheckpointFormatError, KeyFormatError) as exc:
            # perhaps signed by a key the log rotated to later: try again at each rotation
            self.trusted_problem = str(exc)
            return
        self.trusted_problem = None
        if trusted.origin != self.origin:
            self.fail(
                FindingKind.TRUSTED_MISMATCH,
                f"trusted checkpoint is for {trusted.origin!r}, export for {self.origin!r}",
                line=False,
            )
        self.trusted = trusted
        self.trusted_size = trusted.tree_size
        if trusted.tree_size == 0:
            self.check_trusted_root(EMPTY_ROOT)

    def check_trusted_root(self, root: bytes) -> None:
        trusted = self.trusted
        assert trusted is not None
        if root != trusted.root_hash:
            self.fail(
                FindingKind.TRUSTED_MISMATCH,
                f"the export's first {trusted.tree_size} entries do not hash to the root of "
                f"the trusted checkpoint of {trusted.timestamp:%Y-%m-%dT%H:%M:%SZ}: history "
                "was rewritten since then (or the log showed different views)",
                confirmed=0,
            )

    # -- naming what is out of order --------------------------------------------------------

    def leaf_index_anomaly(self, expected: int, found: object) -> NoReturn:
        """An entry with the wrong leaf index: is entry ``expected`` further on, or gone?"""
        later = self.find_entry(expected)
        if later is not None:
            later_line, later_position = later
            self.fail(
                FindingKind.REORDERED,
                f"expected leaf index {expected} here but found {found}; entry {expected} "
                f"appears out of order at line {later_line}",
                expected,
                later_position,
            )
        self.fail(
            FindingKind.MISSING,
            f"entry with leaf index {expected} is missing (found leaf index {found} instead)",
            expected,
        )

    def find_entry(self, leaf_index: int) -> tuple[int, int | None] | None:
        """(line number, position) of the entry with ``leaf_index`` in the current block or
        after it. Consumes the rest of the export: only called when failing anyway. Earlier
        lines of the current block hold only entries already accepted, with smaller indexes.
        """
        base = self.base_line
        for block in itertools.chain((self.block,), self.blocks):
            for item in block.items:
                if isinstance(item, _Run):
                    i = leaf_index - item.first_index
                    if 0 <= i < len(item.positions):
                        return base + item.offset + i + 1, item.positions[i]
                    continue
                offset, line = item
                try:
                    obj = dict(_decode_json(line.decode())[0])
                except (UnicodeDecodeError, ValueError, TypeError):
                    continue
                if obj.get("kind") == "entry" and obj.get("leaf_index") == leaf_index:
                    leaf = obj.get("entry")
                    position = dict(leaf).get("position") if type(leaf) is tuple else None
                    return base + offset + 1, position if type(position) is int else None
            base += block.line_count
        return None

    def position_anomaly(self, leaf_index: int, position: int) -> NoReturn:
        """Positions must increase; name the earliest entry that is out of place."""
        positions = self.pending_positions
        first = bisect_left(positions, position)  # earliest pending entry at or above it
        if first < len(positions):
            culprit, culprit_position = self.confirmed + first, positions[first]
        else:  # nothing pending: right after a matching checkpoint, so this entry is it
            culprit, culprit_position = leaf_index, position
        self.fail(
            FindingKind.REORDERED,
            f"position {position} at leaf index {leaf_index} does not follow position "
            f"{culprit_position} at leaf index {culprit}: entries are out of order",
            culprit,
            culprit_position,
        )

    # -- key rotations ----------------------------------------------------------------------

    def rotation(self, obj: dict[str, Any]) -> None:
        """A key rotation: right after the checkpoint it names, signed by both keys."""
        assert self.key is not None
        if obj.keys() != ROTATION_KEYS or type(obj["note"]) is not str:
            self.fail(FindingKind.MALFORMED, "a key-rotation line has exactly kind and note")
        try:
            rotation = parse_rotation(obj["note"], self.key)
        except KeyIdentityError as exc:
            self.fail(FindingKind.BAD_ROTATION, str(exc))
        if rotation.origin != self.origin:
            self.fail(FindingKind.BAD_ROTATION, f"key rotation of log {rotation.origin!r}")
        latest = self.latest
        if latest is None or latest.tree_size != self.count or rotation.tree_size != self.count:
            self.fail(
                FindingKind.BAD_ROTATION,
                f"the key rotation after size {rotation.tree_size} must follow the checkpoint "
                f"of that size (found after {self.count} entries)",
            )
        self.key = rotation.new
        self.rotations.append(rotation)
        if self.unmet_pin == rotation.new:
            self.unmet_pin = None
        if self.trusted is None and self.trusted_text is not None:
            self.read_trusted()

    # -- checkpoints ------------------------------------------------------------------------

    def checkpoint(self, obj: dict[str, Any]) -> None:
        assert self.key is not None
        if obj.keys() != CHECKPOINT_KEYS or type(obj["note"]) is not str:
            self.fail(FindingKind.MALFORMED, "a checkpoint line has exactly kind and note")
        try:
            cp = parse_and_verify_checkpoint(obj["note"], self.key)
        except CheckpointSignatureError as exc:
            self.fail(FindingKind.BAD_SIGNATURE, str(exc))
        except (CheckpointFormatError, KeyFormatError) as exc:
            self.fail(FindingKind.MALFORMED, f"malformed checkpoint: {exc}")
        if cp.origin != self.origin:
            self.fail(FindingKind.ORIGIN_MISMATCH, f"checkpoint of log {cp.origin!r}")
        count, size = self.count, cp.tree_size
        unconfirmed_position = self.pending_positions[0] if self.pending_positions else None
        if size == count:
            if self.acc.root() != cp.root_hash:
                if count > self.confirmed:
                    self.fail(
                        FindingKind.ROOT_MISMATCH,
                        f"entries {self.confirmed}..{count - 1} do not hash to the signed root "
                        f"of size {size}: they were rewritten together with their sealed hashes",
                        self.confirmed,
                        unconfirmed_position,
                    )
                self.fail(
                    FindingKind.ROOT_MISMATCH,
                    f"the log signed two different roots for size {size}",
                )
            self.confirmed = count
            self.confirmed_acc = self.acc.copy()
            del self.pending_hashes[:]
            self.pending_positions.clear()
            self.checkpoints += 1
            self.latest = cp
            return
        if size > count:
            self.fail(
                FindingKind.MISSING,
                f"checkpoint commits to {size} entries but only {count} precede it: entries "
                f"from leaf index {count} on are missing (or, if entries were renumbered, "
                f"some after leaf index {self.confirmed})",
                count,
            )
        # size < count: the checkpoint comes too late. Recompute the root it claims, to tell
        # a misplaced line from entries inserted before it (if the entries are still kept).
        if self.confirmed <= size <= self.confirmed + len(self.pending_positions):
            acc = self.confirmed_acc.copy()
            for offset in range(0, (size - self.confirmed) * 32, 32):
                acc.append(bytes(self.pending_hashes[offset : offset + 32]))
            if acc.root() != cp.root_hash:
                self.fail(
                    FindingKind.ROOT_MISMATCH,
                    f"entries {self.confirmed}..{size - 1} do not hash to the signed root of "
                    f"size {size} (checkpoint found after {count} entries: entries inserted?)",
                    self.confirmed,
                    unconfirmed_position,
                )
        self.fail(
            FindingKind.MALFORMED,
            f"checkpoint of size {size} must follow entry {size - 1}, found after entry "
            f"{count - 1}",
        )

    # -- the end ----------------------------------------------------------------------------

    def finish(self) -> VerificationReport:
        count = self.count
        if self.key is None:
            self.fail(FindingKind.MALFORMED, "empty export", line=False)
        if self.unmet_pin is not None:
            self.fail(
                FindingKind.KEY_MISMATCH,
                f"export is signed by {self.key.vkey}, not the pinned key "
                f"{self.unmet_pin.vkey} (nor handed over to it by a recorded rotation)",
                line=False,
            )
        if self.trusted_problem is not None:
            self.fail(
                FindingKind.TRUSTED_MISMATCH,
                "the trusted checkpoint does not verify under the export's key "
                f"({self.trusted_problem}); the key was replaced without a recorded rotation "
                "or the checkpoint is from another log",
                line=False,
            )
        if self.cut:
            self.fail(
                FindingKind.UNSEALED,
                "the last line has no newline: the export was cut",
                line=False,
            )
        if self.latest is None:
            self.fail(
                FindingKind.UNSEALED,
                "the export holds no checkpoint",
                0 if count else None,
                line=False,
            )
        if self.latest.tree_size != count:
            self.fail(
                FindingKind.UNSEALED,
                f"entries from leaf index {self.confirmed} on are not covered by a checkpoint "
                "(the export was cut, or its last checkpoint removed)",
                self.confirmed,
                self.pending_positions[0] if self.pending_positions else None,
                line=False,
            )
        root = self.acc.root()
        relation: str | None = None
        trusted = self.trusted
        if trusted is not None:
            if trusted.tree_size <= count:
                relation = "covered"
            elif self.consistency_proof is not None and verify_consistency(
                count, trusted.tree_size, root, trusted.root_hash, self.consistency_proof
            ):
                relation = "prefix-proven"
            else:
                self.fail(
                    FindingKind.TRUSTED_MISMATCH,
                    f"the export holds {count} entries but the trusted checkpoint commits to "
                    f"{trusted.tree_size}: the export is truncated or the log was rolled back"
                    + (
                        " (and the consistency proof given does not verify)"
                        if self.consistency_proof is not None
                        else "; supply a consistency proof to accept an older export"
                    ),
                    count,
                    line=False,
                )
        if self.next_progress >= 0:
            self.progress(count)
        return VerificationReport(
            origin=self.origin,
            public_key=self.key.vkey,
            key_pinned=self.trusted_vkey is not None,
            entries=count,
            root_hash=root,
            checkpoints=self.checkpoints,
            latest_checkpoint=self.latest,
            first_position=self.first_position if count else None,
            last_position=self.last_position if count else None,
            trusted_checkpoint=trusted,
            rotations=tuple(self.rotations),
            trusted_relation=relation,
        )


def default_workers(export_bytes: int) -> int:
    """Worker processes ``verify_export`` uses by default for a file of that size (0: none).

    One per CPU (at most 8: beyond that the in-order part in the main process is the limit)
    for files of 16 MiB or more; below that, starting workers costs more than it saves.
    """
    cpus = os.cpu_count() or 1
    if export_bytes < PARALLEL_MIN_BYTES or cpus < 2:
        return 0
    return min(cpus, 8)


def verify_export(
    source: str | os.PathLike[str] | Iterable[bytes] | Iterable[str],
    *,
    trusted_vkey: str | None = None,
    trusted_checkpoint: str | None = None,
    consistency_proof: Sequence[bytes] | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> VerificationReport:
    """Verify an export completely, streaming; raise at the first problem found.

    ``source`` is a path, or an iterable of lines or chunks (bytes or str) whose
    concatenation is the export. ``trusted_vkey`` pins the log's key: without it the export
    is checked against the key it names itself. ``trusted_checkpoint`` is a checkpoint the
    auditor kept earlier: the export's root at that size must equal it; if the export is
    older (smaller), pass the log's ``consistency_proof`` from the export's size to the
    trusted size. ``progress`` is called with the number of entries processed once
    each ``PROGRESS_EVERY`` entries have passed (at the end of the run of entries that
    passed it) and at the end. ``workers`` processes digest a file in
    parallel (default: one per CPU for files of 16 MiB or more; 0 or 1 for none); the result
    is the same either way. Raises ``ExportVerificationError`` naming the first problem.
    """
    verifier = _Verifier(trusted_vkey, trusted_checkpoint, consistency_proof, progress)
    if trusted_vkey is not None:
        parse_vkey(trusted_vkey)  # a malformed pinned key is the caller's error: raise it now
    # Verification allocates millions of short-lived lists that never form cycles; left on,
    # the cyclic collector would rescan the caller's whole heap every few hundred lines.
    collecting = gc.isenabled()
    gc.disable()
    try:
        if not isinstance(source, str | os.PathLike):
            return verifier.run(_split_chunks(_grouped_chunks(source)))
        path = os.path.abspath(os.fspath(source))
        size = os.path.getsize(path)
        count = default_workers(size) if workers is None else workers
        if count > 1:
            blocks = _parallel_blocks(path, size, count)
            try:
                return verifier.run(blocks)
            finally:
                blocks.close()  # stop the workers now, not when the traceback is collected
        with open(path, "rb") as f:
            return verifier.run(_split_chunks(_file_chunks(f)))
    finally:
        if collecting:
            gc.enable()
