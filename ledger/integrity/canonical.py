"""The canonical leaf encoding of one ledger entry: the exact bytes the Merkle tree commits to.

A leaf is a JSON text in one fixed form, so that nothing is left to canonicalise::

    {"format":"samsyn-leaf-v2","position":42,"originator_id":"3f2504e0-…",
     "originator_version":3,"topic":"ledger.domain.decision:Decision.Adopted",
     "recorded_at":"2025-01-02T03:04:05.123456+00:00","state_b64":"eyJ0aXRsZSI6…"}

(one line, no whitespace). The members come in exactly this order; the integers are
decimal without sign or leading zeros; every string is drawn from characters JSON never
escapes (a lowercase UUID, printable ASCII without ``"`` or ``\\``, an ISO 8601 time, the
base64 alphabet). So a writer fills a template, two different entries never encode alike
(every boundary is a ``"`` or ``,`` that no value contains), and no JSON library's choices
about escaping, number formats or key order ever come into it: this is not RFC 8785
canonicalisation, it is a format in which there is only one way to write each entry.

Why JSON at all: the export embeds each leaf verbatim, so an auditor reads the entries
as ordinary JSON and the verifier hashes the very bytes it reads, without parsing them
first. Verification then costs one SHA-256 per entry and finding two boundaries on the
line, which is what makes it about as fast as hashing.

``state_b64`` is the stored payload in standard base64 with padding (RFC 4648 §4), the one
encoding of those bytes: nothing changes about what is committed, and any payload, JSON
or not, fits the alphabet. ``format`` names the layout: a new layout gets a new name,
never a silent change. The leaf index is *not* part of the leaf: it is the leaf's place in
the tree, which the tree already commits to. It is distinct from ``position`` because store
notification ids may have gaps (1, 2, 4) while the log numbers its leaves 0, 1, 2, … in
commit order.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from dataclasses import dataclass

from .errors import EncodingError

LEAF_FORMAT = "samsyn-leaf-v2"
"""The ``format`` member of every leaf; a new layout gets a new name, never a silent change."""

LEAF_PREFIX = b'{"format":"' + LEAF_FORMAT.encode() + b'","position":'
"""The first bytes of every leaf, up to the position's digits."""

LEAF_MEMBERS = (
    "format",
    "position",
    "originator_id",
    "originator_version",
    "topic",
    "recorded_at",
    "state_b64",
)
"""The members of a leaf, in their one order."""

MAX_INT = 2**63 - 1
"""Largest position or version accepted: fits a signed 64-bit integer in every language."""

UUID_PATTERN = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""An originator id as stored: lowercase hex with dashes, as ``str(uuid.UUID(...))`` gives."""

TOPIC_PATTERN = re.compile(rb"[\x20\x21\x23-\x5b\x5d-\x7e]+")
"""A topic: printable ASCII without ``"`` and ``\\`` (what a Python ``module:Class`` is)."""

RECORDED_AT_PATTERN = re.compile(
    rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|\+00:00)"
)
"""ISO 8601 in UTC, as ``datetime.isoformat()`` of an aware UTC time gives (or with ``Z``)."""

BASE64_PATTERN = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
"""Standard base64 with padding, as ``state_b64`` must be."""

_TEMPLATE = (
    LEAF_PREFIX
    + b'%d,"originator_id":"%s","originator_version":%d,"topic":"%s","recorded_at":"%s",'
    b'"state_b64":"%s"}'
)
_sha256 = hashlib.sha256
_uuid_match = UUID_PATTERN.fullmatch
_topic_match = TOPIC_PATTERN.fullmatch
_recorded_at_match = RECORDED_AT_PATTERN.fullmatch
_base64_match = BASE64_PATTERN.fullmatch


def validate_encoded(
    position: int,
    originator_id: bytes,
    originator_version: int,
    topic: bytes,
    recorded_at: bytes,
    state_b64: bytes | None = None,
) -> None:
    """Raise ``EncodingError`` unless the (ASCII encoded) fields follow the canonical rules.

    The rules work on the encoded bytes because those are what gets hashed. Checking the
    textual formats (UUID, UTC timestamp) also catches a sealer and an exporter that render
    the same stored value differently: the hashes would then disagree for no reason an
    auditor could see. ``state_b64`` is checked when given (``encode_state`` always makes a
    valid one).
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
    if _topic_match(topic) is None:
        raise EncodingError(
            f'topic must be non-empty printable ASCII without " or \\, got {topic!r}'
        )
    if _recorded_at_match(recorded_at) is None:
        raise EncodingError(f"recorded_at must be ISO 8601 in UTC, got {recorded_at!r}")
    if state_b64 is not None and _base64_match(state_b64) is None:
        raise EncodingError("state_b64 must be standard base64 with padding")


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
    """The payload as the leaf carries it: standard base64 with padding."""
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
    return _TEMPLATE % (position, originator_id, originator_version, topic, recorded_at, state_b64)


def leaf_hash_encoded(
    position: int,
    originator_id: bytes,
    originator_version: int,
    topic: bytes,
    state_b64: bytes,
    recorded_at: bytes,
) -> bytes:
    """RFC 9162 leaf hash, SHA-256(0x00 || leaf data), of validated, encoded fields."""
    return _sha256(
        b"\x00"
        + leaf_data_encoded(
            position, originator_id, originator_version, topic, state_b64, recorded_at
        )
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
        return _sha256(b"\x00" + self.leaf_data()).digest()
