"""Tamper evidence: a Merkle log over the ledger, signed checkpoints, and an offline verifier.

Storage-agnostic core, so that auditors can prove nothing in the ledger was altered,
removed or reordered without trusting the server that keeps it (docs/integrity.md):

* ``canonical`` — the exact bytes each ledger entry contributes as a leaf;
* ``merkle`` — RFC 9162 tree hashing, inclusion and consistency proofs, the accumulator;
* ``checkpoint`` — C2SP checkpoints in signed notes, verifier keys (``keys``: signing keys;
  ``signature``/``ed25519``: Ed25519 verification with ``cryptography`` or pure Python);
* ``rotation`` — the statement by which the log's old key hands over to a new one;
* ``cosignature`` — witnesses' cosignature/v1 lines and the k-of-n witness policy;
* ``verify`` — the export format, its writer and the offline verifier;
* ``log``/``sealer`` — the log over the ledger's store, and the thread that keeps it up;
* ``witness``/``witnessing`` — a principal's witness service, and the log asking witnesses;
* ``standalone`` — the verifier anyone runs, written as one standard-library file;
* ``errors`` — everything this package raises, under ``IntegrityError``.
"""

from .canonical import LedgerEntry
from .checkpoint import (
    Checkpoint,
    VerifierKey,
    parse_and_verify_checkpoint,
    parse_vkey,
    sign_checkpoint,
)
from .errors import ExportVerificationError, Finding, FindingKind, IntegrityError
from .keys import SigningKey, generate_signing_key, load_or_create_signing_key
from .merkle import (
    MerkleAccumulator,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from .verify import VerificationReport, export_lines, verify_export, write_export

__all__ = [
    "Checkpoint",
    "ExportVerificationError",
    "Finding",
    "FindingKind",
    "IntegrityError",
    "LedgerEntry",
    "MerkleAccumulator",
    "SigningKey",
    "VerificationReport",
    "VerifierKey",
    "consistency_proof",
    "export_lines",
    "generate_signing_key",
    "inclusion_proof",
    "leaf_hash",
    "load_or_create_signing_key",
    "parse_and_verify_checkpoint",
    "parse_vkey",
    "root_from_leaf_hashes",
    "sign_checkpoint",
    "verify_consistency",
    "verify_export",
    "verify_inclusion",
    "write_export",
]
