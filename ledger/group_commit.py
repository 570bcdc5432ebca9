"""Group commit: concurrent commands checked one after another, saved in one transaction.

One transaction per command spends most of its time taking the ledger's table lock and
committing. Under concurrency the committer takes every command waiting, checks each in
turn against the ledger as the ones before it leave it (so two commands on the same
record behave exactly as if they came one after the other), and saves all accepted
ones in a single transaction. A refused command fails alone; the others still land.
Durability is unchanged: a caller is answered only after the transaction commits.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import InterfaceError, OperationalError, RecordConflictError

from ledger.commands import Command
from ledger.domain.base import RecordingContext, recording
from ledger.domain.idempotency import IdempotencyKey
from ledger.errors import IdempotencyKeyReused, SamsynError, StoreUnavailable
from ledger.handlers import HANDLERS
from ledger.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from ledger.application import Ledger, Receipt


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
    """Collects commands from many threads and commits them in batches.

    The first caller to find no batch in progress becomes the leader: it takes every
    waiting request (at most ``max_batch``) and commits them; the others wait for their
    answer. No extra thread, and a lone command goes straight through.
    """

    def __init__(self, ledger: Ledger, max_batch: int = 128) -> None:
        self.ledger = ledger
        self.max_batch = max_batch
        self._queue: deque[Request] = deque()
        self._changed = threading.Condition()
        self._leading = False

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
        request = Request(command, recorded_by, idempotency_key, acting_for, expected_version)
        with self._changed:
            self._queue.append(request)
            while not request.future.done():
                if self._leading:
                    self._changed.wait(timeout=1.0)
                    continue
                self._leading = True
                batch = [self._queue.popleft()
                         for _ in range(min(len(self._queue), self.max_batch))]
                self._changed.release()
                try:
                    self._commit(batch)
                finally:
                    self._changed.acquire()
                    self._leading = False
                    self._changed.notify_all()
        return request.future.result()

    def _commit(self, batch: list[Request]) -> None:
        ledger = self.ledger
        accepted: list[Request] = []
        try:
            pending = self._answer_replays(batch)
            if not pending:
                return
            stamped = ledger.clock()
            journal: list[Any] = []
            uow = UnitOfWork(ledger.repository)
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
                    uow = UnitOfWork(ledger.repository)
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
                for request in accepted:
                    self._one_by_one(request)
                accepted = []
                return
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
            error = StoreUnavailable(f"the ledger store is unavailable: {e}")
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(error)
        except BaseException as e:  # never leave a caller waiting
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(e)
            raise

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

