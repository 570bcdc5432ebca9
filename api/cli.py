"""The samsyn command: run the service, record and import acts, keep and check the ledger."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from api import __version__, integrity_cli
from api.archive import cli as archive_cli
from ledger.errors import SamsynError
from ledger.settings import get_settings


def port_in_use(host: str, port: int) -> str | None:
    """Why the service could not listen on ``host:port``, or None when it can."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as e:
        return e.strerror or str(e)
    return None


WORKER_START_SECONDS = 60
"""How long uvicorn lets a worker of ``serve --workers N`` take to answer its supervisor.
Uvicorn's 5 s default killed every worker still importing and opening the ledger on a busy
machine, and started another, forever."""


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import configure, create_app, prepare_store

    settings = get_settings()
    workers = args.workers
    if workers > 1 and not settings.is_postgres:
        print(f"samsyn: --workers {workers} needs PostgreSQL; an SQLite ledger is served by "
              "one process (set SAMSYN_DATABASE_URL=postgresql://...)", file=sys.stderr)
        return 2
    host, port = args.host or settings.host, args.port or settings.port
    busy = port_in_use(host, port)
    if busy is not None:
        print(f"samsyn: cannot listen on {host}:{port}: {busy} (is another samsyn serve "
              "running? choose another with --port or SAMSYN_PORT)", file=sys.stderr)
        return 2
    if args.no_demo:
        settings = settings.model_copy(update={"demo_on_empty": False})
    from ledger.sqlite_store import ServiceLock, check_file

    lock = None
    if not settings.is_postgres and str(settings.sqlite_path) != ":memory:":
        check_file(settings.sqlite_path)
        lock = ServiceLock(settings.sqlite_path)
        lock.acquire()  # one service per SQLite file, until it stops (or dies)
    configure(settings)
    # Each request is logged once, by the service (with its request id, account and time).
    # On SIGTERM, requests in flight get SHUTDOWN_GRACE seconds, then are abandoned.
    where = {"host": host, "port": port, "log_config": None, "access_log": False,
             "timeout_graceful_shutdown": SHUTDOWN_GRACE}
    if workers > 1:
        # Tables, the signing key and the demo are made once, here, before the workers race
        # for them; the workers (fresh interpreters) read their settings from the environment.
        prepare_store(settings)
        os.environ["SAMSYN_DEMO_ON_EMPTY"] = "false"
        uvicorn.run("api.app:served_app", factory=True, workers=workers,
                    timeout_worker_healthcheck=WORKER_START_SECONDS, **where)
        return 0
    try:
        uvicorn.run(create_app(settings, freeze_heap=True, on_stop=_exit_despite_work_in_flight),
                    **where)
    finally:
        if lock is not None:
            lock.release()
    return 0


#: Seconds a stopping service gives requests in flight (a long import, say) to finish.
SHUTDOWN_GRACE = 2


def _exit_despite_work_in_flight() -> None:
    """End the process now if an abandoned import is still being recorded.

    An import that did not finish within the grace holds an open transaction: ending the
    process rolls it back (all or nothing), where waiting would delay the stop without end.
    """
    import logging
    import os

    import structlog

    from api.routes.imports import imports_in_flight

    if imports_in_flight():
        structlog.get_logger("samsyn").warning(
            "stopping with imports in flight; their transactions roll back",
            imports=imports_in_flight())
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


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
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        return _record_file(args)
    except Interrupted:
        print("samsyn: stopped (SIGTERM) before the import was recorded; nothing was written",
              file=sys.stderr)
        return 143


def _record_file(args: argparse.Namespace) -> int:
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
        progress.update(task, description="checking", completed=0, total=len(parsed))

        def advance(n: int) -> None:
            progress.advance(task, n)
            if progress.tasks[task].completed >= len(parsed):
                progress.update(task, description="writing")

        receipts = record_lines(ledger, parsed, args.recorded_by or settings.recorder_name,
                                progress=advance)
    positions = [p for r in receipts for p in r.positions]
    print(f"imported {len(receipts)} commands from {args.file}"
          + (f" (positions {positions[0]}-{positions[-1]})" if positions else ""))
    return 0


class Interrupted(BaseException):
    """SIGTERM arrived: the work in progress is abandoned (its transaction rolls back).

    Like ``KeyboardInterrupt``, not an ``Exception``: no ``except Exception`` on the way
    (a command's check, say) may take it for a failure of the work itself."""


def _interrupted(signum: int, frame: object) -> None:
    raise Interrupted


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


