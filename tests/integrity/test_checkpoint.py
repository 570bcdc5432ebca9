"""Signed checkpoints: C2SP formats exactly, forgeries and malformed notes refused."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.integrity.checkpoint import (
    checkpoint_body,
    key_id,
    parse_and_verify_checkpoint,
    parse_vkey,
    sign_checkpoint,
)
from ledger.integrity.errors import (
    CheckpointFormatError,
    CheckpointSignatureError,
    IntegrityError,
    KeyFormatError,
)
from ledger.integrity.keys import (
    SigningKey,
    generate_signing_key,
    load_or_create_signing_key,
    load_signing_key,
    parse_skey,
    save_signing_key,
)
from ledger.integrity.merkle import EMPTY_ROOT, leaf_hash

ORIGIN = "samsyn.example/ledger"
ROOT = leaf_hash(b"root")
WHEN = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return generate_signing_key(ORIGIN)


@pytest.fixture(scope="module")
def note(key: SigningKey) -> str:
    return sign_checkpoint(key, ORIGIN, 1234, ROOT, timestamp=WHEN)


def resign(key: SigningKey, body: str) -> str:
    """A note with an arbitrary body, validly signed: to test what parsing refuses."""
    signature = key.verifier.key_id + key.sign(body.encode())
    return f"{body}\n\u2014 {key.name} {base64.b64encode(signature).decode()}\n"


# -- keys -------------------------------------------------------------------------------------


def test_the_key_id_follows_the_signed_note_spec(key: SigningKey) -> None:
    public = key.verifier.public_key
    expected = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + public).digest()[:4]
    assert key_id(ORIGIN, public) == expected == key.verifier.key_id


def test_the_verifier_key_string_is_name_plus_hex_id_plus_base64_type_and_key(
    key: SigningKey,
) -> None:
    name, hex_id, encoded = key.vkey.split("+", 2)
    assert name == ORIGIN
    assert hex_id == key.verifier.key_id.hex()
    assert base64.b64decode(encoded) == b"\x01" + key.verifier.public_key
    assert parse_vkey(key.vkey) == key.verifier


def test_verifier_keys_round_trip_even_when_their_base64_contains_plus() -> None:
    keys = [generate_signing_key("k.example/x") for _ in range(40)]
    assert any("+" in k.vkey.split("+", 2)[2] for k in keys)  # 40 keys: all but certain
    for k in keys:
        assert parse_vkey(k.vkey) == k.verifier
        assert parse_skey(k.to_skey()).verifier == k.verifier


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "no-plus-signs",
        "name+zzzzzzzz+AQ==",
        "name+1234567+AQ==",
        "has space+00000000+AQ==",
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(KeyFormatError):
        parse_vkey(vkey)


def test_a_verifier_key_whose_id_does_not_match_its_key_is_refused(key: SigningKey) -> None:
    name, _, encoded = key.vkey.split("+", 2)
    with pytest.raises(KeyFormatError, match="does not match"):
        parse_vkey(f"{name}+00000000+{encoded}")


def test_a_saved_key_is_private_to_its_owner_and_loads_back(tmp_path: Path) -> None:
    key = generate_signing_key(ORIGIN)
    path = tmp_path / "keys" / "checkpoint.key"
    save_signing_key(key, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("PRIVATE+KEY+samsyn.example/ledger+")
    assert load_signing_key(path).vkey == key.vkey
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.key"]  # no temp files left


def test_an_existing_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.key"
    first = generate_signing_key(ORIGIN)
    save_signing_key(first, path)
    with pytest.raises(KeyFormatError, match="refusing to overwrite"):
        save_signing_key(generate_signing_key(ORIGIN), path)
    assert load_signing_key(path).vkey == first.vkey


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.key"
    save_signing_key(generate_signing_key(ORIGIN), path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyFormatError, match="chmod 600"):
        load_signing_key(path)


def test_the_key_is_created_on_first_use_and_reused_after(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.key"
    created = load_or_create_signing_key(path, ORIGIN)
    assert load_or_create_signing_key(path, ORIGIN).vkey == created.vkey
    with pytest.raises(KeyFormatError, match="expected"):
        load_or_create_signing_key(path, "other.example/log")


def test_a_signing_key_never_shows_its_secret(key: SigningKey) -> None:
    # PRIVATE+KEY+<name>+<id>+<base64>: the base64 may itself hold "+", so split from the left.
    secret = key.to_skey().split("+", 4)[4]
    assert len(secret) == 44
    assert secret not in repr(key)
    assert secret not in str(key)


def test_integrity_errors_belong_to_the_ledger_error_hierarchy() -> None:
    from ledger.errors import SamsynError

    assert issubclass(IntegrityError, SamsynError)
    assert issubclass(CheckpointSignatureError, IntegrityError)


# -- checkpoints ------------------------------------------------------------------------------


def test_a_signed_checkpoint_has_the_c2sp_layout(key: SigningKey, note: str) -> None:
    body, signature_line = note.split("\n\n")
    assert body.split("\n") == [
        ORIGIN,
        "1234",
        base64.b64encode(ROOT).decode(),
        "timestamp 2025-03-04T05:06:07Z",
    ]
    assert signature_line.startswith(f"\u2014 {ORIGIN} ")
    assert signature_line.endswith("\n")
    raw = base64.b64decode(signature_line.split(" ")[2])
    assert raw[:4] == key.verifier.key_id and len(raw) == 4 + 64


def test_a_checkpoint_round_trips(key: SigningKey, note: str) -> None:
    checkpoint = parse_and_verify_checkpoint(note, key.vkey)
    assert checkpoint.origin == ORIGIN
    assert checkpoint.tree_size == 1234
    assert checkpoint.root_hash == ROOT
    assert checkpoint.timestamp == WHEN
    assert checkpoint.extensions == ()
    assert checkpoint.text == note


def test_extension_lines_and_local_timestamps_are_kept_in_utc(key: SigningKey) -> None:
    local = WHEN.astimezone(timezone(timedelta(hours=2)))
    note = sign_checkpoint(key, ORIGIN, 0, EMPTY_ROOT, timestamp=local, extensions=["x y"])
    checkpoint = parse_and_verify_checkpoint(note, key.verifier)
    assert checkpoint.timestamp == WHEN
    assert checkpoint.extensions == ("x y",)


def test_a_forged_signature_is_detected(key: SigningKey, note: str) -> None:
    body, signature_line = note.split("\n\n")
    raw = bytearray(base64.b64decode(signature_line.split(" ")[2]))
    raw[10] ^= 0x01
    forged = f"{body}\n\n\u2014 {ORIGIN} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(CheckpointSignatureError, match="invalid signature"):
        parse_and_verify_checkpoint(forged, key.vkey)


def test_a_changed_root_under_the_old_signature_is_detected(key: SigningKey, note: str) -> None:
    tampered = note.replace(base64.b64encode(ROOT).decode(), base64.b64encode(EMPTY_ROOT).decode())
    with pytest.raises(CheckpointSignatureError):
        parse_and_verify_checkpoint(tampered, key.vkey)


def test_a_checkpoint_signed_by_another_key_is_refused(note: str) -> None:
    stranger = generate_signing_key(ORIGIN)  # same name, different key: ID differs
    with pytest.raises(CheckpointSignatureError, match="not signed by"):
        parse_and_verify_checkpoint(note, stranger.vkey)


def test_a_signature_claiming_our_key_id_but_made_by_another_key_is_refused(
    key: SigningKey,
) -> None:
    impostor = SigningKey(ORIGIN, Ed25519PrivateKey.generate())
    body = checkpoint_body(ORIGIN, 5, ROOT, WHEN)
    signature = key.verifier.key_id + impostor.sign(body.encode())
    note = f"{body}\n\u2014 {ORIGIN} {base64.b64encode(signature).decode()}\n"
    with pytest.raises(CheckpointSignatureError, match="invalid signature"):
        parse_and_verify_checkpoint(note, key.vkey)


def test_other_signers_such_as_witnesses_are_ignored(key: SigningKey, note: str) -> None:
    witness = generate_signing_key("witness.example/w1")
    body = note.split("\n\n")[0] + "\n"
    cosignature = witness.verifier.key_id + witness.sign(body.encode())
    cosigned = note + f"\u2014 {witness.name} {base64.b64encode(cosignature).decode()}\n"
    assert parse_and_verify_checkpoint(cosigned, key.vkey).tree_size == 1234
    assert parse_and_verify_checkpoint(cosigned, witness.vkey).tree_size == 1234


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda n: n.replace("\n\n", "\n"), "no blank line"),
        (lambda n: n.rstrip("\n"), "does not end with a newline"),
        (lambda n: n.replace("\u2014", "-"), "malformed signature line"),
        (lambda n: n.replace("\n\n", "\n\nnot a signature\n"), "malformed signature line"),
        (lambda n: n.replace("1234\n", "1234\r\n"), "control characters"),
        (lambda n: n + "x" * (1 << 20), "too large"),
    ],
)
def test_malformed_notes_are_refused(note: str, mangle: object, reason: str) -> None:
    assert callable(mangle)
    with pytest.raises(CheckpointFormatError, match=reason):
        parse_and_verify_checkpoint(mangle(note), generate_signing_key(ORIGIN).vkey)


@pytest.mark.parametrize(
    "body",
    [
        f"{ORIGIN}\n1234\n{base64.b64encode(ROOT).decode()}\n",  # no timestamp line
        f"{ORIGIN}\n01234\n{base64.b64encode(ROOT).decode()}\ntimestamp 2025-03-04T05:06:07Z\n",
        f"{ORIGIN}\n-1\n{base64.b64encode(ROOT).decode()}\ntimestamp 2025-03-04T05:06:07Z\n",
        f"{ORIGIN}\n12\n{base64.b64encode(ROOT[:31]).decode()}\ntimestamp 2025-03-04T05:06:07Z\n",
        f"{ORIGIN}\n12\nnot base64!\ntimestamp 2025-03-04T05:06:07Z\n",
        f"{ORIGIN}\n12\n{base64.b64encode(ROOT).decode()}\ntimestamp 2025-13-04T05:06:07Z\n",
        f"{ORIGIN}\n12\n{base64.b64encode(ROOT).decode()}\ntimestamp 2025-03-04 05:06:07\n",
    ],
    ids=[
        "no-timestamp",
        "leading-zero-size",
        "negative-size",
        "short-root",
        "bad-base64-root",
        "impossible-date",
        "non-rfc3339-time",
    ],
)
def test_validly_signed_but_malformed_checkpoint_bodies_are_refused(
    key: SigningKey, body: str
) -> None:
    with pytest.raises(CheckpointFormatError):
        parse_and_verify_checkpoint(resign(key, body), key.vkey)


def test_checkpoints_cannot_be_made_with_lines_that_would_break_the_format(
    key: SigningKey,
) -> None:
    with pytest.raises(CheckpointFormatError):
        sign_checkpoint(key, "two\nlines", 1, ROOT, timestamp=WHEN)
    with pytest.raises(CheckpointFormatError):
        sign_checkpoint(key, ORIGIN, 1, ROOT, timestamp=WHEN, extensions=[""])
    with pytest.raises(CheckpointFormatError):
        sign_checkpoint(key, ORIGIN, 1, ROOT[:31], timestamp=WHEN)
    with pytest.raises(CheckpointFormatError):
        sign_checkpoint(key, ORIGIN, 1, ROOT, timestamp=datetime(2025, 1, 1))  # naive


def test_a_checkpoint_is_parsed_only_after_its_signature_verified(key: SigningKey) -> None:
    unsigned_garbage = "garbage\n\n\u2014 " + ORIGIN + " " + base64.b64encode(bytes(68)).decode()
    with pytest.raises(CheckpointSignatureError):
        parse_and_verify_checkpoint(unsigned_garbage + "\n", key.vkey)


# -- the worked example of docs/integrity.md --------------------------------------------------

EXAMPLE_SEED = hashlib.sha256(b"samsyn integrity example key").digest()
EXAMPLE_VKEY = "samsyn.example/ledger+740e2283+Ad0EZPf7xz1IJuoS97HadASxca42fXE8ataeXY1oOC1M"
EXAMPLE_NOTE = (
    "samsyn.example/ledger\n"
    "1\n"
    "njSc65JEJrNZYFTD1kmP3QhS3fltUYFO0Tn5fSQue1w=\n"
    "timestamp 2025-01-02T03:04:06Z\n"
    "\n"
    "\u2014 samsyn.example/ledger dA4igw2ZpPyYtvUyR1bMWXa2bXiGqzHlizV9+lVxvb9xiZmB3ksVelSlLpPz/Uv4"
    "EUmfG+hSqsPZt89xKjRIo3dEgg8=\n"
)


def test_the_documented_example_checkpoint_is_reproduced_byte_for_byte() -> None:
    """Ed25519 is deterministic: the published seed must give the published key and note."""
    key = SigningKey(ORIGIN, Ed25519PrivateKey.from_private_bytes(EXAMPLE_SEED))
    assert key.vkey == EXAMPLE_VKEY
    root = bytes.fromhex("9e349ceb924426b3596054c3d6498fdd0852ddf96d51814ed139f97d242e7b5c")
    moment = datetime(2025, 1, 2, 3, 4, 6, tzinfo=UTC)
    assert sign_checkpoint(key, ORIGIN, 1, root, timestamp=moment) == EXAMPLE_NOTE
    checkpoint = parse_and_verify_checkpoint(EXAMPLE_NOTE, EXAMPLE_VKEY)
    assert (checkpoint.tree_size, checkpoint.root_hash) == (1, root)
