"""The integrity commands of ``samsyn``: export, verify (offline and live), checkpoint, proof.

``samsyn verify FILE`` needs neither the server nor the database: it is what an auditor runs
on an export. The others open the configured store. Each command is a function taking the
parsed arguments and answering the exit status: 0 fine, 1 something is wrong with the
ledger or the export (one line on stderr names the first bad entry), 2 a usage error.
``add_parsers`` wires them into ``samsyn``'s argparse subcommands.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.integrity.errors import Finding, FindingKind

if TYPE_CHECKING:
    from rich.progress import Progress

    from ledger.application import Ledger
    from ledger.integrity.log import IntegrityLog
    from ledger.settings import Settings

_SAMPLE_BYTES = 1 << 20
_WHOLE_EXPORT = frozenset({FindingKind.KEY_MISMATCH, FindingKind.TRUSTED_MISMATCH})
"""Findings about the export as a whole: no entry to name."""


def _err(message: str) -> None:
    print(f"samsyn: {message}", file=sys.stderr)


@contextmanager
def _progress() -> Iterator[Progress]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        yield progress


@contextmanager
def _opened(
    settings: Settings | None, schema: str | None
) -> Iterator[tuple[Ledger, IntegrityLog]]:
    from ledger.application import Ledger
    from ledger.integrity.log import IntegrityLog
    from ledger.settings import get_settings
    from ledger.storage import persistence_env

    settings = settings or get_settings()
    ledger = Ledger(env=persistence_env(settings, schema=schema))
    try:
        with IntegrityLog(settings, schema=schema, ledger=ledger) as integrity:
            yield ledger, integrity
    finally:
        ledger.close()


def _read_text(path: str, what: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        _err(f"cannot read the {what} {path}: {e}")
        return None


# -- samsyn export ----------------------------------------------------------------------------


def export(
    args: argparse.Namespace, *, settings: Settings | None = None, schema: str | None = None
) -> int:
    """``samsyn export FILE [--from N] [--to N]``: seal, sign a checkpoint, write an export."""
    from ledger.integrity.log import ExportRangeError

    with _opened(settings, schema) as (ledger, integrity):
        if not getattr(args, "no_checkpoint", False):
            integrity.seal_all(ledger)
            integrity.issue_checkpoint()
        try:
            plan = integrity.plan_export(args.from_position, args.to_position)
        except ExportRangeError as e:
            _err(str(e))
            return 1
        with _progress() as progress:
            task = progress.add_task("exporting", total=plan.tree_size)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done)

            if args.file == "-":
                summary = integrity.export(sys.stdout, args.from_position, args.to_position,
                                           advance, ledger=ledger)
            else:
                try:
                    summary = integrity.export(args.file, args.from_position, args.to_position,
                                               advance, ledger=ledger)
                except FileExistsError:
                    _err(f"{args.file} exists; an export never overwrites a file")
                    return 2
    print(
        f"exported {summary.entries} entries and {summary.checkpoints} checkpoint(s) "
        f"(tree size {summary.tree_size}, root {summary.root_hash.hex()}) to {args.file}; "
        f"public key {integrity.public_key}",
        file=sys.stderr,
    )
    if summary.damaged:
        _err(
            "the store is damaged: "
            + "; ".join(
                part
                for part in (
                    f"rows missing at positions {summary.missing_rows[:5]}"
                    if summary.missing_rows else "",
                    f"rows unreadable at positions {summary.unreadable_rows[:5]}"
                    if summary.unreadable_rows else "",
                    f"checkpoints not validly signed at sizes {summary.bad_checkpoints[:5]}"
                    if summary.bad_checkpoints else "",
                )
                if part
            )
            + " (the export shows it as it is; run 'samsyn verify --live')"
        )
        return 1
    return 0


# -- samsyn verify ----------------------------------------------------------------------------


def _estimate_entries(path: str) -> int | None:
    """Lines in the file, estimated from its first MiB (for the progress bar)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            sample = f.read(_SAMPLE_BYTES)
    except OSError:
        return None
    lines = sample.count(b"\n")
    if not lines or not sample:
        return None
    return max(1, round(size * lines / len(sample)))


def _pinned_key(value: str | None) -> str | None:
    """``--key`` is a verifier key string, or a file holding one."""
    if value is None or ("+" in value and not Path(value).is_file()):
        return value
    text = _read_text(value, "key file")
    return text.strip() if text is not None else ""


