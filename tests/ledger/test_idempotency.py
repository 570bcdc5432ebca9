"""Idempotency keys are client bookkeeping beside the ledger: stored in the same transaction
as the entries they guard, scoped per account, never entries of the ledger themselves."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.batch import Submission, commands_hash
from ledger.commands import parse_command
from ledger.domain.base import RecordingContext, recording
from ledger.domain.idempotency import IdempotencyKey
from ledger.errors import AlreadyRecorded, IdempotencyKeyReused
from ledger.group_commit import GroupCommitter, Request
from tests.ledger.world import run, world


def meeting(day: int, org: str = "Alfa") -> dict[str, Any]:
    return {"type": "HoldMeeting", "organisation": org, "body": "KS",
            "held_on": f"2022-04-{day:02d}"}


def test_a_key_never_becomes_an_entry_of_the_ledger(ledger: Ledger) -> None:
    world(ledger)
    before = ledger.max_position()
    receipt = run(ledger, meeting(1), key="k1")
    assert receipt.positions == [before + 1]
    assert ledger.max_position() == before + 1
    assert [e.event_type for e in ledger.read(before)] == ["Meeting.Held"]


def test_keys_are_scoped_by_account_without_joining_strings(ledger: Ledger) -> None:
    """``ops`` with key ``x:k1`` and ``ops:x`` with key ``k1`` are two different keys."""
    world(ledger)
    first = run(ledger, meeting(1), by="ops", key="x:k1")
    second = run(ledger, meeting(2), by="ops:x", key="k1")
    assert not first.replayed and not second.replayed
    assert first.positions != second.positions


def test_a_refused_command_leaves_its_key_unused(ledger: Ledger) -> None:
    world(ledger)
    with pytest.raises(AlreadyRecorded):
        run(ledger, {"type": "HoldMeeting", "organisation": "REG", "body": "KS",
                     "held_on": "2021-03-25"}, key="k")
    assert not run(ledger, meeting(1), key="k").replayed


def test_an_import_retried_with_its_key_answers_the_original_receipts(ledger: Ledger) -> None:
    world(ledger)
    commands = [parse_command(meeting(day)) for day in (1, 2, 3)]
    first = ledger.execute_many(commands, recorded_by="importer", idempotency_key="file-1")
    head = ledger.max_position()
    again = ledger.execute_many(commands, recorded_by="importer", idempotency_key="file-1")
    assert ledger.max_position() == head
    assert [r.positions for r in again] == [r.positions for r in first]
    assert all(r.replayed for r in again)
    with pytest.raises(IdempotencyKeyReused):
        ledger.execute_many(commands[:2], recorded_by="importer", idempotency_key="file-1")


def test_the_group_committer_answers_a_retry_from_the_key(ledger: Ledger) -> None:
    world(ledger)
    committer = GroupCommitter(ledger)
    batch = [Request(Submission(parse_command(meeting(1)), "r1"), "k"),
             Request(Submission(parse_command(meeting(1)), "r1"), "k"),  # a retry, same batch
             Request(Submission(parse_command(meeting(2)), "r2"), "k")]  # another account's k
    committer._commit(batch)
    first, retry, other = (r.future.result() for r in batch)
    assert retry.replayed and retry.positions == first.positions
    assert not other.replayed and other.positions != first.positions
    later = Request(Submission(parse_command(meeting(1)), "r1"), "k")
    committer._commit([later])
    assert later.future.result().positions == first.positions


def test_of_two_writers_racing_with_one_key_one_records_and_nothing_of_the_other_is_written(
    make_ledger: Callable[..., Ledger],
) -> None:
    """The key is stored in the entries' own transaction: the loser's entries roll back."""
    first, second = make_ledger(), make_ledger()
    world(first)
    barrier = threading.Barrier(2)
    original_save = Ledger.save

    def save_after_both_checked(self: Ledger, *events: Any, **kwargs: Any) -> Any:
        barrier.wait(timeout=10)
        return original_save(self, *events, **kwargs)

    results: list[object] = []

    def attempt(app: Ledger, day: int) -> None:
        try:
            results.append(run(app, meeting(day), by="registrar", key="same"))
        except IdempotencyKeyReused as e:
            results.append(e)

    Ledger.save = save_after_both_checked  # type: ignore[method-assign]
    try:
        threads = [threading.Thread(target=attempt, args=(app, day))
                   for app, day in ((first, 1), (second, 2))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        Ledger.save = original_save  # type: ignore[method-assign]
    refused = [r for r in results if isinstance(r, IdempotencyKeyReused)]
    assert len(refused) == 1, results
    held = [e.data["held_on"] for e in first.read_all() if e.event_type == "Meeting.Held"
            and e.data["held_on"].startswith("2022-04")]
    assert len(held) == 1


def test_a_key_claimed_by_an_entry_as_keys_once_were_is_honoured_for_its_account_only(
    ledger: Ledger,
) -> None:
    """Stored histories hold keys as ``IdempotencyKey`` entries (ref ``<account>:<key>``):
    they stay in the log, and a retry with such a key still answers the original receipt,
    but only for the account that claimed it."""
    world(ledger)
    command = parse_command(meeting(1))
    original = ledger.execute(command, recorded_by="ops")
    [entry] = original.entries
    context = RecordingContext("ops")
    with recording(context):
        IdempotencyKey.claim("ops:x:k1", "HoldMeeting", commands_hash([command]),
                             [[entry["aggregate_id"], entry["version"], 0]])
    ledger.save(*context.journal)
    again = ledger.execute(command, recorded_by="ops", idempotency_key="x:k1")
    assert again.replayed and again.positions == original.positions
    other = run(ledger, meeting(2), by="ops:x", key="k1")
    assert not other.replayed
