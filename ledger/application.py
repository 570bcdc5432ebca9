"""The Ledger application: executes commands, appends their events, reads the ordered feed."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar, cast
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent, project_aggregate
from eventsourcing.persistence import (
    InterfaceError,
    JSONTranscoder,
    Notification,
    OperationalError,
    RecordConflictError,
    Recording,
    Transcoding,
)
from eventsourcing.utils import get_topic

from ledger.batch import CheckedBatch, Submission, check_batch, commands_hash
from ledger.commands import Command
from ledger.domain.base import LedgerAggregate, utc_now
from ledger.domain.idempotency import IdempotencyKey
from ledger.errors import ConflictError, IdempotencyKeyReused, Problem, StoreUnavailable
from ledger.recorders import IdempotencyClaim, StoredClaim
from ledger.stamping import StampingEventStore, settle
from ledger.unit_of_work import RecentAggregates


class DateAsISO(Transcoding):
    """Domain dates are stored as ISO 8601 text."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


@dataclass(frozen=True)
class Entry:
    """One event as the ledger stored it: its position in the total order and its content."""

    position: int
    aggregate_id: UUID
    version: int
    topic: str
    event_type: str
    recorded_at: datetime
    recorded_by: str
    data: dict[str, Any]

    @property
    def domain_dates(self) -> dict[str, str]:
        """The dates the event speaks of (decided on, held on, valid from, ...)."""
        return {
            k: v for k, v in self.data.items()
            if isinstance(v, str) and _looks_like_date(k, v)
        }


def _looks_like_date(key: str, value: str) -> bool:
    if not (key.endswith(("_on", "_from", "_until", "_by", "_ends")) or key == "until"):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Receipt:
    """What the ledger answers for an executed command."""

    command_type: str
    recorded_by: str
    recorded_at: datetime
    entries: list[dict[str, Any]] = field(default_factory=list)
    replayed: bool = False

    @property
    def positions(self) -> list[int]:
        return [int(e["position"]) for e in self.entries]


