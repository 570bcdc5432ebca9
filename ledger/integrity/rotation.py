"""Key rotation statements: the log's old key hands over to a new key, in a signed note.

A log signs every checkpoint with one key. To change it (a key nearing the end of its
life, a move to other hardware) without orphaning the checkpoints already published, the
old key signs a statement naming the new one, and the new key signs it too (proof that
whoever rotated holds it)::

    samsyn-key-rotation/v1
    origin samsyn.example/ledger
    old samsyn.example/ledger+1a2b3c4d+AQ…        the verifier key signing until now
    new samsyn.example/ledger+5e6f7a8b+AQ…        the verifier key signing from now on
    tree_size 1234                                checkpoints up to this size: old key;
    timestamp 2026-12-03T14:00:00Z                larger ones: new key
                                                  blank line
    — samsyn.example/ledger <base64(old key ID || signature)>
    — samsyn.example/ledger <base64(new key ID || signature)>

The log keeps each statement (``samsyn_integrity_keys``) and every export carries it as a
``key-rotation`` line right after the checkpoint of ``tree_size``; verifiers start from the
key in the export's header (or the one they pinned) and follow the statements in order.
Both keys share the log's name (the origin): the key IDs tell them apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .checkpoint import Signer, VerifierKey, parse_vkey, sign_note, split_note
from .errors import CheckpointFormatError, KeyFormatError, KeyIdentityError

HEADER = "samsyn-key-rotation/v1"
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


@dataclass(frozen=True)
class KeyRotation:
    """A verified rotation: checkpoints above ``tree_size`` are signed by ``new``."""

    origin: str
    old: VerifierKey
    new: VerifierKey
    tree_size: int
    timestamp: str
    text: str


def rotation_statement(old: Signer, new: Signer, origin: str, tree_size: int) -> str:
    """The signed rotation note from ``old`` to ``new`` after ``tree_size`` leaves."""
    moment = datetime.now(UTC).strftime(_TIMESTAMP_FORMAT)
    body = (
        f"{HEADER}\norigin {origin}\nold {old.verifier.vkey}\nnew {new.verifier.vkey}\n"
        f"tree_size {tree_size}\ntimestamp {moment}\n"
    )
    signed = sign_note(old, body)
    return signed + sign_note(new, body).split("\n\n", 1)[1]


def parse_rotation(text: str, current: VerifierKey) -> KeyRotation:
    """The rotation in ``text`` if it hands over from ``current`` and both keys signed it.

    Raises ``KeyIdentityError`` naming what is wrong.
    """
    try:
        body, signatures = split_note(text)
    except CheckpointFormatError as exc:
        raise KeyIdentityError(f"malformed key rotation statement: {exc}") from exc
    lines = body[:-1].split("\n")
    fields = dict(line.split(" ", 1) for line in lines[1:] if " " in line)
    if (
        len(lines) != 6
        or lines[0] != HEADER
        or [line.split(" ", 1)[0] for line in lines[1:]]
        != ["origin", "old", "new", "tree_size", "timestamp"]
        or not _SIZE.fullmatch(fields.get("tree_size", ""))
    ):
        raise KeyIdentityError("malformed key rotation statement")
    try:
        old, new = parse_vkey(fields["old"]), parse_vkey(fields["new"])
    except KeyFormatError as exc:
        raise KeyIdentityError(f"key rotation statement names a malformed key: {exc}") from exc
    if old != current:
        raise KeyIdentityError(
            f"the key rotation hands over from {old.vkey}, but the log's key is {current.vkey}"
        )
    message = body.encode()
    for key, role in ((old, "old"), (new, "new")):
        if not any(
            name == key.name and raw[:4] == key.key_id and key.verify(message, raw[4:])
            for name, raw in signatures
        ):
            raise KeyIdentityError(f"the key rotation is not signed by its {role} key {key.vkey}")
    return KeyRotation(
        fields["origin"], old, new, int(fields["tree_size"]), fields["timestamp"], text
    )
