"""Signed checkpoints: C2SP tlog-checkpoint bodies in C2SP signed notes, with Ed25519 keys.

A checkpoint commits the log to (origin, tree size, root hash) at a moment; publishing it
(and letting auditors keep copies) is what makes rewriting history detectable. We use the
ecosystem's formats unchanged so Go's ``golang.org/x/mod/sumdb/note`` and
transparency-dev tooling can read our keys and checkpoints::

    samsyn.example/ledger                       origin
    1234                                        tree size, decimal
    <base64 of the 32-byte root hash>           root hash
    timestamp 2025-01-02T03:04:05Z              extension line: when it was signed (UTC)
                                                blank line
    — samsyn.example/ledger <base64(key ID || Ed25519 signature)>

The signature covers the note text: every line above the blank line, each ending in a
newline. Key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4].

The timestamp line is Samsyn's one extension line (tlog-checkpoint allows opaque extension
lines though it discourages them): it is signed, so it says when the log vouched for this
size, which auditors need to line a checkpoint up with minutes and decisions. Samsyn
checkpoints always carry it as the first extension line, in whole seconds, UTC, with ``Z``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from . import signature
from .errors import CheckpointFormatError, CheckpointSignatureError, KeyFormatError
from .merkle import HASH_SIZE

ALG_ED25519 = 0x01
"""Signed-note signature type identifier byte for Ed25519."""

SIGNATURE_PREFIX = "\u2014 "
"""Every signature line starts with an em dash (U+2014) and a space — not a hyphen."""

TIMESTAMP_PREFIX = "timestamp "
"""Start of the extension line carrying the checkpoint's signing time."""

MAX_NOTE_SIZE = 1 << 20
"""Refuse notes larger than this (1 MiB): a checkpoint is a few hundred bytes."""

MAX_SIGNATURES = 100
"""Refuse notes with more signature lines than this (Go's limit); the spec asks for 16."""

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_TREE_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def check_key_name(name: str) -> None:
    """Key names must be non-empty and contain neither Unicode spaces nor '+' (signed-note)."""
    if not name or "+" in name or any(c.isspace() for c in name) or _CONTROL.search(name):
        raise KeyFormatError(f"invalid key name {name!r}: must be non-empty, no spaces, no '+'")


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte signed-note key ID of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def strict_b64decode(text: str, what: str) -> bytes:
    """Decode standard base64 and insist the text is the one canonical encoding of the result.

    Accepting alternative encodings of the same bytes would let two different-looking
    checkpoints or keys mean the same thing; we refuse that malleability.
    """
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError(f"{what} is not valid base64") from exc
    if base64.b64encode(raw).decode() != text:
        raise KeyFormatError(f"{what} is not canonical base64")
    return raw


@dataclass(frozen=True)
class VerifierKey:
    """A public Ed25519 note key: what auditors pin to check checkpoints."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.public_key) != 32:
            raise KeyFormatError("an Ed25519 public key is 32 bytes")

    @property
    def key_id(self) -> bytes:
        """The 4-byte key ID that prefixes every signature by this key."""
        return key_id(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        """The signed-note verifier key string: ``<name>+<hex key ID>+<base64(0x01 || key)>``."""
        encoded = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verify(self, message: bytes, sig: bytes) -> bool:
        """True iff ``sig`` is this key's Ed25519 signature of ``message``."""
        return signature.verify(self.public_key, message, sig)


def parse_vkey(vkey: str) -> VerifierKey:
    """Parse a verifier key string, checking that its key ID matches the key it names."""
    parts = vkey.split("+", 2)  # base64 may contain '+'; name and key ID may not
    if len(parts) != 3:
        raise KeyFormatError(f"a verifier key is <name>+<hex id>+<base64 key>, got {vkey!r}")
    name, hex_id, encoded = parts
    if not re.fullmatch(r"[0-9a-fA-F]{8}", hex_id):
        raise KeyFormatError(f"verifier key ID must be 8 hex digits, got {hex_id!r}")
    raw = strict_b64decode(encoded, "verifier key")
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise KeyFormatError("verifier key must be 0x01 (Ed25519) followed by 32 bytes")
    key = VerifierKey(name, raw[1:])
    if key.key_id != bytes.fromhex(hex_id):
        raise KeyFormatError(f"verifier key ID {hex_id} does not match key {name!r}")
    return key


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint: the log's signed commitment to its first ``tree_size`` leaves."""

    origin: str
    tree_size: int
    root_hash: bytes
    timestamp: datetime
    extensions: tuple[str, ...]
    """Extension lines after the timestamp line, verbatim (opaque to Samsyn)."""
    text: str
    """The complete signed note, as received, for re-publishing."""


def _format_timestamp(timestamp: datetime) -> str:
    if timestamp.tzinfo is None:
        raise CheckpointFormatError("checkpoint timestamp must be timezone-aware")
    return timestamp.astimezone(UTC).strftime(_TIMESTAMP_FORMAT)


