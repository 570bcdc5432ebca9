"""Group commit: concurrent commands checked one after another, saved in one transaction.

One transaction per command spends most of its time taking the ledger's table lock and
committing. Under concurrency the committer takes every command waiting, checks each in
turn against the ledger as the ones before it leave it (so two commands on the same
record behave exactly as if they came one after the other), and saves all accepted
ones in a single transaction. The check is the ledger's one check (``ledger/batch.py``), so
whatever one command raises fails it alone; the others still land. If the batch's write
itself fails (a conflict with another process, a write cancelled by the statement timeout,
a value the database refuses), its commands are retried one at a time, so that only the
one at fault fails.
Durability is unchanged: a caller is answered only after the transaction commits.

The committer keeps the aggregates it last committed (:class:`RecentAggregates`), so a
meeting that gets a paragraph a second is not read back from the store for each one.
Before each batch it asks the store which aggregates were appended to since it last looked
(positions are in commit order, see ``ledger/storage.py``) and forgets those it did not
write itself; an aggregate changed by a refused or unsaved command is forgotten too. A
stale copy can still slip through between that look and the save, exactly as a fresh read
could: the store's unique (aggregate, version) constraint refuses the save, and the batch
falls back to one command at a time, read afresh.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from eventsourcing.persistence import InterfaceError, OperationalError, RecordConflictError

from ledger.batch import CheckedBatch, Submission, commands_hash
from ledger.commands import Command
from ledger.errors import IdempotencyKeyReused, StoreUnavailable, WriteTimedOut
from ledger.recorders import IdempotencyClaim
from ledger.unit_of_work import RecentAggregates

if TYPE_CHECKING:
    from ledger.application import Ledger, Receipt

log = structlog.get_logger(__name__)

#: How many stored entries one look at what others appended reads before giving up and
#: forgetting every kept aggregate instead (after a large import, say).
CATCH_UP_PAGE = 1000


@dataclass
class Request:
    submission: Submission
    idempotency_key: str | None
    future: Future[Receipt] = field(default_factory=Future)

    @property
    def digest(self) -> str:
        return commands_hash([self.submission.command])

    @property
    def scope(self) -> tuple[str, str] | None:
        """The idempotency key with the account it belongs to."""
        if self.idempotency_key is None:
            return None
        return (self.submission.recorded_by, self.idempotency_key)


class GroupCommitter:
    """Collects commands from many callers and commits them in batches.

    A caller queues its command and waits for the answer: a thread on the request's
    future (:meth:`execute`), the HTTP routes by awaiting it on their event loop, holding
    no thread while the batch runs (:meth:`submit`). One committer thread takes every
    waiting request (at most ``max_batch``), commits them, answers them and takes the next
    batch. It starts with the first request and ends after ``idle`` seconds without any,
    so an idle service holds no thread. A batch wakes only the callers it answers.
    """

    def __init__(
        self, ledger: Ledger, max_batch: int = 128, recent: int = 4096, idle: float = 1.0
    ) -> None:
        """``recent``: how many committed aggregates to keep for the next batches."""
        self.ledger = ledger
        self.max_batch = max_batch
        self.idle = idle
        self.recent = RecentAggregates(recent)
        self._queue: deque[Request] = deque()
        self._waiting = threading.Condition()
        self._thread: threading.Thread | None = None
        self._seen: int | None = None  # every entry up to here is reflected in ``recent``
        self._ours: set[int] = set()  # positions this committer wrote after ``_seen``

    def execute(
        self,
        command: Command,
        *,
        recorded_by: str,
        idempotency_key: str | None = None,
        acting_for: frozenset[str] | None = None,
        expected_version: int | None = None,
    ) -> Receipt:
        """Like :meth:`Ledger.execute`, answered once the batch holding it is committed."""
        return self.submit(
            command, recorded_by=recorded_by, idempotency_key=idempotency_key,
            acting_for=acting_for, expected_version=expected_version,
        ).result()

    def submit(
        self,
        command: Command,
        *,
        recorded_by: str,
        idempotency_key: str | None = None,
        acting_for: frozenset[str] | None = None,
        expected_version: int | None = None,
    ) -> Future[Receipt]:
        """Queue the command; the future is answered once the batch holding it commits."""
        request = Request(
            Submission(command, recorded_by, acting_for, expected_version), idempotency_key
        )
        # Running from now on: a caller that gives up cannot cancel a command that may
        # already be in a committed batch (an awaiting coroutine that is cancelled tries).
        request.future.set_running_or_notify_cancel()
        with self._waiting:
            self._queue.append(request)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="samsyn-group-commit", daemon=True
                )
                self._thread.start()
            else:
                self._waiting.notify()
        return request.future

    def _run(self) -> None:
        """The committer thread: commit batches until none comes for ``idle`` seconds."""
        while True:
            with self._waiting:
                if not self._queue:
                    self._waiting.wait(self.idle)
                if not self._queue:
                    self._thread = None
                    return
                batch = [self._queue.popleft()
                         for _ in range(min(len(self._queue), self.max_batch))]
            try:
                self._commit(batch)
            except Exception:  # every request of the batch is answered with it already
                log.exception("a batch failed")

    def _commit(self, batch: list[Request]) -> None:
        try:
            self._check_and_write(batch)
        except (OperationalError, InterfaceError) as e:
            self._forget_all()
            error = StoreUnavailable(f"the ledger store is unavailable: {e}")
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(error)
        except BaseException as e:  # never leave a caller waiting
            self._forget_all()
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(e)
            raise

    def _check_and_write(self, batch: list[Request]) -> None:
        """Check the batch through the ledger's one check, write what it accepts, answer
        every request: a refused command fails alone, the others are written together."""
        ledger = self.ledger
        pending = self._answer_replays(batch)
        if not pending:
            return
        self._catch_up()
        first: dict[tuple[str, str], Request] = {}
        later: list[Request] = []  # a retry of a key already in this batch
        for request in pending:
            scope = request.scope
            if scope is not None and scope in first:
                later.append(request)
            elif scope is not None:
                first[scope] = request
        retries = {id(r) for r in later}
        ours = [r for r in pending if id(r) not in retries]
        by_submission = {id(r.submission): r for r in ours}
        checked = ledger.check([r.submission for r in ours], recent=self.recent)
        for submission, error in checked.refused:
            by_submission[id(submission)].future.set_exception(error)
        accepted = [by_submission[id(s)] for s in checked.accepted]
        if accepted:
            self._write(checked, accepted)
        for request in later:
            self._one_by_one(request)

    def _write(self, checked: CheckedBatch, accepted: list[Request]) -> None:
        claims = [
            IdempotencyClaim(r.submission.recorded_by, r.idempotency_key,
                             r.submission.command.type, r.digest, [r.submission.span])
            for r in accepted if r.idempotency_key is not None
        ]
        try:
            receipts = self.ledger.write(checked, claims)
        except (OperationalError, InterfaceError):
            raise
        except StoreUnavailable as e:
            if not isinstance(e, WriteTimedOut):  # busy, not this batch's fault: all wait
                self.recent.forget(a.id for a in checked.touched)
                for request in accepted:
                    request.future.set_exception(e)
                return
            self._one_at_a_time(checked, accepted, e)
            return
        except Exception as e:
            self._one_at_a_time(checked, accepted, e)
            return
        self.recent.put(checked.touched)
        self._ours.update(p for receipt in receipts for p in receipt.positions)
        for request, receipt in zip(accepted, receipts, strict=True):
            request.future.set_result(receipt)

    def _one_at_a_time(
        self, checked: CheckedBatch, accepted: list[Request], error: Exception
    ) -> None:
        """After the batch's write failed: each request re-read, re-checked and written on
        its own, so that only the one at fault fails."""
        self.recent.forget(a.id for a in checked.touched)
        if len(accepted) == 1 and not isinstance(error, RecordConflictError):
            accepted[0].future.set_exception(error)
            return
        for request in accepted:
            self._one_by_one(request)

    def _catch_up(self) -> None:
        """Forget kept aggregates that another writer appended to since the last look."""
        if self._seen is None:
            self._forget_all()
            self._seen = self.ledger.max_position()
            return
        recorder: Any = self.ledger.recorder
        changed = recorder.originators_after(self._seen, CATCH_UP_PAGE)
        if len(changed) == CATCH_UP_PAGE:
            self._forget_all()
            self._seen = self.ledger.max_position()
            return
        for position, aggregate_id in changed:
            if position in self._ours:
                self._ours.discard(position)
            else:
                self.recent.forget([aggregate_id])
            self._seen = position

    def _forget_all(self) -> None:
        self.recent.clear()
        self._ours.clear()
        self._seen = None

    def _answer_replays(self, batch: list[Request]) -> list[Request]:
        """Answer retries of commands recorded before; return the rest."""
        pending = []
        for request in batch:
            if request.idempotency_key is None:
                pending.append(request)
                continue
            try:
                replay = self.ledger.replay(request.submission.recorded_by,
                                            request.idempotency_key, request.digest)
            except IdempotencyKeyReused as e:
                request.future.set_exception(e)
                continue
            if replay is None:
                pending.append(request)
            else:
                request.future.set_result(replay[0])
        return pending

    def _one_by_one(self, request: Request) -> None:
        submission = request.submission
        try:
            request.future.set_result(self.ledger.execute(
                submission.command, recorded_by=submission.recorded_by,
                idempotency_key=request.idempotency_key, acting_for=submission.acting_for,
                expected_version=submission.expected_version,
            ))
        except Exception as e:
            request.future.set_exception(e)