def _status(args: argparse.Namespace) -> int:
    from ledger.application import Ledger
    from ledger.storage import persistence_env
    from projections.queries import ReadModels

    settings = get_settings()
    ledger = Ledger(env=persistence_env(settings))
    try:
        head = ledger.max_position()
    finally:
        ledger.close()
    with ReadModels(settings) as read_models:
        positions = read_models.positions()
        failing = read_models.failures()
    print(f"ledger head {head}")
    for name, position in positions.items():
        print(f"read model {name} at {position}" + (f" ({head - position} behind)"
                                                  if position < head else ""))
    for failure in failing:
        print(f"samsyn: {failure.line()}", file=sys.stderr)
    return 1 if failing else 0


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


GETTING_STARTED = """\
First steps:
  samsyn serve                     the service with the demo history, on http://127.0.0.1:8000/
  samsyn token create NAME --role registrar --organisation ORG
                                   an account for a registrar; prints its bearer token once
  samsyn import FILE               record a JSON Lines file of commands, all or nothing
  samsyn export FILE; samsyn verify FILE
                                   write the ledger for the archive; check an export offline

Every command reads its settings from SAMSYN_* environment variables or .env (the ledger:
SAMSYN_DATABASE_URL, default sqlite:///samsyn.sqlite3). See README.md for them all.
"""


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes (1 or more)")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="samsyn", description=__doc__, epilog=GETTING_STARTED,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"samsyn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the HTTP service (API, dashboard, live feed)",
                           description="Run the HTTP service: the registrar API, the "
                           "dashboard at /, the feed, the integrity routes, /docs.")
    serve.add_argument("--host", help="address to listen on (default SAMSYN_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int,
                       help="port to listen on (default SAMSYN_PORT, 8000)")
    serve.add_argument("--no-demo", action="store_true",
                       help="do not load the demo history into an empty ledger")
    serve.add_argument("--workers", type=_positive, default=1,
                       help="service processes (PostgreSQL only); one of them at a time "
                       "runs the read models' projector and one the sealer")
    serve.set_defaults(func=_serve)
    demo = sub.add_parser("demo", help="load the demo history (the real one from the seeds)",
                          description="Load the bundled demo history into an empty ledger.")
    demo.add_argument("--force", action="store_true",
                      help="append it even though the ledger is not empty")
    demo.set_defaults(func=_demo)
    imp = sub.add_parser("import", help="record a JSON Lines file of commands, all or nothing",
                         description="Check every line of FILE (one command per line, as "
                         "POST /v1/import takes them), then record them all in one "
                         "transaction, or nothing and name every bad line.")
    imp.add_argument("file", help="the JSON Lines file to record")
    imp.add_argument("--recorded-by", metavar="NAME",
                     help="who the ledger names as recorder (default SAMSYN_RECORDER_NAME)")
    imp.set_defaults(func=_import)
    project = sub.add_parser("project", help="keep the read models up to date (own process)",
                             description="Fold new entries into the read models until "
                             "stopped; run it when the service has "
                             "SAMSYN_PROJECTIONS_IN_PROCESS=false.")
    project.set_defaults(func=_project)
    seal = sub.add_parser("seal", help="keep the integrity log sealed and signed (own process)",
                          description="Seal new entries into the integrity log and sign "
                          "checkpoints until stopped; run it when the service has "
                          "SAMSYN_SEAL_IN_PROCESS=false. It needs the signing key file.")
    seal.set_defaults(func=_seal)
    rebuild = sub.add_parser("rebuild", help="rebuild read models beside the live ones, "
                             "then swap them in",
                             description="Rebuild every read model (or one) from the "
                             "ledger beside the live ones, and swap them in when complete.")
    rebuild.add_argument("name", nargs="?", help="one read model (default: all)")
    rebuild.set_defaults(func=_rebuild)
    status = sub.add_parser("status", help="the ledger's head, each read model's position, "
                            "and every entry a read model failed on (exit 1 if any)",
                            description="Print the ledger's head and each read model's "
                            "position; name every entry a read model set aside because it "
                            "failed on it, and exit 1 while there is any.")
    status.set_defaults(func=_status)
    token = sub.add_parser("token", help="create, revoke or list API accounts",
                           description="Accounts of the API. A token is printed once, at "
                           "creation, and stored only as a hash.")
    token.add_argument("action", choices=["create", "revoke", "list"],
                       help="create an account and print its token; revoke one; list them")
    token.add_argument("name", nargs="?", default="", help="the account's name")
    token.add_argument("--role", choices=["admin", "registrar", "auditor", "reader"],
                       default="reader",
                       help="admin: everything; registrar: the acts of its organisations; "
                       "auditor: reads everything, with recorders; reader: read models "
                       "(default)")
    token.add_argument("--organisation", action="append", metavar="ORG",
                       help="an organisation a registrar acts for (repeat for several)")
    token.set_defaults(func=_token)
    integrity_cli.add_parsers(sub)
    archive_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace, **context: Any) -> int:
    """Run a parsed command (``context``: the settings and schema tests give), turning a
    refusal into one line on stderr and an exit status."""
    try:
        return int(args.func(args, **context))
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
