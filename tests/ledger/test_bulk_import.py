"""Bulk imports of tens of thousands of lines: recorded whole in one transaction or not at all,
written in bulk (COPY on PostgreSQL), other writers waiting only for the final write."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from bench.synthetic import generate
from ledger.application import Ledger
from ledger.commands import parse_command
from ledger.errors import InvalidCommand, StoreUnavailable
from ledger.importing import ImportLine, parse_lines, record_lines
from tests.ledger.world import world

#: Ledger events of the synthetic history imported: a little over 20,000 lines.
EVENTS = 32_200


@pytest.fixture(scope="module")
def lines() -> list[ImportLine]:
    parsed = parse_lines(json.dumps(command) for command in generate(EVENTS, seed=5))
    assert len(parsed) > 20_000
    return parsed


def test_twenty_thousand_lines_are_recorded_whole_while_another_writer_goes_on(
    make_ledger: Callable[..., Ledger], lines: list[ImportLine]
) -> None:
    importer, other = make_ledger(), make_ledger()
    world(other)
    head = other.max_position()
    done = threading.Event()
    written: list[int] = []
    told_busy: list[StoreUnavailable] = []

    def write_meanwhile() -> None:
        day = 0
        while (not done.is_set() or day < 5) and day < 5000:
            day += 1
            held_on = (date(2030, 1, 1) + timedelta(days=day)).isoformat()
            command = parse_command({"type": "HoldMeeting", "organisation": "Alfa",
                                     "body": "KS", "held_on": held_on})
            try:
                written.extend(other.execute(command, recorded_by="registrar").positions)
            except StoreUnavailable as e:  # the ledger was busy longer than the lock timeout
                told_busy.append(e)

    writer = threading.Thread(target=write_meanwhile)
    writer.start()
    try:
        receipts = record_lines(importer, lines, "importer")
    finally:
        done.set()
        writer.join(timeout=120)
    print(f"{len(written)} writes beside the import, {len(told_busy)} told the ledger was busy")
    assert len(receipts) == len(lines)
    imported = [p for r in receipts for p in r.positions]
    assert len(imported) >= EVENTS
    assert imported == list(range(imported[0], imported[0] + len(imported)))  # one write
    assert not set(written) & set(imported)
    assert sum(1 for _ in importer.read_all(batch=5000)) == head + len(written) + len(imported)
    stored = {e.position: e for e in importer.read_all(after=imported[0] - 1, batch=5000)
              if e.position <= imported[-1]}
    assert len(stored) == len(imported)
    assert {e.recorded_by for e in stored.values()} == {"importer"}


def test_one_bad_line_after_thousands_of_good_ones_writes_nothing(
    ledger: Ledger, lines: list[ImportLine]
) -> None:
    lines = lines[:3000]
    bad: Any = parse_lines([json.dumps({"type": "HoldMeeting", "organisation": "Nowhere",
                                        "body": "KS", "held_on": "2024-01-01"})])[0]
    last = ImportLine(len(lines) + 1, bad.command, None)
    with pytest.raises(InvalidCommand) as refused:
        record_lines(ledger, [*lines, last], "importer")
    assert [p.field.split(":")[0] for p in refused.value.problems] == [f"line {len(lines) + 1}"]
    assert ledger.max_position() == 0
