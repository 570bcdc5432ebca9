"""The witness: a principal's own check that the log only grows (C2SP tlog-witness).

Each principal may run ``samsyn witness`` with its own Ed25519 key. The log sends it every
new checkpoint with a consistency proof from the last size this witness cosigned
(``POST /add-checkpoint``)::

    old 1200                              the size the witness cosigned last (0: never)
    <base64 hash>                         consistency proof, one hash per line
                                          blank line
    <the checkpoint, signed by the log>

The witness checks the log's signature (403 if none of the log keys it trusts signed; 404
for a log it does not know), that ``old`` is the size it last cosigned (409 Conflict with
that size in ``text/x.tlog.size`` if not), that a checkpoint of the same size has the same
root (409: a fork), and the proof (422: not an extension of what it saw, a fork). Only
then does it record the new size and root and answer its cosignature line
(``cosignature``), in one SQLite transaction so that two requests can never roll it back.

So the operator of the log cannot show one history to some and another to others, or
rewrite history, without every witness refusing: a checkpoint is believed when enough
principals' witnesses cosigned it (the verifier's policy). The witness keeps nothing but
(origin, size, root) per log; it needs neither the ledger nor its database.
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import structlog

from .checkpoint import VerifierKey, parse_and_verify_checkpoint, parse_vkey
from .cosignature import WitnessKey, cosignature_line, cosigned_message
from .errors import CheckpointError, KeyFormatError
from .keys import SigningKey
from .merkle import HASH_SIZE, verify_consistency

log = structlog.get_logger(__name__)

ADD_CHECKPOINT = "/add-checkpoint"
SIZE_TYPE = "text/x.tlog.size"
COSIGNATURE_TYPE = "text/x.tlog.cosignature"
MAX_BODY = 64 << 10
"""A request is a checkpoint and at most 63 hashes: a few KiB. Larger ones are refused."""
MAX_PROOF = 63


@dataclass(frozen=True)
class Answer:
    """An HTTP answer of the witness: status, content type, body."""

    status: int
    content_type: str
    body: str


def _plain(status: HTTPStatus, text: str) -> Answer:
    return Answer(status, "text/plain; charset=utf-8", text + "\n")


def witness_key_of(key: SigningKey) -> WitnessKey:
    """The public cosignature/v1 key of a witness's signing key."""
    return WitnessKey(key.name, key.verifier.public_key)