def _proof_and_policy(args: argparse.Namespace) -> tuple[Any, Any]:
    """(consistency proof hashes or None, witness policy or None); False for a bad one
    (after saying why)."""
    from ledger.integrity.cosignature import Policy
    from ledger.integrity.errors import IntegrityError

    proof: Any = None
    policy: Any = None
    if getattr(args, "consistency_proof", None):
        text = _read_text(args.consistency_proof, "consistency proof")
        try:
            proof = [bytes.fromhex(h) for h in json.loads(text or "")["proof"]]
        except (ValueError, KeyError, TypeError) as e:
            _err(f"--consistency-proof: not the JSON of 'samsyn proof consistency' ({e})")
            proof = False
    if getattr(args, "witness", None):
        try:
            policy = Policy.parse(args.witness, args.quorum)
        except IntegrityError as e:
            _err(f"--witness/--quorum: {e}")
            policy = False
    return proof, policy


def _named(finding: Finding) -> str:
    """The finding in one line, naming the first entry not proven when it names none."""
    text = finding.describe()
    if finding.leaf_index is None and finding.kind not in _WHOLE_EXPORT:
        text += f"; entries from leaf index {finding.confirmed_size} on are not proven"
    return text


def verify(
    args: argparse.Namespace, *, settings: Settings | None = None, schema: str | None = None
) -> int:
    """``samsyn verify FILE [--trusted-checkpoint CP] [--key VKEY]`` or ``--live``."""
    if getattr(args, "live", False):
        return verify_live(args, settings=settings, schema=schema)
    if not args.file:
        _err("verify needs an export FILE, or --live to check the running store")
        return 2
    from ledger.integrity.cosignature import check_policy
    from ledger.integrity.errors import ExportVerificationError, KeyFormatError
    from ledger.integrity.verify import verify_export

    path: str = args.file
    if not os.path.isfile(path):
        _err(f"cannot read {path}: no such file")
        return 2
    trusted = None
    if args.trusted_checkpoint:
        trusted = _read_text(args.trusted_checkpoint, "trusted checkpoint")
        if trusted is None:
            return 2
    key = _pinned_key(args.key)
    if key == "":
        return 2
    proof, policy = _proof_and_policy(args)
    if proof is False or policy is False:
        return 2
    with _progress() as progress:
        task = progress.add_task("verifying", total=_estimate_entries(path))

        def advance(done: int) -> None:
            total = progress.tasks[0].total
            if total is not None and done > total:
                progress.update(task, total=done)
            progress.update(task, completed=done)

        try:
            report = verify_export(path, trusted_vkey=key, trusted_checkpoint=trusted,
                                   consistency_proof=proof or None, progress=advance,
                                   workers=args.workers)
        except ExportVerificationError as e:
            _err(f"{path}: {_named(e.finding)}")
            return 1
        except KeyFormatError as e:
            _err(f"--key: {e}")
            return 2
    checkpoint = report.latest_checkpoint
    print(
        f"ok: {path}: {report.entries} entries (positions {report.first_position}-"
        f"{report.last_position}), {report.checkpoints} checkpoint(s) verified; latest: tree size "
        f"{checkpoint.tree_size}, root {report.root_hash.hex()}, signed "
        f"{checkpoint.timestamp:%Y-%m-%dT%H:%M:%SZ} by {report.public_key}"
        + (f"; the trusted checkpoint is {report.trusted_relation}" if trusted else "")
        + "".join(f"; key rotated after size {r.tree_size} from {r.old.vkey} to {r.new.vkey}"
                  for r in report.rotations)
    )
    if policy:
        result = check_policy(checkpoint.text, policy)
        if not result.met:
            _err(f"{path}: the latest checkpoint {result.describe()}")
            return 1
        print(f"attested: the latest checkpoint is {result.describe()}")
    if not report.key_pinned:
        print(
            "warning: the key was not pinned (--key): the export is consistent with the key it "
            "carries, which proves nothing about who signed it",
            file=sys.stderr,
        )
    return 0


