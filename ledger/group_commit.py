"""Group commit: concurrent commands checked one after another, saved in one transaction.

One transaction per command spends most of its time taking the ledger's table lock and
committing. Under concurrency the committer takes every command waiting, checks each in
turn against the ledger as the ones before it leave it (so two commands on the same
record behave exactly as if they came one after the other), and saves all accepted
ones in a single transaction. A refused command fails alone; the others still land.
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

from ledger.commands import Command
from ledger.domain.base import RecordingContext, recording
from ledger.domain.idempotency import IdempotencyKey
from ledger.errors import IdempotencyKeyReused, SamsynError, StoreUnavailable
from ledger.handlers import HANDLERS
from ledger.unit_of_work import RecentAggregates, UnitOfWork

if TYPE_CHECKING:
    from ledger.application import Ledger, Receipt

log = structlog.get_logger(__name__)

#: How many stored entries one look at what others appended reads before giving up and
#: forgetting every kept aggregate instead (after a large import, say).
CATCH_UP_PAGE = 1000


@dataclass
class Request:
    command: Command
    recorded_by: str
    idempotency_key: str | None
    acting_for: frozenset[str] | None
    expected_version: int | None
    future: Future[Receipt] = field(default_factory=Future)
    span: tuple[int, int] = (0, 0)

    @property
    def key_ref(self) -> str | None:
        return f"{self.recorded_by}:{self.idempotency_key}" if self.idempotency_key else None


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
        request = Request(command, recorded_by, idempotency_key, acting_for, expected_version)
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
        ledger = self.ledger
        accepted: list[Request] = []
        uow = UnitOfWork(ledger.repository, recent=self.recent)
        try:
            pending = self._answer_replays(batch)
            if not pending:
                return
            self._catch_up()
            stamped = ledger.clock()
            journal: list[Any] = []
            claimed: dict[str, Request] = {}
            for request in pending:
                key_ref = request.key_ref
                if key_ref is not None and key_ref in claimed:
                    continue  # answered after the save, from the first request's receipt
                try:
                    self._check_one(request, uow, journal, stamped)
                except SamsynError as e:
                    request.future.set_exception(e)
                    journal.clear()
                    self.recent.forget(a.id for a in uow.aggregates)
                    uow = UnitOfWork(ledger.repository, recent=self.recent)
                    for earlier in accepted:
                        self._check_one(earlier, uow, journal, stamped)
                    continue
                accepted.append(request)
                if key_ref is not None:
                    claimed[key_ref] = request
            if not accepted:
                return
            try:
                recordings = ledger.save(*journal)
            except RecordConflictError:
                # Another process wrote to the same records: fall back to one at a time,
                # which re-reads, re-checks and answers each request on its own.
                self.recent.forget(a.id for a in uow.aggregates)
                for request in accepted:
                    self._one_by_one(request)
                accepted = []
                return
            self.recent.put(uow.aggregates)
            self._ours.update(r.notification.id for r in recordings)
            positions = {
                (r.domain_event.originator_id, r.domain_event.originator_version):
                    r.notification.id
                for r in recordings
            }
            for request in accepted:
                request.future.set_result(ledger.receipt(
                    request.command, request.recorded_by, stamped,
                    journal[request.span[0]:request.span[1]], positions,
                ))
            for request in pending:
                if not request.future.done():
                    self._one_by_one(request)  # a retry of a key claimed in this batch
        except (OperationalError, InterfaceError) as e:
            self.recent.forget(a.id for a in uow.aggregates)
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
        from ledger.application import commands_hash

        pending = []
        for request in batch:
            key_ref = request.key_ref
            if key_ref is None:
                pending.append(request)
                continue
            try:
                replay = self.ledger._replay(key_ref, commands_hash([request.command]))
            except IdempotencyKeyReused as e:
                request.future.set_exception(e)
                continue
            if replay is None:
                pending.append(request)
            else:
                request.future.set_result(replay[0])
        return pending

    def _check_one(
        self, request: Request, uow: UnitOfWork, journal: list[Any], stamped: Any
    ) -> None:
        from ledger.application import _check_version, commands_hash

        context = RecordingContext(request.recorded_by, lambda: stamped, journal)
        begin = len(journal)
        uow.act_for(request.acting_for)
        with recording(context):
            if request.expected_version is not None:
                _check_version(uow, request.command, request.expected_version)
            HANDLERS[type(request.command)](request.command, uow)
            if request.key_ref is not None:
                entries: list[list[str | int]] = [
                    [str(e.originator_id), e.originator_version, 0] for e in journal[begin:]
                ]
                IdempotencyKey.claim(request.key_ref, request.command.type,
                                     commands_hash([request.command]), entries)
        request.span = (begin, len(journal))

    def _one_by_one(self, request: Request) -> None:
        try:
            request.future.set_result(self.ledger.execute(
                request.command, recorded_by=request.recorded_by,
                idempotency_key=request.idempotency_key, acting_for=request.acting_for,
                expected_version=request.expected_version,
            ))
        except SamsynError as e:
            request.future.set_exception(e)