class Ledger(Application[UUID]):
    """Samsyn's write side, built on ``eventsourcing.Application``.

    A command is checked against the aggregates it touches and all their new events are
    appended in one transaction, or none are. The store's version check on each aggregate
    makes a concurrent command that read the same records lose with :class:`ConflictError`;
    retrying it re-reads and re-checks. The notification log is the ledger's total order.
    """

    name = "samsyn"
    env: ClassVar[dict[str, str]] = {"IS_SNAPSHOTTING_ENABLED": "n"}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(env)
        self.clock = clock
        self.write_guard: Callable[[], None] | None = None
        """Called before every append; raises to refuse writing (the integrity log sets it:
        ``IntegrityLog.guard``, when the ledger's history moved backwards)."""

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """Every append passes here (commands, group commits, imports): ask the guard."""
        if self.write_guard is not None:
            self.write_guard()
        return super()._record(processing_event)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def construct_event_store(self) -> StampingEventStore:
        """The library's event store, stamping the recorded time under the ledger's lock."""
        store = StampingEventStore(mapper=self.mapper, recorder=self.recorder)
        store.clock = lambda: self.clock()
        return store

    def execute(
        self,
        command: Command,
        *,
        recorded_by: str,
        idempotency_key: str | None = None,
        acting_for: frozenset[str] | None = None,
        expected_version: int | None = None,
    ) -> Receipt:
        """Check and record one command; answer with the entries it appended.

        ``acting_for`` limits the recorder to acts of those organisations (None: any).
        ``expected_version`` is the version of the command's target entry the client read;
        if the entry has moved on since, the command is refused as a conflict.
        """
        submission = Submission(command, recorded_by, acting_for, expected_version)
        return self._execute([submission], recorded_by, idempotency_key, command.type)[0]

    def execute_many(
        self,
        commands: Sequence[Command],
        *,
        recorded_by: str,
        idempotency_key: str | None = None,
        acting_for: frozenset[str] | None = None,
        labels: Sequence[str] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[Receipt]:
        """Record all commands in one transaction, or none of them.

        Each command is checked against the ledger as the commands before it leave it. If
        any is refused, nothing is written and the error names every refused command by
        its label (``line 7`` in an import) with its problems.
        """
        if not commands:
            return []
        names = list(labels) if labels else [f"[{i}]" for i in range(len(commands))]
        submissions = [
            Submission(command, recorded_by, acting_for, label=label)
            for command, label in zip(commands, names, strict=True)
        ]
        return self._execute(submissions, recorded_by, idempotency_key, "Import", progress,
                             bulk=True)

    def _execute(
        self,
        submissions: list[Submission],
        recorded_by: str,
        idempotency_key: str | None,
        kind: str,
        progress: Callable[[int], None] | None = None,
        *,
        bulk: bool = False,
    ) -> list[Receipt]:
        digest = commands_hash([s.command for s in submissions]) if idempotency_key else ""
        try:
            if idempotency_key is not None:
                replay = self.replay(recorded_by, idempotency_key, digest)
                if replay is not None:
                    return replay
            recorder: Any = self.recorder
            checked = check_batch(self.repository, submissions, progress=progress,
                                  existing=recorder.existing if bulk else None)
            if checked.refused:
                submission, error = checked.refused[0]
                if submission.label is None:  # one command: its own error
                    raise error
                raise checked.refusal()
            claims = [IdempotencyClaim(recorded_by, idempotency_key, kind, digest,
                                       [s.span for s in submissions])] \
                if idempotency_key is not None else []
            try:
                return self.write(checked, claims)
            except RecordConflictError:
                if idempotency_key is not None:
                    replay = self.replay(recorded_by, idempotency_key, digest)
                    if replay is not None:
                        return replay
                raise ConflictError(
                    "another command changed the same records first; nothing was written",
                    [Problem("command", "re-read and retry")],
                ) from None
        except (OperationalError, InterfaceError) as e:
            raise StoreUnavailable(f"the ledger store is unavailable: {e}") from e

    def check(
        self,
        submissions: Sequence[Submission],
        recent: RecentAggregates | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> CheckedBatch:
        """Check commands in turn (see ``ledger/batch.py``); nothing is written."""
        return check_batch(self.repository, submissions, recent, progress)

    def write(
        self, checked: CheckedBatch, claims: Sequence[IdempotencyClaim] = ()
    ) -> list[Receipt]:
        """Append the accepted commands' events in one transaction, with the idempotency
        keys that guard them; answer each accepted command's receipt."""
        events = checked.journal
        recordings = self.save(*events, idempotency=claims)
        positions = {
            (r.domain_event.originator_id, r.domain_event.originator_version): r.notification.id
            for r in recordings
        }
        first: Any = recordings[0].domain_event if recordings else None
        recorded_at: datetime = first.timestamp if first is not None else self.clock()
        settle(checked.touched, recorded_at)
        return [
            self.receipt(s.command, s.recorded_by, recorded_at, events[s.span[0]:s.span[1]],
                         positions)
            for s in checked.accepted
        ]

    @staticmethod
    def receipt(
        command: Command,
        recorded_by: str,
        recorded_at: datetime,
        written: Sequence[Any],
        positions: dict[tuple[UUID, int], int],
    ) -> Receipt:
        """The receipt of a command whose ``written`` events were stored at ``positions``."""
        return Receipt(
            command_type=command.type,
            recorded_by=recorded_by,
            recorded_at=recorded_at,
            entries=[
                _entry_receipt(e, positions[(e.originator_id, e.originator_version)])
                for e in written
            ],
        )

    def replay(self, account: str, key: str, digest: str) -> list[Receipt] | None:
        """The original receipts if ``account`` recorded these very commands under ``key``;
        None if it never used the key; refused if it used it for other commands."""
        recorder: Any = self.recorder
        claim: StoredClaim | None = recorder.idempotency_claim(account, key) \
            or self._claim_of_old(account, key)
        if claim is None:
            return None
        if claim.command_hash != digest:
            raise IdempotencyKeyReused(
                "this idempotency key was used for a different command",
                [Problem("idempotency_key", f"already used for a {claim.command_type}")],
            )
        wanted = sorted(p for command in claim.positions for p in command)
        events: dict[int, Any] = {}
        for first in range(0, len(wanted), 1000):
            chunk = wanted[first:first + 1000]
            for n in self.recorder.select_notifications(start=chunk[0], stop=chunk[-1],
                                                       limit=chunk[-1] - chunk[0] + 1):
                events[n.id] = self.mapper.to_domain_event(n)
        receipts = []
        for command in claim.positions:
            first_event = events[command[0]] if command else next(iter(events.values()), None)
            receipts.append(Receipt(
                command_type=claim.command_type,
                recorded_by=first_event.recorded_by if first_event else account,
                recorded_at=first_event.timestamp if first_event else self.clock(),
                entries=[_entry_receipt(events[p], p) for p in command],
                replayed=True,
            ))
        return receipts

    def _claim_of_old(self, account: str, key: str) -> StoredClaim | None:
        """A key claimed by an ``IdempotencyKey`` entry, as Samsyn recorded keys before
        they moved beside the ledger: still honoured for the account that claimed it (its
        reference joined account and key, so the recorder tells ``ops`` + ``x:k1`` from
        ``ops:x`` + ``k1``)."""
        claim_id = IdempotencyKey.id_for(f"{account}:{key}")
        if claim_id not in self.repository:
            return None
        old = cast(IdempotencyKey, self.repository.get(claim_id))
        claimed_by = next(iter(self.events.get(claim_id, lte=1)))
        if getattr(claimed_by, "recorded_by", None) != account:
            return None
        entries = [(UUID(str(i)), int(v), int(n)) for i, v, n in old.entries]
        positions = self.recorder.positions_of(  # type: ignore[attr-defined]
            [(i, v) for i, v, _ in entries])
        commands: dict[int, list[int]] = {}
        for aggregate_id, version, index in entries:
            commands.setdefault(index, []).append(positions[(aggregate_id, version)])
        return StoredClaim(old.command_type, old.command_hash,
                           [commands[i] for i in sorted(commands)])

    # Reading ------------------------------------------------------------------------------

    def read(self, after: int = 0, limit: int = 100) -> list[Entry]:
        """Entries in the ledger's total order, starting after position ``after``."""
        notifications = self.recorder.select_notifications(
            start=after, limit=limit, inclusive_of_start=False
        )
        return [self.to_entry(n) for n in notifications]

    def read_all(self, after: int = 0, batch: int = 1000) -> Iterator[Entry]:
        while True:
            entries = self.read(after, batch)
            if not entries:
                return
            yield from entries
            after = entries[-1].position

    def to_entry(self, notification: Notification) -> Entry:
        return self._entry(self.mapper.to_domain_event(notification), notification.id,
                           notification.topic)

    def entry_with_history(
        self, aggregate_id: UUID
    ) -> tuple[LedgerAggregate, list[Entry]] | None:
        """One aggregate as it stands and every entry of it, oldest first, with its position
        in the ledger (None if there is none): its events read and decoded once, the
        aggregate projected from them by the library's ``project_aggregate``."""
        events: list[Any] = list(self.events.get(aggregate_id))
        if not events:
            return None
        aggregate = cast(LedgerAggregate, project_aggregate(None, events))
        positions = self.recorder.positions_of(  # type: ignore[attr-defined]
            [(aggregate_id, e.originator_version) for e in events]
        )
        return aggregate, [
            self._entry(e, positions[(aggregate_id, e.originator_version)], get_topic(type(e)))
            for e in events
        ]

    @staticmethod
    def _entry(event: Any, position: int, topic: str) -> Entry:
        data = {
            k: _jsonable(v)
            for k, v in event.__dict__.items()
            if k not in ("originator_id", "originator_version", "timestamp", "recorded_by",
                         "originator_topic")
        }
        return Entry(
            position=position,
            aggregate_id=event.originator_id,
            version=event.originator_version,
            topic=topic,
            event_type=type(event).__qualname__,
            recorded_at=event.timestamp,
            recorded_by=event.recorded_by,
            data=data,
        )

    def max_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def aggregate(self, aggregate_id: UUID) -> LedgerAggregate | None:
        if aggregate_id not in self.repository:
            return None
        return cast(LedgerAggregate, self.repository.get(aggregate_id))


def _entry_receipt(event: Any, position: int) -> dict[str, Any]:
    return {
        "position": position,
        "aggregate_id": str(event.originator_id),
        "version": event.originator_version,
        "event_type": type(event).__qualname__,
        "ref": getattr(event, "ref", None),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value
