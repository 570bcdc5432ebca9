"""Concurrent registrars: one of two conflicting commands wins, retries are safe,
idempotent commands are recorded once, and the feed stays complete and in commit order."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.errors import AlreadyRecorded, ConflictError, IdempotencyKeyReused
from tests.ledger.world import decision, run, world


def test_the_same_key_with_the_same_command_is_recorded_once(ledger: Ledger) -> None:
    world(ledger)
    command = decision("Alfa", "2021-07-01",
                       {"effect": "adopt_recommendation", "recommendation": "JB 2021 §20"})
    first = run(ledger, command, key="retry-1")
    before = ledger.max_position()
    again = run(ledger, command, key="retry-1")
    assert ledger.max_position() == before
    assert again.replayed and not first.replayed
    assert again.positions == first.positions
    assert again.recorded_at == first.recorded_at


def test_the_same_key_with_a_different_command_is_refused(ledger: Ledger) -> None:
    world(ledger)
    run(ledger, decision("Alfa", "2021-07-01"), key="k")
    before = ledger.max_position()
    with pytest.raises(IdempotencyKeyReused) as caught:
        run(ledger, decision("Alfa", "2021-07-02"), key="k")
    assert caught.value.problems[0].field == "idempotency_key"
    assert ledger.max_position() == before


def test_keys_belong_to_their_recorder(ledger: Ledger) -> None:
    world(ledger)
    run(ledger, decision("Alfa", "2021-07-01"), key="k", by="registrar-a")
    receipt = run(ledger, decision("Beta", "2021-07-01"), key="k", by="registrar-b")
    assert not receipt.replayed


def test_of_two_conflicting_commands_one_wins_and_the_retry_is_refused_cleanly(
    make_ledger: Callable[..., Ledger],
) -> None:
    """Two processes record § 12 in the same meeting at once: the store lets one win."""
    first, second = make_ledger(), make_ledger()
    world(first)
    paragraph = {"type": "RecordParagraph", "meeting": "REG/KS/2021-03-25", "number": 12,
                 "title": "Item"}
    barrier = threading.Barrier(2)
    original_save = Ledger.save

    def save_after_both_read(self: Ledger, *aggregates: Any, **kwargs: Any) -> Any:
        barrier.wait(timeout=10)
        return original_save(self, *aggregates, **kwargs)

    results: list[object] = []

    def attempt(app: Ledger) -> None:
        try:
            results.append(run(app, paragraph))
        except ConflictError as e:
            results.append(e)

    try:
        Ledger.save = save_after_both_read  # type: ignore[method-assign]
        threads = [threading.Thread(target=attempt, args=(app,)) for app in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        Ledger.save = original_save  # type: ignore[method-assign]
    conflicts = [r for r in results if isinstance(r, ConflictError)]
    assert len(conflicts) == 1, results
    assert "nothing was written" in conflicts[0].detail
    with pytest.raises(AlreadyRecorded):
        run(second, paragraph)
    paragraphs = [e for e in first.read(0, 1000) if e.event_type == "Meeting.ParagraphRecorded"]
    assert len(paragraphs) == 1


def test_many_registrars_at_once_lose_nothing_duplicate_nothing_and_keep_commit_order(
    make_ledger: Callable[..., Ledger],
) -> None:
    setup = make_ledger()
    world(setup)
    apps = [make_ledger() for _ in range(4)]
    commands = [
        ({"type": "HoldMeeting", "organisation": "Alfa", "body": "KS",
          "held_on": f"2022-{1 + i // 28:02d}-{1 + i % 28:02d}"}, f"key-{i}")
        for i in range(60)
    ]

    def submit(i: int) -> list[int]:
        command, key = commands[i]
        app = apps[i % len(apps)]
        receipts = [run(app, command, key=key, by=f"registrar-{i % 3}") for _ in range(2)]
        assert receipts[0].positions == receipts[1].positions
        return receipts[0].positions

    with ThreadPoolExecutor(max_workers=8) as pool:
        positions = [p for ps in pool.map(submit, range(len(commands))) for p in ps]

    feed = list(setup.read_all())
    meetings = [e for e in feed
                if e.event_type == "Meeting.Held" and e.data["organisation"] == "Alfa"]
    assert len(meetings) == len(commands), "every command recorded exactly once"
    assert len({e.data["ref"] for e in meetings}) == len(commands)
    feed_positions = [e.position for e in feed]
    assert feed_positions == sorted(feed_positions)
    assert len(set(feed_positions)) == len(feed_positions)
    assert not [e for e in feed if e.event_type.startswith("IdempotencyKey")]
    assert set(positions) == {e.position for e in meetings}
