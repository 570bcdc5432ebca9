"""The synthetic ledger generator: every command it makes is accepted, for any seed, the same
commands for the same seed, with the whole catalogue and its adjustments in it."""

from __future__ import annotations

import collections
import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from bench.synthetic import Synthesizer, generate, main
from ledger.application import Ledger
from ledger.commands import COMMAND_TYPES, parse_command
from ledger.importing import parse_lines
from ledger.settings import Settings
from ledger.storage import persistence_env

TARGET = 2_000


def record(ledger: Ledger, commands: list[dict[str, Any]], batch: int = 250) -> None:
    """Record the commands in order, many per transaction (as ``samsyn import`` does)."""
    for start in range(0, len(commands), batch):
        ledger.execute_many([parse_command(c) for c in commands[start:start + batch]],
                            recorded_by="bench")


def test_a_generated_ledger_loads_whole_with_the_events_it_promises(ledger: Ledger) -> None:
    synthesizer = Synthesizer(TARGET, seed=0)
    commands = list(synthesizer.commands())
    record(ledger, commands)

    entries = list(ledger.read_all())
    assert len(entries) == synthesizer.emitted
    assert TARGET <= len(entries) <= TARGET + 30

    kinds = collections.Counter(e.event_type for e in entries)
    assert kinds["Decision.Recorded"] > 100
    assert any(k.endswith("FactCorrected") for k in kinds)
    assert any(k.endswith("EntryVoided") for k in kinds)
    assert kinds["Recommendation.PrincipalDecided"] > 10
    assert kinds["Agreement.PartyDecided"] > 0
    assert kinds["Assignment.ReportedBack"] > 0


def test_every_command_of_the_catalogue_is_generated_with_adjustments_in_small_numbers() -> None:
    commands = list(generate(TARGET, seed=0))
    counts = collections.Counter(c["type"] for c in commands)
    assert set(counts) == set(COMMAND_TYPES)
    adjustments = counts["CorrectEntry"] + counts["VoidEntry"]
    assert 0 < adjustments < 0.03 * len(commands)


def test_the_same_seed_gives_the_same_ledger_and_another_seed_another() -> None:
    first = list(generate(TARGET, seed=7))
    assert first == list(generate(TARGET, seed=7))
    assert first != list(generate(TARGET, seed=8))


def test_regions_and_municipalities_shape_the_cooperation(ledger: Ledger) -> None:
    commands = list(generate(1_500, seed=3, regions=3, municipalities=2))
    organisations = [c for c in commands if c["type"] == "RegisterOrganisation"]
    assert collections.Counter(o["kind"] for o in organisations) == {
        "principal": 9, "joint_body": 3}
    record(ledger, commands)
    assert ledger.max_position() >= 1_500


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_other_seeds_are_accepted_too(tmp_path: Path, seed: int) -> None:
    """The rules do not depend on the store: SQLite alone is enough to try more seeds."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    ledger = Ledger(env=persistence_env(settings))
    try:
        record(ledger, list(generate(TARGET, seed=seed)))
    finally:
        ledger.close()


def test_the_command_line_writes_json_lines_that_samsyn_import_accepts() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["--events", "300", "--seed", "5"]) == 0
    lines = out.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == list(generate(300, seed=5))
    assert len(parse_lines(lines)) == len(lines)


def test_agreement_changes_never_date_before_the_agreement_starts() -> None:
    """A ledger sized for a country has joint plans starting in April or October; a revision
    from the new year must then wait for the start (the ledger would refuse it)."""
    starts: dict[str, str] = {}
    changes = 0

    def effects(value: Any) -> list[dict[str, Any]]:
        if isinstance(value, dict):
            found = [value] if "effect" in value else []
            return found + [e for v in value.values() for e in effects(v)]
        if isinstance(value, list):
            return [e for v in value for e in effects(v)]
        return []

    for n, command in enumerate(Synthesizer(1_000_000, 0).commands()):
        if n == 60_000:  # the first such revision came at command 49,260
            break
        if command["type"] == "RegisterAgreement":
            starts[command["ref"]] = command["valid_from"]
        for effect in effects(command):
            when = effect.get("effective_on") or effect.get("until")
            if when is not None and effect.get("agreement") in starts:
                changes += 1
                assert when >= starts[effect["agreement"]], (n, effect)
    assert changes > 100
