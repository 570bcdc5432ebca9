"""The verifier anyone runs: one Python file, standard library only (``samsyn verifier``).

``bundle()`` writes ``verify_samsyn.py``: the *real* modules of this package (``errors``,
``merkle``, ``canonical``, ``checkpoint``, ``rotation``, ``cosignature``, ``verify`` and
this one), embedded as text and imported from there by a small import hook, with
``ed25519`` (pure Python, RFC 8032) standing in for ``signature`` (which uses
``cryptography``). So the file is not a second verifier that could drift: it is the same
code ``samsyn verify`` runs, and a test runs it under ``python3 -I -S`` against good and
tampered exports.

``main`` is its command line (exit 0: verified; 1: something does not verify, one line
names the first bad entry or signature; 2: usage or unreadable input)::

    python3 verify_samsyn.py export FILE --key VKEY [--trusted-checkpoint CP]
                             [--consistency-proof JSON] [--witness WKEY ... --quorum K]
    python3 verify_samsyn.py checkpoint CP --key VKEY [--witness WKEY ... --quorum K]
    python3 verify_samsyn.py inclusion PROOF_JSON --key VKEY [--witness ...]
    python3 verify_samsyn.py consistency PROOF_JSON --key VKEY [--trusted-checkpoint CP]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .checkpoint import Checkpoint, parse_and_verify_checkpoint
from .cosignature import Policy, check_policy
from .errors import ExportVerificationError, IntegrityError
from .merkle import verify_consistency, verify_inclusion
from .verify import verify_export

BUNDLED = ("errors", "merkle", "canonical", "checkpoint", "rotation", "cosignature",
           "verify", "standalone")
"""The modules of this package the file embeds (``signature`` is ``ed25519`` there)."""

_HOOK = '''
class _Bundled(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the embedded modules (and only those) from SOURCES."""

    def find_spec(self, name, path=None, target=None):
        if name not in SOURCES:
            return None
        return importlib.util.spec_from_loader(name, self, is_package=name in PACKAGES)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        code = compile(SOURCES[module.__name__], "<verify_samsyn:" + module.__name__ + ">",
                       "exec")
        exec(code, module.__dict__)


sys.meta_path.insert(0, _Bundled())

if __name__ == "__main__":
    from ledger.integrity.standalone import main

    sys.exit(main())
