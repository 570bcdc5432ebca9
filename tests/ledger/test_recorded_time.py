"""Recorded time in commit order: taken under the ledger's lock, never going back, so positions
and recorded times grow together across writers and ``known_at`` is a prefix of the log."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.application import Ledger
from ledger.batch import Submission
from ledger.commands import parse_command
from tests.conftest import Clock
from tests.ledger.world import run, world


def meeting(org: str, day: int) -> dict[str, Any]:
    return {"type": "HoldMeeting", "organisation": org, "body": "KS",
            "held_on": (datetime(2022, 1, 1) + timedelta(days=day)).date().isoformat()}


def skewed(hours: float) -> Callable[[], datetime]:
    """A machine's clock that runs ``hours`` behind (negative) or ahead of the real one."""
    return lambda: datetime.now(tz=UTC) + timedelta(hours=hours)


def recorded_in_order(ledger: Ledger) -> list[tuple[int, datetime]]:
    return [(e.position, e.recorded_at) for e in ledger.read_all()]


def test_writers_with_clocks_an_hour_apart_record_times_in_position_order(
    make_ledger: Callable[..., Ledger],
) -> None:
    """Four writers on one store (as four processes would be), one clock an hour behind,
    one an hour ahead: recorded time never goes back along the log."""
    writers = [make_ledger(skewed(h)) for h in (0, -1, 1, 0)]
    world(writers[0])

    def write(i: int) -> None:
        ledger = writers[i % 4]
        ledger.execute(parse_command(meeting(("Alfa", "Beta", "Gamma")[i % 3], i)),
                       recorded_by=f"writer-{i % 4}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(120)))
    log = recorded_in_order(writers[0])
    assert len(log) > 120
    times = [at for _, at in log]
    assert times == sorted(times)


def test_known_at_any_recorded_time_is_a_prefix_of_the_log(
    make_ledger: Callable[..., Ledger],
) -> None:
    behind, ahead = make_ledger(skewed(-2)), make_ledger(skewed(2))
    world(ahead)
    for day in range(30):
        run((behind, ahead)[day % 2], meeting("Alfa", day))
    log = recorded_in_order(behind)
    positions = [p for p, _ in log]
    for _, at in log:
        known = [p for p, t in log if t <= at]
        assert known == positions[:len(known)]


def test_a_clock_stepped_back_never_makes_recorded_time_go_back(
    ledger: Ledger, clock: Clock
) -> None:
    world(ledger)
    clock.set("2024-06-01T12:00:00")
    first = run(ledger, meeting("Alfa", 1))
    clock.set("2024-06-01T11:00:00")  # the machine's clock is stepped back an hour
    second = run(ledger, meeting("Alfa", 2))
    assert second.recorded_at == first.recorded_at
    clock.set("2024-06-01T12:30:00")  # and caught up again
    third = run(ledger, meeting("Alfa", 3))
    assert third.recorded_at == datetime(2024, 6, 1, 12, 30, tzinfo=UTC)
    stored = {e.position: e.recorded_at for e in ledger.read_all()}
    assert [stored[r.positions[0]] for r in (first, second, third)] == [
        first.recorded_at, first.recorded_at, third.recorded_at]


def test_an_entry_is_stamped_when_it_is_written_not_when_it_was_checked(
    ledger: Ledger, clock: Clock
) -> None:
    """The check runs before the lock is taken; the recorded time is read under it."""
    world(ledger)
    checked = ledger.check([_submission(meeting("Alfa", 1))])
    clock.advance(3600)
    [receipt] = ledger.write(checked)
    assert receipt.recorded_at == clock.now
    assert ledger.read(receipt.positions[0] - 1, 1)[0].recorded_at == clock.now


def _submission(command: dict[str, Any]) -> Submission:
    return Submission(parse_command(command), "registrar")
