"""Command files (JSON Lines): check a whole file first, then record it, line by line.

Each line is one command as JSON (``{"type": "RecordDecision", ...}``). Two optional keys
are not part of the command: ``assumed`` (what the line assumes beyond its sources) and
``source`` (where it comes from); they document a data set and are not recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ledger.application import Ledger, Receipt
from ledger.commands import Command, parse_command
from ledger.errors import InvalidCommand, Problem

ANNOTATIONS = ("assumed", "source")


@dataclass(frozen=True)
class ImportLine:
    number: int
    command: Command
    assumed: str | None


def _problems(error: ValidationError, prefix: str) -> list[Problem]:
    problems = []
    for item in error.errors():
        loc = [str(p) for p in item["loc"]]
        # Drop the union tag pydantic puts first ("RecordDecision.points.0" -> "points.0").
        if loc and loc[0][:1].isupper():
            loc = loc[1:]
        problems.append(Problem(f"{prefix}{'.'.join(loc) or 'type'}", item["msg"]))
    return problems


def parse_lines(
    lines: Iterable[str], progress: Callable[[int], None] | None = None
) -> list[ImportLine]:
    """Parse every line; refuse the file with *all* bad lines named if any is bad."""
    parsed: list[ImportLine] = []
    problems: list[Problem] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as e:
            problems.append(Problem(f"line {number}", f"not JSON: {e.msg} at column {e.colno}"))
            continue
        except RecursionError:
            problems.append(Problem(f"line {number}", "nested too deeply to be a command"))
            continue
        if not isinstance(data, dict):
            problems.append(Problem(f"line {number}", "must be a JSON object (one command)"))
            continue
        assumed = data.pop("assumed", None)
        data.pop("source", None)
        try:
            parsed.append(ImportLine(number, parse_command(data), assumed))
        except ValidationError as e:
            problems.extend(_problems(e, f"line {number}: "))
        if progress is not None:
            progress(1)
    if problems:
        raise InvalidCommand(
            f"{len({p.field.split(':')[0] for p in problems})} bad line(s); nothing was written",
            problems,
        )
    return parsed


def record_lines(
    ledger: Ledger,
    lines: list[ImportLine],
    recorded_by: str,
    acting_for: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Receipt]:
    """Record parsed lines in one transaction; if the ledger refuses any, nothing is
    written and every refused line is named."""
    return ledger.execute_many(
        [line.command for line in lines],
        recorded_by=recorded_by,
        acting_for=acting_for,
        idempotency_key=idempotency_key,
        labels=[f"line {line.number}" for line in lines],
        progress=progress,
    )


def demo_lines() -> list[str]:
    """The bundled demo history (see docs/demo-history.md)."""
    return resources.files("ledger").joinpath("data/demo.jsonl").read_text("utf-8").splitlines()


def load_demo(ledger: Ledger, recorded_by: str = "demo") -> list[Receipt]:
    return record_lines(ledger, parse_lines(demo_lines()), recorded_by)


def read_file(path: Path) -> list[str]:
    return path.read_text("utf-8").splitlines()