'''


class Failed(Exception):
    """Something did not verify; the message says what (one line)."""


class Unusable(Exception):
    """The input cannot be read or understood (a usage error)."""


def bundle() -> str:
    """The text of ``verify_samsyn.py``, made from this package's own modules."""
    here = Path(__file__).parent
    sources = {
        "ledger": '"""Samsyn (only what the standalone verifier needs)."""\n',
        "ledger.errors": (here.parent / "errors.py").read_text(encoding="utf-8"),
        "ledger.integrity": '"""Samsyn\'s integrity layer, as embedded."""\n',
        "ledger.integrity.signature": (here / "ed25519.py").read_text(encoding="utf-8"),
    }
    for name in BUNDLED:
        sources[f"ledger.integrity.{name}"] = (here / f"{name}.py").read_text(encoding="utf-8")
    digest = hashlib.sha256(json.dumps(sources, sort_keys=True).encode()).hexdigest()
    lines = [
        "#!/usr/bin/env python3",
        '"""verify_samsyn.py: verify a Samsyn ledger export, checkpoint or proof without Samsyn.',
        "",
        "Written by 'samsyn verifier'. Needs Python 3.11 or newer and nothing else: the",
        "verifier's own modules are embedded below, byte for byte as Samsyn runs them.",
        "Run 'python3 verify_samsyn.py --help'. Embedded sources digest (SHA-256):",
        digest,
        '"""',
        "",
        "import importlib.abc",
        "import importlib.util",
        "import sys",
        "",
        'PACKAGES = {"ledger", "ledger.integrity"}',
        "SOURCES = {",
        *(f"    {name!r}: {text!r}," for name, text in sources.items()),
        "}",
    ]
    return "\n".join(lines) + "\n" + _HOOK


# -- the command line -------------------------------------------------------------------------


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Unusable(f"cannot read the {what} {path}: {exc}") from exc


def _key(value: str) -> str:
    """``--key``: a verifier key string, or a file holding one."""
    if "+" in value and not Path(value).is_file():
        return value
    return _read(value, "key file").strip()


def _json(path: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_read(path, what))
    except ValueError as exc:
        raise Unusable(f"the {what} {path} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise Unusable(f"the {what} {path} is not a JSON object")
    return value


def _hashes(values: object, what: str) -> list[bytes]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise Unusable(f"{what} must be a list of hex hashes")
    try:
        return [bytes.fromhex(v) for v in values]
    except ValueError as exc:
        raise Unusable(f"{what}: {exc}") from exc


def _policy(args: argparse.Namespace) -> Policy | None:
    if not args.witness:
        if args.quorum is not None:
            raise Unusable("--quorum needs --witness keys")
        return None
    try:
        return Policy.parse(args.witness, args.quorum)
    except IntegrityError as exc:
        raise Unusable(f"--witness/--quorum: {exc}") from exc


def _checkpoint(text: str, key: str, what: str) -> Checkpoint:
    try:
        return parse_and_verify_checkpoint(text, key)
    except IntegrityError as exc:
        raise Failed(f"the {what} does not verify: {exc}") from exc


def _attested(note: str, policy: Policy | None) -> str:
    """The policy's verdict on ``note``; raises ``Failed`` when below it."""
    if policy is None:
        return ""
    result = check_policy(note, policy)
    if not result.met:
        raise Failed(result.describe())
    return "; " + result.describe()


def _describe(cp: Checkpoint) -> str:
    return (f"{cp.origin}, tree size {cp.tree_size}, root {cp.root_hash.hex()}, signed "
            f"{cp.timestamp:%Y-%m-%dT%H:%M:%SZ}")


def _export(args: argparse.Namespace) -> str:
    trusted = _read(args.trusted_checkpoint, "trusted checkpoint") \
        if args.trusted_checkpoint else None
    proof = None
    if args.consistency_proof:
        proof = _hashes(_json(args.consistency_proof, "consistency proof").get("proof"),
                        "the consistency proof's 'proof'")
    policy = _policy(args)
    try:
        report = verify_export(args.file, trusted_vkey=_key(args.key) if args.key else None,
                               trusted_checkpoint=trusted, consistency_proof=proof,
                               workers=args.workers)
    except ExportVerificationError as exc:
        raise Failed(f"{args.file}: {exc.finding.describe()}") from exc
    except IntegrityError as exc:
        raise Unusable(str(exc)) from exc
    text = (f"ok: {args.file}: {report.entries} entries, {report.checkpoints} checkpoint(s) "
            f"verified; latest: {_describe(report.latest_checkpoint)} by {report.public_key}")
    if report.trusted_relation:
        text += f"; the trusted checkpoint is {report.trusted_relation}"
    for rotation in report.rotations:
        text += f"; key rotated after size {rotation.tree_size} to {rotation.new.vkey}"
    if not args.key:
        text += "; WARNING: no --key pinned, the export only proved itself consistent"
    return text + _attested(report.latest_checkpoint.text, policy)


def _checkpoint_command(args: argparse.Namespace) -> str:
    note = _read(args.file, "checkpoint")
    cp = _checkpoint(note, _key(args.key), "checkpoint")
    return f"ok: {_describe(cp)}" + _attested(note, _policy(args))


def _inclusion(args: argparse.Namespace) -> str:
    data = _json(args.file, "inclusion proof")
    note = data.get("checkpoint")
    if not isinstance(note, str):
        raise Unusable("the inclusion proof carries no signed 'checkpoint'")
    cp = _checkpoint(note, _key(args.key), "checkpoint of the inclusion proof")
    leaf = data.get("leaf")
    if isinstance(leaf, str):  # the entry's exact leaf bytes: hash them ourselves
        leaf_hash = hashlib.sha256(b"\x00" + leaf.encode()).digest()
        if "leaf_hash" in data and data["leaf_hash"] != leaf_hash.hex():
            raise Failed("the leaf does not hash to the leaf_hash given with it")
    else:
        leaf_hash = _hashes([data.get("leaf_hash")], "leaf_hash")[0]
    index, size = data.get("leaf_index"), data.get("tree_size", cp.tree_size)
    if type(index) is not int or size != cp.tree_size:
        raise Unusable("the proof needs an integer leaf_index and the checkpoint's tree_size")
    proof = _hashes(data.get("proof"), "the inclusion proof's 'proof'")
    if not verify_inclusion(leaf_hash, index, cp.tree_size, proof, cp.root_hash):
        raise Failed(f"leaf {index} is not included in the signed tree ({_describe(cp)})")
    what = "the leaf bytes given" if isinstance(leaf, str) else "the leaf hash given"
    return (f"ok: leaf {index} ({what}) is in the signed tree: {_describe(cp)}"
            + _attested(note, _policy(args)))


def _consistency(args: argparse.Namespace) -> str:
    data = _json(args.file, "consistency proof")
    key = _key(args.key)
    first_note = (_read(args.trusted_checkpoint, "trusted checkpoint")
                  if args.trusted_checkpoint else data.get("first_checkpoint"))
    second_note = data.get("second_checkpoint")
    if not isinstance(first_note, str) or not isinstance(second_note, str):
        raise Unusable("a consistency proof needs both signed checkpoints (or "
                       "--trusted-checkpoint for the first)")
    first = _checkpoint(first_note, key, "first checkpoint")
    second = _checkpoint(second_note, key, "second checkpoint")
    proof = _hashes(data.get("proof"), "the consistency proof's 'proof'")
    if not verify_consistency(first.tree_size, second.tree_size, first.root_hash,
                              second.root_hash, proof):
        raise Failed(f"the tree of size {second.tree_size} does not extend the tree of size "
                     f"{first.tree_size}: the log rewrote or forked its history")
    return (f"ok: the signed tree of size {second.tree_size} extends that of size "
            f"{first.tree_size} ({second.origin})" + _attested(second_note, _policy(args)))


def parser() -> argparse.ArgumentParser:
    """The standalone verifier's argument parser."""
    top = argparse.ArgumentParser(
        prog="verify_samsyn.py",
        description="Verify a Samsyn export, checkpoint or proof with the standard library.")
    sub = top.add_subparsers(dest="command", required=True)
    commands = {
        "export": (_export, "an export (samsyn export, GET /v1/integrity/export)"),
        "checkpoint": (_checkpoint_command, "a signed checkpoint note (and its cosignatures)"),
        "inclusion": (_inclusion, "an inclusion proof JSON (samsyn proof inclusion, "
                                  "GET /v1/integrity/leaves/{position})"),
        "consistency": (_consistency, "a consistency proof JSON (samsyn proof consistency)"),
    }
    for name, (func, help_text) in commands.items():
        cmd = sub.add_parser(name, help=help_text)
        cmd.set_defaults(func=func)
        cmd.add_argument("file")
        cmd.add_argument("--key", required=name != "export", metavar="VKEY",
                         help="the log's public key (string or file) to pin")
        cmd.add_argument("--witness", action="append", default=[], metavar="WKEY",
                         help="a witness key of the policy (repeat for each)")
        cmd.add_argument("--quorum", type=int, default=None, metavar="K",
                         help="at least K of the witnesses must have cosigned (default: all)")
        if name in ("export", "consistency"):
            cmd.add_argument("--trusted-checkpoint", metavar="CP",
                             help="a checkpoint kept from an earlier audit")
        if name == "export":
            cmd.add_argument("--consistency-proof", metavar="JSON",
                             help="proof that the export is a prefix of the trusted checkpoint")
            cmd.add_argument("--workers", type=int, default=None,
                             help="processes digesting the file (default: one per CPU for "
                                  "big files)")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run the standalone verifier; answer the exit status (0, 1 or 2)."""
    args = parser().parse_args(argv)
    try:
        print(args.func(args))
    except Failed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    except Unusable as exc:
        print(f"verify_samsyn.py: {exc}", file=sys.stderr)
        return 2
    return 0