def checkpoint_body(
    origin: str,
    tree_size: int,
    root_hash: bytes,
    timestamp: datetime,
    extensions: Sequence[str] = (),
) -> str:
    """The note text of a checkpoint (what gets signed), validating every line."""
    if not origin or _CONTROL.search(origin) or "\n" in origin:
        raise CheckpointFormatError(f"invalid origin {origin!r}")
    if type(tree_size) is not int or not 0 <= tree_size < 2**64:
        raise CheckpointFormatError(f"invalid tree size {tree_size!r}")
    if len(root_hash) != HASH_SIZE:
        raise CheckpointFormatError(f"root hash must be {HASH_SIZE} bytes")
    for line in extensions:
        if not line or "\n" in line or _CONTROL.search(line):
            raise CheckpointFormatError(f"invalid extension line {line!r}")
    lines = [
        origin,
        str(tree_size),
        base64.b64encode(root_hash).decode(),
        TIMESTAMP_PREFIX + _format_timestamp(timestamp),
        *extensions,
    ]
    return "".join(line + "\n" for line in lines)


class Signer(Protocol):
    """What signs a note: a named key (``keys.SigningKey`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def verifier(self) -> VerifierKey: ...

    def sign(self, message: bytes) -> bytes: ...


def sign_note(key: Signer, body: str) -> str:
    """``body`` (lines ending in newlines) signed by ``key`` as a signed note."""
    raw = key.verifier.key_id + key.sign(body.encode())
    return f"{body}\n{SIGNATURE_PREFIX}{key.name} {base64.b64encode(raw).decode()}\n"


def sign_checkpoint(
    key: Signer,
    origin: str,
    tree_size: int,
    root_hash: bytes,
    *,
    timestamp: datetime | None = None,
    extensions: Sequence[str] = (),
) -> str:
    """A signed checkpoint note for (origin, tree_size, root_hash); timestamp defaults to now.

    Nothing here checks that the root is right: call it with the root the accumulator
    computed, never with one received from elsewhere.
    """
    moment = timestamp if timestamp is not None else datetime.now(UTC)
    body = checkpoint_body(origin, tree_size, root_hash, moment, extensions)
    return sign_note(key, body)


def split_note(text: str) -> tuple[str, list[tuple[str, bytes]]]:
    """Split a signed note into its text and its (key name, signature bytes) lines."""
    if len(text) > MAX_NOTE_SIZE:
        raise CheckpointFormatError("note is too large")
    if _CONTROL.search(text):
        raise CheckpointFormatError("note contains control characters other than newline")
    split = text.rfind("\n\n")
    if split < 0:
        raise CheckpointFormatError("note has no blank line separating text from signatures")
    body, signature_block = text[: split + 1], text[split + 2 :]
    if not signature_block.endswith("\n"):
        raise CheckpointFormatError("note does not end with a newline after its signatures")
    lines = signature_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointFormatError("note has too many signatures")
    signatures: list[tuple[str, bytes]] = []
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise CheckpointFormatError(f"malformed signature line {line!r}")
        name, sep, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            check_key_name(name)
            raw = strict_b64decode(encoded, "signature")
        except KeyFormatError as exc:
            raise CheckpointFormatError(f"malformed signature line {line!r}: {exc}") from exc
        if not sep or len(raw) < 5:
            raise CheckpointFormatError(f"malformed signature line {line!r}")
        signatures.append((name, raw))
    return body, signatures


def _parse_body(body: str, text: str) -> Checkpoint:
    lines = body[:-1].split("\n")
    if len(lines) < 4 or not all(lines):
        raise CheckpointFormatError(
            "checkpoint text needs origin, tree size, root hash and timestamp lines, none empty"
        )
    origin, size_line, root_line, timestamp_line, *extensions = lines
    if not _TREE_SIZE.fullmatch(size_line) or int(size_line) >= 2**64:
        raise CheckpointFormatError(f"invalid tree size line {size_line!r}")
    try:
        root_hash = strict_b64decode(root_line, "root hash")
    except KeyFormatError as exc:
        raise CheckpointFormatError(str(exc)) from exc
    if len(root_hash) != HASH_SIZE:
        raise CheckpointFormatError(f"root hash must be {HASH_SIZE} bytes")
    stamp = timestamp_line.removeprefix(TIMESTAMP_PREFIX)
    if stamp == timestamp_line or not _TIMESTAMP.fullmatch(stamp):
        raise CheckpointFormatError(
            f"fourth line must be 'timestamp YYYY-MM-DDTHH:MM:SSZ', got {timestamp_line!r}"
        )
    try:
        timestamp = datetime.strptime(stamp, _TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise CheckpointFormatError(f"invalid timestamp {stamp!r}") from exc
    return Checkpoint(origin, int(size_line), root_hash, timestamp, tuple(extensions), text)


def parse_and_verify_checkpoint(text: str, vkey: str | VerifierKey) -> Checkpoint:
    """The checkpoint in ``text`` if it is well-formed and validly signed by ``vkey``.

    Signed-note rules: signatures by other keys are ignored (they may be witnesses'
    cosignatures); a signature by our key name and key ID that fails to verify rejects the
    whole note; no valid signature by our key rejects it too. The text is only parsed as a
    checkpoint after the signature has verified, as the signed-note spec requires.
    """
    key = parse_vkey(vkey) if isinstance(vkey, str) else vkey
    body, signatures = split_note(text)
    message = body.encode()
    expected_id = key.key_id
    verified = False
    for name, raw in signatures:
        if name != key.name or raw[:4] != expected_id:
            continue
        if not key.verify(message, raw[4:]):
            raise CheckpointSignatureError(f"invalid signature by key {key.name!r}")
        verified = True
    if not verified:
        raise CheckpointSignatureError(
            f"checkpoint is not signed by key {key.name!r} ({expected_id.hex()})"
        )
    return _parse_body(body, text)
