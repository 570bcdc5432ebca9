"""``samsyn archive OUTPUT [--organisation ORG | --cooperation] [--from DATE] [--to DATE]``."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from e


def archive(args: argparse.Namespace, *, settings: Any = None, schema: str | None = None) -> int:
    from api.archive.package import Scope, write_archive
    from api.integrity_cli import _opened, _progress

    scope = Scope(args.organisation, args.from_date, args.to_date, args.cooperation)
    with _opened(settings, schema) as (ledger, integrity), _progress() as progress:
        tasks: dict[str, Any] = {}

        def advance(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        written = write_archive(Path(args.output), ledger, integrity, scope, advance)
    print(f"archived {written.matters} matters from {written.entries} entries (up to position "
          f"{written.last_position}) in {len(written.packages)} package(s) under "
          f"{args.output}: {', '.join(written.packages)}", file=sys.stderr)
    return 0


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "archive", help="write E-ARK SIP packages with ERMS XML (one per organisation)")
    parser.add_argument("output", help="a new folder to hold the packages")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--organisation", help="only this organisation's package")
    who.add_argument("--cooperation", action="store_true",
                     help="one package for every organisation together")
    parser.add_argument("--from", dest="from_date", type=_day, metavar="DATE",
                        help="matters opened on or after DATE")
    parser.add_argument("--to", dest="to_date", type=_day, metavar="DATE",
                        help="matters opened on or before DATE")
    parser.set_defaults(func=archive)
