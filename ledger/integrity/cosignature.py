"""Witness cosignatures (C2SP tlog-cosignature, cosignature/v1) and the witness policy.

A witness (``samsyn witness``, one per principal) cosigns a checkpoint once it has checked
that the log only grew since the last checkpoint it cosigned. Its signature is one more
signed-note line under the log's own::

    — witness.berg.example/samsyn base64(key ID || u64 timestamp || Ed25519 signature)

Key ID = SHA-256(name || 0x0A || 0x04 || 32-byte public key)[:4]; the signed message is
``cosignature/v1\\ntime <timestamp>\\n`` followed by the checkpoint's note text (every line
above the blank line). Witness public keys are vkeys with signature type 0x04:
``<name>+<hex key ID>+<base64(0x04 || key)>``.

A **policy** says whom an auditor believes: "at least k of these n witnesses". A checkpoint
meets it when k of the n keys carry a valid cosignature on it; ``check_policy`` says which
did. Standard library only (the standalone verifier embeds this module).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from . import signature
from .checkpoint import check_key_name, split_note, strict_b64decode
from .errors import KeyFormatError

ALG_COSIGNATURE_V1 = 0x04
"""Signed-note signature type of cosignature/v1 (Ed25519, timestamped)."""

HEADER = "cosignature/v1\n"
MAX_TIMESTAMP = 2**63 - 1


def cosignature_key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x04 || public key)[:4]."""
    return hashlib.sha256(
        name.encode() + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public_key
    ).digest()[:4]


def cosigned_message(body: str, timestamp: int) -> bytes:
    """What a witness signs: the cosignature/v1 header, the time line, the note text."""
    return f"{HEADER}time {timestamp}\n{body}".encode()


@dataclass(frozen=True)
class WitnessKey:
    """A witness's public key: its name and 32-byte Ed25519 key."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.public_key) != 32:
            raise KeyFormatError("an Ed25519 public key is 32 bytes")

    @property
    def key_id(self) -> bytes:
        return cosignature_key_id(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        encoded = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def cosigned_at(self, body: str, raw: bytes) -> int | None:
        """The timestamp of ``raw`` (key ID || u64 time || signature) if it is this
        witness's valid cosignature of the note text ``body``; None otherwise."""
        if len(raw) != 4 + 8 + 64 or raw[:4] != self.key_id:
            return None
        timestamp = int.from_bytes(raw[4:12], "big")
        if timestamp > MAX_TIMESTAMP:
            return None
        message = cosigned_message(body, timestamp)
        return timestamp if signature.verify(self.public_key, message, raw[12:]) else None


def parse_witness_vkey(vkey: str) -> WitnessKey:
    """Parse a witness vkey (signature type 0x04), checking its key ID."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3 or not re.fullmatch(r"[0-9a-fA-F]{8}", parts[1]):
        raise KeyFormatError(f"a witness key is <name>+<hex id>+<base64 key>, got {vkey!r}")
    name, hex_id, encoded = parts
    raw = strict_b64decode(encoded, "witness key")
    if len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
        raise KeyFormatError("a witness key is 0x04 (cosignature/v1) followed by 32 bytes")
    key = WitnessKey(name, raw[1:])
    if key.key_id != bytes.fromhex(hex_id):
        raise KeyFormatError(f"witness key ID {hex_id} does not match key {name!r}")
    return key


def cosignature_line(name: str, key_id: bytes, timestamp: int, sig: bytes) -> str:
    """One note signature line carrying a cosignature."""
    raw = key_id + timestamp.to_bytes(8, "big") + sig
    return f"\u2014 {name} {base64.b64encode(raw).decode()}\n"


@dataclass(frozen=True)
class Policy:
    """Believe a checkpoint when at least ``quorum`` of ``witnesses`` cosigned it."""

    witnesses: tuple[WitnessKey, ...]
    quorum: int

    def __post_init__(self) -> None:
        if not 0 <= self.quorum <= len(self.witnesses):
            raise KeyFormatError(
                f"a quorum of {self.quorum} is impossible with {len(self.witnesses)} witnesses"
            )

    @classmethod
    def parse(cls, vkeys: Sequence[str], quorum: int | None) -> Policy:
        """From witness vkey strings; the quorum defaults to all of them."""
        witnesses = tuple(parse_witness_vkey(v) for v in vkeys)
        return cls(witnesses, len(witnesses) if quorum is None else quorum)


@dataclass(frozen=True)
class PolicyResult:
    """Which of the policy's witnesses validly cosigned a checkpoint, and whether enough did."""

    signed: tuple[tuple[str, int], ...]
    """(witness name, cosignature timestamp) of each valid cosignature, in policy order."""
    missing: tuple[str, ...]
    quorum: int

    @property
    def met(self) -> bool:
        return len(self.signed) >= self.quorum

    def describe(self) -> str:
        names = ", ".join(name for name, _ in self.signed) or "none"
        total = len(self.signed) + len(self.missing)
        verdict = "meets" if self.met else "is BELOW"
        return (
            f"cosigned by {len(self.signed)} of {total} witnesses ({names}); the checkpoint "
            f"{verdict} the policy of at least {self.quorum}"
        )


def cosigners(note: str, witnesses: Sequence[WitnessKey]) -> list[tuple[WitnessKey, int]]:
    """The witnesses among ``witnesses`` with a valid cosignature on ``note`` (any others,
    and lines by unknown keys, are ignored as signed-note asks)."""
    body, signatures = split_note(note)
    found: list[tuple[WitnessKey, int]] = []
    for witness in witnesses:
        for name, raw in signatures:
            if name != witness.name:
                continue
            timestamp = witness.cosigned_at(body, raw)
            if timestamp is not None:
                found.append((witness, timestamp))
                break
    return found


def check_policy(note: str, policy: Policy) -> PolicyResult:
    """Which witnesses of ``policy`` cosigned ``note``, and whether the quorum is met."""
    found = cosigners(note, policy.witnesses)
    signed_keys = {w for w, _ in found}
    return PolicyResult(
        signed=tuple((w.name, t) for w, t in found),
        missing=tuple(w.name for w in policy.witnesses if w not in signed_keys),
        quorum=policy.quorum,
    )