def verify_live(
    args: argparse.Namespace, *, settings: Settings | None = None, schema: str | None = None
) -> int:
    """``samsyn verify --live``: check the store itself against its leaves and checkpoints."""
    with _opened(settings, schema) as (ledger, integrity), _progress() as progress:
        task = progress.add_task("checking the store", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = integrity.verify_live(ledger, progress=advance)
    if report.ok:
        print(report.describe())
        return 0
    _err(f"the store does not match its integrity log: {report.describe()}")
    for problem in report.problems[1:10]:
        print(f"  {problem.describe()}", file=sys.stderr)
    return 1


# -- samsyn checkpoint / proof / public-key ---------------------------------------------------


def checkpoint(
    args: argparse.Namespace, *, settings: Settings | None = None, schema: str | None = None
) -> int:
    """``samsyn checkpoint``: seal what is stored and print a checkpoint signed now."""
    with _opened(settings, schema) as (ledger, integrity):
        sealed = integrity.seal_all(ledger)
        note = integrity.issue_checkpoint()
    sys.stdout.write(note)
    print(f"sealed {sealed} new entries; key {integrity.public_key}", file=sys.stderr)
    return 0


def proof(
    args: argparse.Namespace, *, settings: Settings | None = None, schema: str | None = None
) -> int:
    """``samsyn proof inclusion POSITION [--tree-size N]`` / ``proof consistency A B``."""
    from ledger.integrity.errors import IntegrityError

    out: dict[str, Any]
    with _opened(settings, schema) as (ledger, integrity):
        try:
            if args.kind == "inclusion" and not 1 <= args.position <= ledger.max_position():
                _err(f"no entry at position {args.position}: the ledger holds positions 1 to "
                     f"{ledger.max_position()}")
                return 1
            if args.kind == "inclusion":
                receipt = integrity.receipt(args.position, args.tree_size)
                out = {
                    "position": receipt.position,
                    "leaf_index": receipt.leaf_index,
                    "leaf_hash": receipt.leaf_hash.hex(),
                    "tree_size": receipt.tree_size,
                    "root_hash": receipt.root_hash.hex(),
                    "proof": [h.hex() for h in receipt.proof],
                    "checkpoint": receipt.checkpoint,
                    "leaf": integrity.leaf_data(args.position).decode("ascii"),
                }
            else:
                hashes = integrity.consistency_proof(args.first, args.second)
                first_cp = integrity.checkpoint_at(args.first)
                second_cp = integrity.checkpoint_at(args.second)
                out = {
                    "first": args.first,
                    "second": args.second,
                    "first_root": integrity.root_at(args.first).hex(),
                    "second_root": integrity.root_at(args.second).hex(),
                    "proof": [h.hex() for h in hashes],
                    "first_checkpoint": first_cp.note if first_cp else None,
                    "second_checkpoint": second_cp.note if second_cp else None,
                }
        except IntegrityError as e:
            _err(str(e))
            return 1
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


def public_key(
    args: argparse.Namespace, *, settings: Settings | None = None, schema: str | None = None
) -> int:
    """``samsyn public-key``: the verifier key auditors pin (made on first use)."""
    from ledger.integrity.log import IntegrityLog
    from ledger.settings import get_settings

    with IntegrityLog(settings or get_settings(), schema=schema) as integrity:
        print(integrity.public_key)
    return 0


def key_rotate(
    args: argparse.Namespace, *, settings: Settings | None = None, schema: str | None = None
) -> int:
    """``samsyn key rotate``: hand the log's signing over to a new key, recorded in the log.

    Seals and signs what is stored with the old key, makes a new key beside it, records the
    statement signed by both, then puts the new key in place of the old file (kept as
    ``<key file>.retired-<key id>``). Services and sealers still holding the old key stop
    signing until restarted with the new file.
    """
    from ledger.integrity.errors import IntegrityError
    from ledger.integrity.keys import generate_signing_key, save_signing_key

    with _opened(settings, schema) as (ledger, integrity):
        try:
            integrity.seal_all(ledger)
            integrity.issue_checkpoint()
            old_id = integrity.vkey.split("+")[1]
            path = integrity.key_path
            staged = path.with_name(path.name + ".new")
            new = generate_signing_key(integrity.origin)
            save_signing_key(new, staged)
            statement = integrity.rotate_key(new)
        except (IntegrityError, OSError) as e:
            _err(f"key rotation refused: {e}")
            return 1
        retired = path.with_name(f"{path.name}.retired-{old_id}")
        os.link(path, retired)
        os.replace(staged, path)
    sys.stdout.write(statement)
    print(
        f"the log now signs with {new.vkey}; the old key is kept in {retired}. Restart every "
        "service and sealer of this ledger with the new key file.",
        file=sys.stderr,
    )
    return 0


def witness(args: argparse.Namespace, **_: Any) -> int:
    """``samsyn witness``: a principal's witness, cosigning the log's checkpoints over HTTP
    (C2SP tlog-witness) as long as the log only grows. Its key is made on first start."""
    import threading

    import structlog

    from ledger.following import stop_on_signals
    from ledger.integrity.errors import IntegrityError
    from ledger.integrity.keys import load_or_create_signing_key, load_signing_key
    from ledger.integrity.witness import Witness, WitnessServer, check_log_keys, witness_key_of

    key_path = Path(args.key)
    try:
        name = args.name or (load_signing_key(key_path).name if key_path.exists() else None)
        if not name:
            _err("a new witness key needs --name (e.g. witness.berg.example/samsyn)")
            return 2
        key = load_or_create_signing_key(key_path, name)
        if args.print_key:
            print(witness_key_of(key).vkey)
            return 0
        check_log_keys(args.log)
        state = args.state or f"{key_path}.state.sqlite3"
        server = WitnessServer(Witness(key, args.log, state), args.host, args.port)
    except (IntegrityError, OSError) as e:
        _err(f"witness: {e}")
        return 2
    log = structlog.get_logger("samsyn.witness")
    stop = threading.Event()
    stop_on_signals(stop, log, "witness stopping")
    thread = threading.Thread(target=server.serve_forever, name="samsyn-witness", daemon=True)
    thread.start()
    log.info("witness listening", url=server.url, key=server.witness.public.vkey,
             logs=len(args.log), state=str(state))
    print(f"witness {server.witness.public.vkey} listening on {server.url}", file=sys.stderr,
          flush=True)
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.witness.close()
    return 0


def verifier(args: argparse.Namespace, **_: Any) -> int:
    """``samsyn verifier > verify_samsyn.py``: the standalone verifier, one file, stdlib only."""
    from ledger.integrity.standalone import bundle

    sys.stdout.write(bundle())
    return 0


# -- wiring -----------------------------------------------------------------------------------


def add_parsers(sub: Any) -> None:
    """Add the integrity subcommands to ``samsyn``'s ``add_subparsers()`` object."""

    def command(name: str, func: Callable[..., int], **kwargs: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, **kwargs)
        parser.set_defaults(func=func)
        return parser

    exp = command("export", export, help="write the ledger as a verifiable JSON Lines export")
    exp.add_argument("file", help="a new file to write ('-' for standard output)")
    exp.add_argument("--from", dest="from_position", type=int, metavar="N",
                     help="first position (exports start at the first entry, format v1)")
    exp.add_argument("--to", dest="to_position", type=int, metavar="N",
                     help="last position (rounded down to a checkpoint)")
    exp.add_argument("--no-checkpoint", action="store_true",
                     help="export up to the latest checkpoint, without sealing and signing now")

    ver = command("verify", verify,
                  help="verify an export offline, or the running store with --live")
    ver.add_argument("file", nargs="?", help="the export to verify")
    ver.add_argument("--trusted-checkpoint", metavar="CP_FILE",
                     help="a checkpoint kept from an earlier audit")
    ver.add_argument("--key", metavar="VKEY",
                     help="the log's public key to pin (the string, or a file holding it)")
    ver.add_argument("--consistency-proof", metavar="JSON",
                     help="'samsyn proof consistency' output proving the export a prefix of "
                          "the trusted checkpoint")
    ver.add_argument("--witness", action="append", default=[], metavar="WKEY",
                     help="a witness key of the policy (repeat for each)")
    ver.add_argument("--quorum", type=int, default=None, metavar="K",
                     help="at least K of the witnesses must have cosigned (default: all)")
    ver.add_argument("--workers", type=int, default=None,
                     help="processes digesting the file (default: one per CPU for big files)")
    ver.add_argument("--live", action="store_true",
                     help="check the configured store against its leaves and checkpoints")

    command("checkpoint", checkpoint, help="seal what is stored and sign a checkpoint now")
    wit = command("witness", witness,
                  help="run a witness: cosign the log's checkpoints while it only grows")
    wit.add_argument("--key", required=True, metavar="FILE",
                     help="the witness's signing key file (made on first start)")
    wit.add_argument("--name", help="the witness's name, for a new key")
    wit.add_argument("--log", action="append", default=[], metavar="VKEY",
                     help="a log key to witness (repeat for several)")
    wit.add_argument("--state", metavar="FILE",
                     help="SQLite file of what it cosigned (default: <key file>.state.sqlite3)")
    wit.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    wit.add_argument("--port", type=int, default=8700, help="port to listen on (8700)")
    wit.add_argument("--print-key", action="store_true",
                     help="print the witness's public key (for the log's settings) and exit")
    command("verifier", verifier,
            help="print the standalone verifier (one Python file, standard library only)")
    key = sub.add_parser("key", help="the log's signing key")
    key_actions = key.add_subparsers(dest="action", required=True)
    rotate = key_actions.add_parser(
        "rotate", help="hand signing over to a new key; the old key signs the hand-over")
    rotate.set_defaults(func=key_rotate)
    command("public-key", public_key, help="print the log's public key, for auditors to pin")

    prf = command("proof", proof, help="print an inclusion or consistency proof as JSON")
    kinds = prf.add_subparsers(dest="kind", required=True)
    inc = kinds.add_parser("inclusion", help="inclusion proof of the entry at POSITION")
    inc.add_argument("position", type=int, help="the entry's ledger position")
    inc.add_argument("--tree-size", type=int, default=None,
                     help="tree size (default: the latest checkpoint's)")
    con = kinds.add_parser("consistency", help="consistency proof between two tree sizes")
    con.add_argument("first", type=int, help="the earlier tree size")
    con.add_argument("second", type=int, help="the later tree size")
