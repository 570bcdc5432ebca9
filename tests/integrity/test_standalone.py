"""The standalone verifier: one file, standard library only, the same answers as
``samsyn verify`` on good and tampered exports (run under ``python3 -I -S``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api import cli
from ledger.integrity import ed25519, signature
from ledger.integrity.errors import ExportVerificationError
from ledger.integrity.log import IntegrityLog
from ledger.integrity.standalone import bundle
from ledger.integrity.verify import verify_export
from tests.integrity.test_tamper import integrity  # noqa: F401  (the fixture)

Verifier = Callable[..., subprocess.CompletedProcess[str]]

RFC8032_TEST_1 = (
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    "",
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39"
    "701cf9b46bd25bf5f0595bbe24655141438e7a100b",
)


def test_pure_python_ed25519_agrees_with_cryptography() -> None:
    public, message, sig = (bytes.fromhex(h) for h in RFC8032_TEST_1)
    assert ed25519.verify(public, message, sig) and signature.verify(public, message, sig)
    for n in range(8):
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes_raw()
        message = os.urandom(n * 40)
        sig = key.sign(message)
        forged = [
            sig[:-1] + bytes([sig[-1] ^ 1]),  # S changed
            bytes([sig[0] ^ 1]) + sig[1:],  # R changed
            # S + L: the same point, a non-canonical scalar; RFC 8032 refuses it
            sig[:32] + (int.from_bytes(sig[32:], "little") + ed25519._L).to_bytes(32, "little"),
        ]
        assert ed25519.verify(public, message, sig) is signature.verify(public, message, sig)
        assert ed25519.verify(public, message, sig)
        assert not ed25519.verify(public, message + b"x", sig)
        for bad in forged:
            assert ed25519.verify(public, message, bad) is signature.verify(public, message, bad)
            assert not ed25519.verify(public, message, bad)


@pytest.fixture
def verifier(tmp_path: Path) -> Verifier:
    """Run the written file with only the standard library in reach."""
    path = tmp_path / "verify_samsyn.py"
    path.write_text(bundle(), encoding="utf-8")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-I", "-S", str(path), *args], cwd=tmp_path,
                              env={}, capture_output=True, text=True, timeout=300)

    return run


def test_the_file_runs_without_any_third_party_package(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import importlib.util\n"
        "print([m for m in ('cryptography', 'fastapi', 'ledger', 'pydantic')"
        " if importlib.util.find_spec(m)])\n"
    )
    out = subprocess.run([sys.executable, "-I", "-S", str(probe)], cwd=tmp_path, env={},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_samsyn_verifier_prints_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["verifier"]) == 0
    assert capsys.readouterr().out == bundle()


def test_a_good_export_verifies_with_the_pinned_key(
    integrity: IntegrityLog, tmp_path: Path, verifier: Verifier  # noqa: F811
) -> None:
    path = tmp_path / "export.jsonl"
    integrity.export(path)
    report = verify_export(path, trusted_vkey=integrity.public_key)
    done = verifier("export", str(path), "--key", integrity.public_key)
    assert done.returncode == 0, done.stderr
    assert f"{report.entries} entries, {report.checkpoints} checkpoint(s) verified" in done.stdout


def tampered_exports(text: str) -> dict[str, str]:
    lines = text.splitlines(keepends=True)
    entries = [i for i, line in enumerate(lines) if '"kind":"entry"' in line]
    checkpoints = [i for i, line in enumerate(lines) if '"kind":"checkpoint"' in line]
    third = entries[2]
    altered = lines.copy()
    altered[third] = altered[third].replace('"state_b64":"ey', '"state_b64":"ez', 1)
    swapped = lines.copy()
    swapped[entries[3]], swapped[entries[4]] = swapped[entries[4]], swapped[entries[3]]
    forged = lines.copy()
    note = json.loads(lines[checkpoints[-1]])["note"].split("\n")
    note[2] = ("B" if note[2][0] == "A" else "A") + note[2][1:]  # another root, same signature
    forged[checkpoints[-1]] = json.dumps(
        {"kind": "checkpoint", "note": "\n".join(note)}, separators=(",", ":"),
        ensure_ascii=False) + "\n"
    return {
        "altered": "".join(altered),
        "removed": "".join(lines[:third] + lines[third + 1:]),
        "swapped": "".join(swapped),
        "cut": "".join(lines[:-1]),
        "forged checkpoint": "".join(forged),
    }


def test_tampered_exports_fail_with_the_same_finding_as_samsyn_verify(
    integrity: IntegrityLog, tmp_path: Path, verifier: Verifier  # noqa: F811
) -> None:
    path = tmp_path / "export.jsonl"
    integrity.export(path)
    for name, text in tampered_exports(path.read_text(encoding="utf-8")).items():
        bad = tmp_path / f"{name.replace(' ', '-')}.jsonl"
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(ExportVerificationError) as caught:
            verify_export(bad, trusted_vkey=integrity.public_key)
            pytest.fail(f"the {name} export verified")
        done = verifier("export", str(bad), "--key", integrity.public_key)
        assert done.returncode == 1, (name, done.stdout, done.stderr)
        assert caught.value.finding.describe() in done.stderr, name


def test_inclusion_and_consistency_proofs_verify_and_a_fork_does_not(
    integrity: IntegrityLog, tmp_path: Path, verifier: Verifier  # noqa: F811
) -> None:
    checkpoints = integrity.checkpoints()
    first, second = checkpoints[0].tree_size, checkpoints[-1].tree_size
    position = integrity.sealed_position
    receipt = integrity.receipt(position)
    inclusion = tmp_path / "inclusion.json"
    inclusion.write_text(json.dumps({
        "leaf_index": receipt.leaf_index, "leaf_hash": receipt.leaf_hash.hex(),
        "tree_size": receipt.tree_size, "proof": [h.hex() for h in receipt.proof],
        "checkpoint": receipt.checkpoint,
    }))
    done = verifier("inclusion", str(inclusion), "--key", integrity.public_key)
    assert done.returncode == 0, done.stderr
    consistency = {
        "first": first, "second": second,
        "proof": [h.hex() for h in integrity.consistency_proof(first, second)],
        "first_checkpoint": checkpoints[0].note, "second_checkpoint": checkpoints[-1].note,
    }
    good = tmp_path / "consistency.json"
    good.write_text(json.dumps(consistency))
    done = verifier("consistency", str(good), "--key", integrity.public_key)
    assert done.returncode == 0, done.stderr
    assert f"size {second} extends that of size {first}" in done.stdout
    consistency["proof"] = [bytes(32).hex(), *consistency["proof"][1:]]
    fork = tmp_path / "fork.json"
    fork.write_text(json.dumps(consistency))
    done = verifier("consistency", str(fork), "--key", integrity.public_key)
    assert done.returncode == 1
    assert "forked" in done.stderr


def test_unreadable_input_is_one_line_and_exit_2(
    tmp_path: Path, verifier: Verifier
) -> None:
    done = verifier("checkpoint", str(tmp_path / "nowhere"), "--key", "x+00000000+AA==")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
