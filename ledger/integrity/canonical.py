"""The canonical leaf encoding of one ledger entry: the exact bytes the Merkle tree commits to.

Why length-prefixed binary rather than canonical JSON: JSON canonicalisation (RFC 8785)
drags in number formatting, UTF-16 key ordering and escaping choices that libraries get
subtly wrong. A fixed header of big-endian integers followed by the field bytes has no
escaping, no normalisation and no choices; anyone can rebuild it in a few lines in any
language, and it is fast to produce.

Layout (all integers unsigned 64-bit big-endian; strings UTF-8 exactly as stored, never
normalised)::

    "samsyn-leaf-v1\\n"          15 bytes  version tag (domain separation, future formats)
    position                     8 bytes   the store's notification id
    originator_version           8 bytes
    len(originator_id)           8 bytes   length in bytes of the UTF-8 encoding
    len(topic)                   8 bytes
    len(recorded_at)             8 bytes
    len(state_b64)               8 bytes
    originator_id || topic || recorded_at || state_b64

``state_b64`` is the stored payload in standard base64 with padding (RFC 4648 §4), the
one encoding of those bytes. Committing to it rather than the raw bytes changes nothing
about what is committed (the encoding is a bijection) but means a verifier hashes the very
string it reads from an export and never decodes payloads: that is a third of the cost of
verification in Python, and one step fewer for anyone reimplementing it.

Every boundary is fixed by the header, so no two different entries share an encoding.
The leaf index is *not* part of the leaf: it is the leaf's place in the tree, which the tree
already commits to. It is distinct from ``position`` because store notification ids may
have gaps (1, 2, 4) while the log numbers its leaves 0, 1, 2, ... in commit order.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import struct
from dataclasses import dataclass

from .errors import EncodingError

LEAF_TAG = b"samsyn-leaf-v1\n"
"""First bytes of every leaf; a new layout gets a new tag, never a silent change."""

MAX_INT = 2**63 - 1
"""Largest position or version accepted: fits a signed 64-bit integer in every language."""

UUID_PATTERN = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""An originator id as stored: lowercase hex with dashes, as ``str(uuid.UUID(...))`` gives."""

RECORDED_AT_PATTERN = re.compile(
    rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|\+00:00)"
)
"""ISO 8601 in UTC, as ``datetime.isoformat()`` of an aware UTC time gives (or with ``Z``)."""

_CONTROL = re.compile(rb"[\x00-\x1f]")
_HEADER = struct.Struct(">QQQQQQ")
_sha256 = hashlib.sha256
_uuid_match = UUID_PATTERN.fullmatch
_recorded_at_match = RECORDED_AT_PATTERN.fullmatch
_control_search = _CONTROL.search


def validate_encoded(
    position: int,
    originator_id: bytes,
    originator_version: int,
    topic: bytes,
    recorded_at: bytes,
) -> None:
    """Raise ``EncodingError`` unless the (UTF-8 encoded) fields follow the canonical rules.

    The rules work on the encoded bytes because those are what gets hashed, and because
    the offline verifier reads them straight from an export line without decoding.
    Checking the textual formats (UUID, UTC timestamp) catches a sealer and an exporter
    that render the same stored value differently — the hashes would then disagree for no
    reason an auditor could see.
    """
    if not 0 <= position <= MAX_INT:
        raise EncodingError(f"position must be within 0..2**63-1, got {position}")
    if not 0 <= originator_version <= MAX_INT:
        raise EncodingError(
            f"originator_version must be within 0..2**63-1, got {originator_version}"
        )
    if _uuid_match(originator_id) is None:
        raise EncodingError(
            f"originator_id must be a lowercase UUID with dashes, got {originator_id!r}"
        )
    if not topic or _control_search(topic) is not None:
        raise EncodingError(f"topic must be non-empty without control characters, got {topic!r}")
    try:
        topic.decode()
    except UnicodeDecodeError as exc:
        raise EncodingError("topic is not valid UTF-8") from exc
    if _recorded_at_match(recorded_at) is None:
        raise EncodingError(f"recorded_at must be ISO 8601 in UTC, got {recorded_at!r}")


def validate_fields(
    position: object,
    originator_id: object,
    originator_version: object,
    topic: object,
    state: object,
    recorded_at: object,
) -> None:
    """Raise ``EncodingError`` unless the fields can be encoded canonically.

    ``bool`` is refused as an integer on purpose: JSON ``true`` must not pass for 1.
    """
    if type(position) is not int or type(originator_version) is not int:
        raise EncodingError("position and originator_version must be integers")
    if type(originator_id) is not str or type(topic) is not str or type(recorded_at) is not str:
        raise EncodingError("originator_id, topic and recorded_at must be strings")
    if type(state) is not bytes:
        raise EncodingError(f"state must be bytes, got {type(state).__name__}")
    try:
        encoded = (originator_id.encode(), topic.encode(), recorded_at.encode())
    except UnicodeEncodeError as exc:
        raise EncodingError("text fields must be valid Unicode (no lone surrogates)") from exc
    validate_encoded(position, encoded[0], originator_version, encoded[1], encoded[2])


def encode_state(state: bytes) -> bytes:
    """The payload as the leaf (and an export) carries it: standard base64 with padding."""
    return binascii.b2a_base64(state, newline=False)


def leaf_data_encoded(
    position: int,
    originator_id: bytes,
    originator_version: int,
    topic: bytes,
    state_b64: bytes,
    recorded_at: bytes,
) -> bytes:
    """The canonical leaf bytes of validated, encoded fields (see the module docstring)."""
    header = _HEADER.pack(
        position,
        originator_version,
        len(originator_id),
        len(topic),
        len(recorded_at),
        len(state_b64),
    )
    return b"".join((LEAF_TAG, header, originator_id, topic, recorded_at, state_b64))


def leaf_hash_encoded(
    position: int,
    originator_id: bytes,
    originator_version: int,
    topic: bytes,
    state_b64: bytes,
    recorded_at: bytes,
) -> bytes:
    """RFC 9162 leaf hash, SHA-256(0x00 || leaf data), of validated, encoded fields.

    Built in one join rather than via ``merkle.leaf_hash(leaf_data(...))`` to avoid copying
    the payload twice; the offline verifier calls this once per entry.
    """
    header = _HEADER.pack(
        position,
        originator_version,
        len(originator_id),
        len(topic),
        len(recorded_at),
        len(state_b64),
    )
    return _sha256(
        b"".join((b"\x00", LEAF_TAG, header, originator_id, topic, recorded_at, state_b64))
    ).digest()


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One stored event as the integrity log sees it; validated on construction.

    ``position`` is the store's notification id, ``state`` the stored payload byte for byte.
    The entry's leaf index is not a field: the log assigns it, gap-free, in commit order.
    """

    position: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes
    recorded_at: str

    def __post_init__(self) -> None:
        validate_fields(
            self.position,
            self.originator_id,
            self.originator_version,
            self.topic,
            self.state,
            self.recorded_at,
        )

    def leaf_data(self) -> bytes:
        """The canonical bytes this entry contributes to the Merkle tree."""
        return leaf_data_encoded(
            self.position,
            self.originator_id.encode(),
            self.originator_version,
            self.topic.encode(),
            encode_state(self.state),
            self.recorded_at.encode(),
        )

    def leaf_hash(self) -> bytes:
        """The RFC 9162 leaf hash of this entry, as appended to the Merkle tree."""
        return leaf_hash_encoded(
            self.position,
            self.originator_id.encode(),
            self.originator_version,
            self.topic.encode(),
            encode_state(self.state),
            self.recorded_at.encode(),
        )
