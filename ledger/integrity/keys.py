"""The log's and the witnesses' Ed25519 signing keys: generation and key files.

Key files hold the signed-note private key string (``PRIVATE+KEY+<name>+<hex id>+<base64>``,
as Go's ``note.GenerateKey`` writes it), UTF-8, mode 0600, never overwritten. Signing needs
``cryptography``; verifying does not (``checkpoint`` and ``signature``/``ed25519``), which is
what lets the standalone verifier run on the standard library alone.
"""

from __future__ import annotations

import base64
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .checkpoint import ALG_ED25519, VerifierKey, check_key_name, strict_b64decode
from .errors import KeyFormatError

_PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"


@dataclass(frozen=True)
class SigningKey:
    """A named Ed25519 private key that signs checkpoints. Keep it secret."""

    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        check_key_name(self.name)

    @property
    def verifier(self) -> VerifierKey:
        """The public half, to publish and pin."""
        public = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return VerifierKey(self.name, public)

    @property
    def vkey(self) -> str:
        """The published verifier key string of this key."""
        return self.verifier.vkey

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature of ``message`` (64 bytes)."""
        return self.private_key.sign(message)

    def to_skey(self) -> str:
        """The signed-note private key string ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01||seed)>``.

        The same format Go's ``note.GenerateKey`` produces, so the key can move to other tools.
        """
        seed = self.private_key.private_bytes_raw()
        encoded = base64.b64encode(bytes([ALG_ED25519]) + seed).decode()
        return f"{_PRIVATE_KEY_PREFIX}{self.name}+{self.verifier.key_id.hex()}+{encoded}"

    def __repr__(self) -> str:  # never print key material into logs
        return f"SigningKey(name={self.name!r}, key_id={self.verifier.key_id.hex()})"


def generate_signing_key(name: str) -> SigningKey:
    """A fresh random Ed25519 key named ``name`` (a schema-less URL, e.g. the log's origin)."""
    return SigningKey(name, Ed25519PrivateKey.generate())


def parse_skey(skey: str) -> SigningKey:
    """Parse a private key string written by ``SigningKey.to_skey`` (or Go's note package)."""
    if not skey.startswith(_PRIVATE_KEY_PREFIX):
        raise KeyFormatError("a private key string starts with PRIVATE+KEY+")
    parts = skey[len(_PRIVATE_KEY_PREFIX) :].split("+", 2)
    if len(parts) != 3:
        raise KeyFormatError("a private key string is PRIVATE+KEY+<name>+<hex id>+<base64 key>")
    name, hex_id, encoded = parts
    if not re.fullmatch(r"[0-9a-fA-F]{8}", hex_id):
        raise KeyFormatError(f"private key ID must be 8 hex digits, got {hex_id!r}")
    raw = strict_b64decode(encoded, "private key")
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise KeyFormatError("private key must be 0x01 (Ed25519) followed by a 32-byte seed")
    key = SigningKey(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
    if key.verifier.key_id.hex() != hex_id.lower():
        raise KeyFormatError(f"private key ID {hex_id} does not match key {name!r}")
    return key


def save_signing_key(key: SigningKey, path: str | os.PathLike[str]) -> None:
    """Write ``key`` to a new file readable by its owner only (mode 0600); never overwrite.

    The key is written to a private temporary file and hard-linked into place, so the file
    either does not exist or is complete, and an existing key is never replaced by accident
    (replacing the log's key silently would orphan every checkpoint signed with it).
    """
    target = Path(path)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".samsyn-key-")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(key.to_skey() + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, target)
        except FileExistsError as exc:
            raise KeyFormatError(f"refusing to overwrite existing key file {target}") from exc
    finally:
        os.unlink(tmp)


def load_signing_key(path: str | os.PathLike[str]) -> SigningKey:
    """Read a key saved by ``save_signing_key``; refuse it if others may read the file."""
    target = Path(path)
    if os.name == "posix" and target.stat().st_mode & 0o077:
        raise KeyFormatError(
            f"key file {target} is accessible to group or others; run: chmod 600 {target}"
        )
    text = target.read_text(encoding="utf-8")
    return parse_skey(text.removesuffix("\n"))


def load_or_create_signing_key(path: str | os.PathLike[str], name: str) -> SigningKey:
    """The key at ``path``, generated and saved (mode 0600) on first use.

    Raises ``KeyFormatError`` if the existing key has another name: a changed name means a
    changed configuration, and signing under a name auditors do not expect helps no one.
    """
    target = Path(path)
    if not target.exists():
        try:
            save_signing_key(generate_signing_key(name), target)
        except KeyFormatError:
            if not target.exists():
                raise
            # another process created it first: use theirs
    key = load_signing_key(target)
    if key.name != name:
        raise KeyFormatError(f"key file {target} holds key {key.name!r}, expected {name!r}")
    return key
