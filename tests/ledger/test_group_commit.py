"""Group commit: commands waiting together are checked in turn and saved in one
transaction; each still gets its own answer, conflicts and retries behave as if alone."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.batch import Submission
from ledger.commands import parse_command
from ledger.errors import (
    AlreadyRecorded,
    IdempotencyKeyReused,
    RuleViolation,
    UnknownReference,
)
from ledger.group_commit import GroupCommitter, Request
from tests.ledger.world import run, world


def request(command: dict[str, Any], key: str | None = None, by: str = "r1") -> Request:
    return Request(Submission(parse_command(command), by), key)


def meeting(day: int, org: str = "Alfa") -> dict[str, Any]:
    return {"type": "HoldMeeting", "organisation": org, "body": "KS",
            "held_on": f"2022-03-{day:02d}"}


PARAGRAPH = {"type": "RecordParagraph", "meeting": "REG/KS/2021-03-25", "number": 12,
             "title": "Item"}


@pytest.fixture
def committer(ledger: Ledger) -> GroupCommitter:
    world(ledger)
    return GroupCommitter(ledger)


def saves(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the transactions the ledger makes."""
    counted: list[int] = []
    original = Ledger.save

    def counting(self: Ledger, *objs: Any, **kwargs: Any) -> Any:
        counted.append(len(objs))
        return original(self, *objs, **kwargs)

    monkeypatch.setattr(Ledger, "save", counting)
    return counted


