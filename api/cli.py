"""The ``samsyn`` command: serve, load the demo, import command files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from api import integrity_cli
from ledger.errors import SamsynError
from ledger.settings import get_settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import configure, create_app

    settings = get_settings()
    if args.no_demo:
        settings = settings.model_copy(update={"demo_on_empty": False})
    configure(settings)
    # Each request is logged once, by the service (with its request id, account and time).
    uvicorn.run(create_app(settings, freeze_heap=True), host=args.host or settings.host,
                port=args.port or settings.port, log_config=None, access_log=False)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from api.app import configure
    from ledger.application import Ledger
    from ledger.importing import load_demo
    from ledger.storage import persistence_env

    settings = get_settings()
    configure(settings)
    ledger = Ledger(env=persistence_env(settings))
    if ledger.max_position() != 0 and not args.force:
        print("samsyn: the ledger is not empty; the demo loads only into an empty ledger "
              "(use --force to append it anyway)", file=sys.stderr)
        return 1
    receipts = load_demo(ledger)
    print(f"loaded the demo history: {len(receipts)} commands, head position "
          f"{ledger.max_position()}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from api.app import configure
    from ledger.application import Ledger
    from ledger.importing import parse_lines, read_file, record_lines
    from ledger.storage import persistence_env

    settings = get_settings()
    configure(settings)
    try:
        lines = read_file(Path(args.file))
    except OSError as e:
        print(f"samsyn: cannot read {args.file}: {e.strerror}", file=sys.stderr)
        return 2
    with Progress(transient=True) as progress:
        task = progress.add_task("reading", total=len(lines))
        parsed = parse_lines(lines, lambda n: progress.advance(task, n))
        ledger = Ledger(env=persistence_env(settings))
        progress.update(task, description="checking and recording", completed=0,
                        total=len(parsed))
        receipts = record_lines(ledger, parsed, args.recorded_by or settings.recorder_name,
                                progress=lambda n: progress.advance(task, n))
    positions = [p for r in receipts for p in r.positions]
    print(f"imported {len(receipts)} commands from {args.file}"
          + (f" (positions {positions[0]}-{positions[-1]})" if positions else ""))
    return 0


def _project(args: argparse.Namespace) -> int:
    from api.app import configure
    from projections.runner import run_forever

    settings = get_settings()
    configure(settings)
    run_forever(settings)
    return 0


def _seal(args: argparse.Namespace) -> int:
    from api.app import configure
    from ledger.integrity.sealer import seal_forever

    settings = get_settings()
    configure(settings)
    seal_forever(settings)
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from api.app import configure
    from projections.pipeline import UnknownReadModel
    from projections.rebuilding import rebuild

    settings = get_settings()
    configure(settings)
    with Progress() as progress:
        task = progress.add_task(f"rebuilding {args.name or 'every read model'}", total=None)

        def advance(position: int, head: int) -> None:
            progress.update(task, completed=position, total=max(head, 1))

        try:
            reached = rebuild(settings, args.name, advance)
        except UnknownReadModel as e:
            print(f"samsyn: {e}", file=sys.stderr)
            return 2
    print(f"rebuilt {args.name or 'every read model'} up to position {reached}")
    return 0


def _token(args: argparse.Namespace) -> int:
    from api.accounts import AccountStore

    if args.action != "list" and not args.name:
        print(f"samsyn: token {args.action} needs an account name", file=sys.stderr)
        return 2
    store = AccountStore(get_settings())
    if args.action == "create":
        token = store.create(args.name, args.role, args.organisation or [])
        print(token)
        print(f"created {args.role} account {args.name!r}; the token is shown only now",
              file=sys.stderr)
    elif args.action == "revoke":
        if not store.revoke(args.name):
            print(f"samsyn: no live account {args.name!r}", file=sys.stderr)
            return 1
        print(f"revoked {args.name!r}")
    else:
        for name, role, organisations, revoked in store.list():
            print(f"{name}\t{role}\t{','.join(organisations)}\t{'revoked' if revoked else ''}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="samsyn", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--no-demo", action="store_true",
                       help="do not load the demo history into an empty ledger")
    serve.set_defaults(func=_serve)
    demo = sub.add_parser("demo", help="load the real history from the seeds")
    demo.add_argument("--force", action="store_true")
    demo.set_defaults(func=_demo)
    imp = sub.add_parser("import", help="record a JSON Lines file of commands")
    imp.add_argument("file")
    imp.add_argument("--recorded-by")
    imp.set_defaults(func=_import)
    project = sub.add_parser("project", help="keep the read models up to date (own process)")
    project.set_defaults(func=_project)
    seal = sub.add_parser("seal", help="keep the integrity log sealed and signed (own process)")
    seal.set_defaults(func=_seal)
    rebuild = sub.add_parser("rebuild", help="rebuild read models beside the live ones, "
                             "then swap them in")
    rebuild.add_argument("name", nargs="?", help="one read model (default: all)")
    rebuild.set_defaults(func=_rebuild)
    token = sub.add_parser("token", help="create, revoke or list API accounts")
    token.add_argument("action", choices=["create", "revoke", "list"])
    token.add_argument("name", nargs="?", default="")
    token.add_argument("--role", choices=["admin", "registrar", "auditor", "reader"],
                       default="reader")
    token.add_argument("--organisation", action="append",
                       help="an organisation a registrar acts for (repeat for several)")
    token.set_defaults(func=_token)
    integrity_cli.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SamsynError as e:
        where = "; ".join(f"{p.field}: {p.reason}" for p in e.problems[:5])
        print(f"samsyn: {e.detail}" + (f" ({where})" if where else ""), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a database that is down, a file we cannot write
        from eventsourcing.persistence import PersistenceError

        if isinstance(e, PersistenceError):
            print(f"samsyn: the database is unavailable: {e}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
