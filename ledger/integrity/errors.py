"""The integrity errors: every refusal of the tamper-evidence layer, under one base."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ledger.errors import SamsynError


class IntegrityError(SamsynError):
    """Base of every error raised on purpose by ``ledger.integrity``.

    It subclasses the ledger's ``SamsynError`` so that the HTTP layer and the CLI report
    integrity refusals like any other, with a stable ``kind`` to switch on.
    """

    kind = "integrity-error"
    title = "Integrity error"


class EncodingError(IntegrityError, ValueError):
    """A ledger entry cannot be encoded canonically (wrong type, out of range, bad format)."""

    kind = "integrity-encoding"
    title = "Entry cannot be encoded canonically"


class TreeError(IntegrityError, ValueError):
    """A Merkle proof was requested for an index or size the tree does not have."""

    kind = "integrity-tree"
    title = "No such position in the Merkle tree"


class KeyFormatError(IntegrityError):
    """A signing or verifier key (string or file) is malformed or unsafe to use."""

    kind = "integrity-key"
    title = "Unusable signing or verifier key"


class CheckpointError(IntegrityError):
    """A checkpoint is unacceptable; see the subclasses for why."""

    kind = "integrity-checkpoint"
    title = "Unacceptable checkpoint"


class CheckpointFormatError(CheckpointError):
    """The text is not a well-formed signed checkpoint (tlog-checkpoint / signed-note)."""

    kind = "integrity-checkpoint-format"
    title = "Malformed checkpoint"


class CheckpointSignatureError(CheckpointError):
    """The checkpoint is well-formed but carries no valid signature by the trusted key."""

    kind = "integrity-checkpoint-signature"
    title = "Checkpoint signature invalid"


class ExportWriteError(IntegrityError, ValueError):
    """The writer was given entries and checkpoints that cannot form a verifiable export."""

    kind = "integrity-export-write"
    title = "Cannot write a verifiable export"


class FindingKind(StrEnum):
    """What the offline verifier found wrong; stable values a CLI or report may switch on."""

    MALFORMED = "malformed"
    """A line, the header or a checkpoint note does not follow the export format."""
    KEY_MISMATCH = "key-mismatch"
    """The export's public key is not the key the auditor pinned."""
    BAD_SIGNATURE = "bad-signature"
    """A checkpoint is not validly signed by the export's key."""
    ORIGIN_MISMATCH = "origin-mismatch"
    """A checkpoint names a different log than the export header."""
    ALTERED = "altered"
    """An entry's content no longer hashes to the leaf hash sealed for it."""
    MISSING = "missing"
    """Entries the log committed to are absent from the export."""
    REORDERED = "reordered"
    """Entries are out of leaf order or out of position order."""
    ROOT_MISMATCH = "root-mismatch"
    """The recomputed tree differs from a signed checkpoint: entries were rewritten."""
    UNSEALED = "unsealed"
    """The export does not end with a checkpoint covering every entry (e.g. it was cut)."""
    TRUSTED_MISMATCH = "trusted-mismatch"
    """The export is inconsistent with the checkpoint the auditor kept earlier."""
    BAD_ROTATION = "bad-rotation"
    """A key rotation statement is not signed by the log's key and the new key, or misplaced."""
    BELOW_POLICY = "below-policy"
    """The latest checkpoint carries fewer valid witness cosignatures than the policy asks."""


@dataclass(frozen=True)
class Finding:
    """The first thing found wrong with an export, precise enough to act on.

    ``leaf_index`` and ``position`` name the first entry concerned when one can be named.
    ``confirmed_size`` counts the leading entries that a matching signed checkpoint proved
    authentic before the problem was met: those need no further doubt.
    """

    kind: FindingKind
    detail: str
    line_number: int | None = None
    leaf_index: int | None = None
    position: int | None = None
    confirmed_size: int = 0

    def describe(self) -> str:
        """One line for a terminal or a log: what, where, and how much is still proven."""
        where = []
        if self.leaf_index is not None:
            where.append(f"leaf index {self.leaf_index}")
        if self.position is not None:
            where.append(f"position {self.position}")
        if self.line_number is not None:
            where.append(f"line {self.line_number}")
        located = f" ({', '.join(where)})" if where else ""
        return (
            f"{self.kind.value}{located}: {self.detail} "
            f"[first {self.confirmed_size} entries proven authentic]"
        )


class ExportVerificationError(IntegrityError):
    """The offline verifier refused an export; ``finding`` names the first problem."""

    kind = "integrity-export-verification"
    title = "Export failed verification"

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.describe())
        self.finding = finding


class KeyIdentityError(IntegrityError):
    """The signing key is not the one the log's checkpoints are signed with (or is missing).

    A log that signed with one key and then silently with another would make every earlier
    checkpoint unverifiable under the published key; a new key needs a recorded rotation.
    """

    kind = "integrity-key-identity"
    title = "Signing key is not the log's key"


class HistoryRegressed(IntegrityError):
    """The ledger's rows no longer continue what was sealed (an old backup restored, a sealed
    row gone or changed, or a row changed between its append and its sealing)."""

    kind = "integrity-history-regressed"
    title = "Ledger history moved backwards"