class Witness:
    """A witness's state and its one operation, ``add_checkpoint``.

    ``logs`` are the log verifier keys it trusts (by origin: a key's name is its log's
    origin; several keys per origin are allowed, e.g. across a key rotation). State lives
    in an SQLite file: (origin, size, root) of the latest checkpoint cosigned per log.
    """

    def __init__(self, key: SigningKey, logs: Sequence[str], state: str | Path) -> None:
        self.key = key
        self.public = witness_key_of(key)
        self.logs: dict[str, list[VerifierKey]] = {}
        for vkey in logs:
            parsed = parse_vkey(vkey)
            self.logs.setdefault(parsed.name, []).append(parsed)
        self._db = sqlite3.connect(str(state), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS cosigned (origin TEXT PRIMARY KEY, "
                         "size INTEGER NOT NULL, root BLOB NOT NULL)")
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def latest(self, origin: str) -> tuple[int, bytes] | None:
        """(size, root) of the latest checkpoint cosigned for ``origin``."""
        with self._lock:
            row = self._db.execute("SELECT size, root FROM cosigned WHERE origin = ?",
                                   (origin,)).fetchone()
        return (int(row[0]), bytes(row[1])) if row else None

    def add_checkpoint(self, request: bytes) -> Answer:
        """Handle one ``add-checkpoint`` request body (tlog-witness); answer what to send."""
        try:
            old, proof, note = _parse_request(request)
        except ValueError as exc:
            return _plain(HTTPStatus.BAD_REQUEST, f"malformed request: {exc}")
        origin = note.split("\n", 1)[0]
        keys = self.logs.get(origin)
        if not keys:
            return _plain(HTTPStatus.NOT_FOUND, f"unknown log {origin!r}")
        checkpoint = None
        for key in keys:
            try:
                checkpoint = parse_and_verify_checkpoint(note, key)
                break
            except CheckpointError:
                continue
        if checkpoint is None:
            return _plain(HTTPStatus.FORBIDDEN, "the checkpoint is not signed by a known key")
        if old > checkpoint.tree_size:
            return _plain(HTTPStatus.BAD_REQUEST, "old size is beyond the checkpoint's size")
        with self._lock:
            return self._advance(origin, old, proof, checkpoint.tree_size,
                                 checkpoint.root_hash, note)

    def _advance(self, origin: str, old: int, proof: list[bytes], size: int, root: bytes,
                 note: str) -> Answer:
        """Check against the stored state and move it forward, atomically (hold the lock)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT size, root FROM cosigned WHERE origin = ?",
                             (origin,)).fetchone()
            known, known_root = (int(row[0]), bytes(row[1])) if row else (0, None)
            if old != known:
                db.execute("ROLLBACK")
                return Answer(HTTPStatus.CONFLICT, SIZE_TYPE, f"{known}\n")
            if old == size and known_root is not None and known_root != root:
                db.execute("ROLLBACK")
                log.warning("fork refused", origin=origin, size=size)
                return _plain(HTTPStatus.CONFLICT,
                              f"a different root for size {size} was cosigned: a fork")
            if old == 0 and proof:
                db.execute("ROLLBACK")
                return _plain(HTTPStatus.BAD_REQUEST, "the proof from size 0 must be empty")
            if (old > 0 and known_root is not None
                    and not verify_consistency(old, size, known_root, root, proof)):
                db.execute("ROLLBACK")
                log.warning("inconsistent checkpoint refused", origin=origin, old=old,
                            size=size)
                return _plain(HTTPStatus.UNPROCESSABLE_ENTITY,
                              f"the tree of size {size} does not extend the tree of size "
                              f"{old} this witness cosigned: a fork")
            db.execute("INSERT INTO cosigned (origin, size, root) VALUES (?, ?, ?) "
                       "ON CONFLICT (origin) DO UPDATE SET size = excluded.size, "
                       "root = excluded.root", (origin, size, root))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return Answer(HTTPStatus.OK, COSIGNATURE_TYPE, self.cosign(note))

    def cosign(self, note: str) -> str:
        """This witness's cosignature line on a (verified) checkpoint note, timestamped now."""
        body = note[: note.rindex("\n\n") + 1]
        timestamp = int(time.time())
        signature = self.key.sign(cosigned_message(body, timestamp))
        return cosignature_line(self.public.name, self.public.key_id, timestamp, signature)


def _parse_request(request: bytes) -> tuple[int, list[bytes], str]:
    """(old size, proof hashes, checkpoint note) of an add-checkpoint body."""
    text = request.decode("utf-8")
    head, sep, note = text.partition("\n\n")
    if not sep or not note:
        raise ValueError("no blank line before the checkpoint")
    lines = head.split("\n")
    first = lines[0]
    size = first.removeprefix("old ")
    if size == first or not size.isdigit() or (size != "0" and size.startswith("0")):
        raise ValueError("the first line must be 'old <size>'")
    if len(lines) - 1 > MAX_PROOF:
        raise ValueError(f"at most {MAX_PROOF} proof lines")
    proof = []
    for line in lines[1:]:
        try:
            hashed = base64.b64decode(line, validate=True)
        except binascii.Error as exc:
            raise ValueError("a proof line is not base64") from exc
        if len(hashed) != HASH_SIZE:
            raise ValueError("a proof line is not a 32-byte hash")
        proof.append(hashed)
    return int(size), proof, note


class _Handler(BaseHTTPRequestHandler):
    server: WitnessServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        if self.path != ADD_CHECKPOINT:
            self._send(_plain(HTTPStatus.NOT_FOUND, "only POST /add-checkpoint is served"))
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send(_plain(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required"))
            return
        if not 0 <= length <= MAX_BODY:
            self._send(_plain(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request too large"))
            return
        self._send(self.server.witness.add_checkpoint(self.rfile.read(length)))

    def do_GET(self) -> None:
        self._send(_plain(HTTPStatus.OK, self.server.witness.public.vkey))

    def _send(self, answer: Answer) -> None:
        body = answer.body.encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.info("witness request", line=format % args)


class WitnessServer(ThreadingHTTPServer):
    """``witness`` over HTTP (the standard library's server: a witness is small)."""

    daemon_threads = True

    def __init__(self, witness: Witness, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.witness = witness

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def check_log_keys(vkeys: Sequence[str]) -> None:
    """Raise ``KeyFormatError`` unless every log key parses (for the command line)."""
    if not vkeys:
        raise KeyFormatError("a witness needs at least one log key (--log)")
    for vkey in vkeys:
        parse_vkey(vkey)