def test_a_batch_is_saved_in_one_transaction_in_the_order_given(
    committer: GroupCommitter, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    transactions = saves(ledger, monkeypatch)
    batch = [request(meeting(day)) for day in (1, 2, 3)]
    committer._commit(batch)
    receipts = [r.future.result() for r in batch]
    assert len(transactions) == 1
    positions = [r.positions[0] for r in receipts]
    assert positions == sorted(positions)
    assert [e.data["held_on"] for e in ledger.read(positions[0] - 1, 3)] == [
        "2022-03-01", "2022-03-02", "2022-03-03"]


def test_conflicting_commands_in_one_batch_the_first_wins_the_second_is_told(
    committer: GroupCommitter, ledger: Ledger
) -> None:
    batch = [request(PARAGRAPH), request(PARAGRAPH | {"title": "Other"})]
    committer._commit(batch)
    assert batch[0].future.result().positions
    with pytest.raises(AlreadyRecorded):
        batch[1].future.result()
    paragraphs = [e for e in ledger.read_all() if e.event_type == "Meeting.ParagraphRecorded"]
    assert [p.data["title"] for p in paragraphs] == ["Item"]


def test_an_invalid_command_in_a_batch_fails_alone(
    committer: GroupCommitter, ledger: Ledger
) -> None:
    head = ledger.max_position()
    batch = [request(meeting(1)), request(meeting(2, org="Nowhere")), request(meeting(3))]
    committer._commit(batch)
    with pytest.raises(UnknownReference):
        batch[1].future.result()
    landed = [e.data["held_on"] for e in ledger.read(head, 100)]
    assert landed == ["2022-03-01", "2022-03-03"]


def test_a_command_refused_mid_way_leaves_no_trace_in_the_batch(
    committer: GroupCommitter, ledger: Ledger
) -> None:
    """A decision that records its § and then fails on an effect must not leave the §."""
    decision = {"type": "RecordDecision", "organisation": "REG", "body": "KS",
                "meeting": "REG/KS/2021-03-25", "paragraph": 12, "decided_on": "2021-03-25",
                "points": [{"number": 1, "text": "x", "effects": [
                    {"effect": "extend_agreement", "agreement": "Nope", "until": "2022-01-01"}]}]}
    batch = [request(meeting(1)), request(decision), request(PARAGRAPH)]
    committer._commit(batch)
    with pytest.raises(UnknownReference):
        batch[1].future.result()
    assert batch[2].future.result().positions  # § 12 was still free


def test_idempotent_retries_in_different_batches_are_recorded_once(
    committer: GroupCommitter, ledger: Ledger
) -> None:
    first = [request(meeting(1), key="k")]
    committer._commit(first)
    head = ledger.max_position()
    retry = [request(meeting(2)), request(meeting(1), key="k")]
    committer._commit(retry)
    replayed = retry[1].future.result()
    assert replayed.replayed
    assert replayed.positions == first[0].future.result().positions
    assert ledger.max_position() > head  # the other command of the batch landed
    other_body = [request(meeting(3), key="k")]
    committer._commit(other_body)
    with pytest.raises(IdempotencyKeyReused):
        other_body[0].future.result()


def test_the_same_key_twice_in_one_batch_is_recorded_once(
    committer: GroupCommitter, ledger: Ledger
) -> None:
    batch = [request(meeting(1), key="k"), request(meeting(1), key="k")]
    committer._commit(batch)
    a, b = (r.future.result() for r in batch)
    assert a.positions == b.positions
    held = [e for e in ledger.read_all() if e.event_type == "Meeting.Held"
            and e.data["organisation"] == "Alfa"]
    assert len(held) == 1


def test_many_threads_through_the_committer_lose_nothing_and_share_transactions(
    committer: GroupCommitter, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    transactions = saves(ledger, monkeypatch)

    def submit(i: int) -> list[int]:
        return committer.execute(parse_command(meeting(1 + i % 28, org=("Alfa", "Beta")[i // 28])),
                                 recorded_by="r", idempotency_key=f"k{i}").positions

    with ThreadPoolExecutor(max_workers=16) as pool:
        positions = [p for ps in pool.map(submit, range(56)) for p in ps]
    assert len(set(positions)) == len(positions) == 56  # a meeting each; keys are no entries
    assert len(transactions) < 56


def test_the_aggregates_the_committer_keeps_are_what_the_store_holds(
    committer: GroupCommitter, ledger: Ledger
) -> None:
    """Kept aggregates are reused by the next batches: each must equal a fresh load, even
    after a batch in which a command was refused half-way."""
    decision = {"type": "RecordDecision", "organisation": "REG", "body": "KS",
                "meeting": "REG/KS/2021-03-25", "paragraph": 13, "decided_on": "2021-03-25",
                "points": [{"number": 1, "text": "x", "effects": [
                    {"effect": "extend_agreement", "agreement": "Nope", "until": "2022-01-01"}]}]}
    committer._commit([request(meeting(1)), request(PARAGRAPH), request(decision),
                       request(PARAGRAPH | {"number": 14})])
    committer._commit([request(PARAGRAPH | {"number": 15}), request(meeting(2, org="Nowhere")),
                       request(PARAGRAPH | {"number": 15, "title": "Again"})])
    kept = list(committer.recent)
    assert {type(a).__name__ for a in kept} >= {"Meeting", "Organisation"}
    for aggregate in kept:
        assert vars(aggregate) == vars(ledger.repository.get(aggregate.id))


def test_what_another_writer_appended_is_seen_by_the_next_batch(
    committer: GroupCommitter, make_ledger: Any
) -> None:
    committer._commit([request(meeting(1))])  # Alfa is read, and kept
    run(make_ledger(), {"type": "VoidEntry", "entry": {"kind": "organisation", "ref": "Alfa"},
                        "reason": "registered twice"})
    batch = [request(meeting(2))]  # reads Alfa again, writes only the new meeting
    committer._commit(batch)
    with pytest.raises(RuleViolation):
        batch[0].future.result()


def test_a_change_the_look_missed_is_still_refused_by_the_store(
    committer: GroupCommitter, ledger: Ledger, make_ledger: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another writer may append between the committer's look and its save: the store's
    version constraint refuses the batch, and each command is then checked afresh."""
    committer._commit([request(PARAGRAPH)])  # the meeting is kept
    run(make_ledger(), PARAGRAPH | {"number": 13, "title": "Elsewhere"})
    monkeypatch.setattr(committer, "_catch_up", lambda: None)
    batch = [request(PARAGRAPH | {"number": 13}), request(PARAGRAPH | {"number": 14})]
    committer._commit(batch)
    with pytest.raises(AlreadyRecorded):
        batch[0].future.result()
    assert batch[1].future.result().positions
    paragraphs = [e.data["title"] for e in ledger.read_all()
                  if e.event_type == "Meeting.ParagraphRecorded"]
    assert paragraphs == ["Item", "Elsewhere", "Item"]  # § 12, § 13 from elsewhere, § 14


def test_a_caller_giving_up_does_not_cancel_its_command(
    committer: GroupCommitter, ledger: Ledger
) -> None:
    future = committer.submit(parse_command(meeting(1)), recorded_by="r1")
    assert not future.cancel()  # e.g. an HTTP client that hung up; the command still lands
    position = future.result().positions[0]
    assert ledger.read(position - 1, 1)[0].data["held_on"] == "2022-03-01"
