"""The Ledger application: executes commands, appends their events, reads the ordered feed."""

from __future__ import annotations

import hashlib
import json
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

from ledger.commands import Command
from ledger.domain.base import LedgerAggregate, RecordingContext, recording, utc_now
from ledger.domain.idempotency import IdempotencyKey
from ledger.errors import (
    ConflictError,
    IdempotencyKeyReused,
    InvalidCommand,
    Problem,
    SamsynError,
    StoreUnavailable,
)
from ledger.handlers import ENTRY_CLASSES, HANDLERS
from ledger.unit_of_work import UnitOfWork


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


def commands_hash(commands: Sequence[Command]) -> str:
    """A digest of the commands' content, to tell a retry from a different request."""
    body = json.dumps([c.model_dump(mode="json") for c in commands], sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


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
        return self._execute(
            [command], recorded_by, idempotency_key, acting_for, expected_version, None, None
        )[0]

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
        return self._execute(
            list(commands), recorded_by, idempotency_key, acting_for, None,
            list(labels) if labels else [f"[{i}]" for i in range(len(commands))], progress,
        )

    def _execute(
        self,
        commands: list[Command],
        recorded_by: str,
        idempotency_key: str | None,
        acting_for: frozenset[str] | None,
        expected_version: int | None,
        labels: list[str] | None,
        progress: Callable[[int], None] | None,
    ) -> list[Receipt]:
        key_ref = f"{recorded_by}:{idempotency_key}" if idempotency_key else None
        digest = commands_hash(commands) if key_ref else ""
        kind = commands[0].type if len(commands) == 1 else "Import"
        try:
            if key_ref is not None:
                replay = self._replay(key_ref, digest)
                if replay is not None:
                    return replay
            stamped = self.clock()
            context = RecordingContext(recorded_by=recorded_by, clock=lambda: stamped)
            with recording(context):
                spans = self._check(
                    commands, context, acting_for, expected_version, labels, progress
                )
                if key_ref is not None:
                    entries: list[list[str | int]] = [
                        [str(e.originator_id), e.originator_version, index]
                        for index, (begin, end) in enumerate(spans)
                        for e in context.journal[begin:end]
                    ]
                    IdempotencyKey.claim(key_ref, kind, digest, entries)
            events = context.journal
            try:
                recordings = self.save(*events)
            except RecordConflictError:
                if key_ref is not None:
                    replay = self._replay(key_ref, digest)
                    if replay is not None:
                        return replay
                raise ConflictError(
                    "another command changed the same records first; nothing was written",
                    [Problem("command", "re-read and retry")],
                ) from None
        except (OperationalError, InterfaceError) as e:
            raise StoreUnavailable(f"the ledger store is unavailable: {e}") from e
        positions = {
            (r.domain_event.originator_id, r.domain_event.originator_version): r.notification.id
            for r in recordings
        }
        receipts = []
        for index, (begin, end) in enumerate(spans):
            written = events[begin:end]
            if index == len(spans) - 1 and key_ref is not None:
                written = [*written, events[-1]]
            receipts.append(self.receipt(commands[index], recorded_by, stamped, written,
                                         positions))
        return receipts

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

    def _check(
        self,
        commands: list[Command],
        context: RecordingContext,
        acting_for: frozenset[str] | None,
        expected_version: int | None,
        labels: list[str] | None,
        progress: Callable[[int], None] | None = None,
    ) -> list[tuple[int, int]]:
        """Run the handlers; answer each command's span of the journal."""
        uow = UnitOfWork(self.repository, acting_for)
        if expected_version is not None:
            _check_version(uow, commands[0], expected_version)
        spans: list[tuple[int, int]] = []
        accepted: list[Command] = []
        problems: list[Problem] = []
        for index, command in enumerate(commands):
            begin = len(context.journal)
            try:
                HANDLERS[type(command)](command, uow)
            except SamsynError as e:
                if labels is None:
                    raise
                label = labels[index]
                problems += [Problem(f"{label}: {p.field}", p.reason) for p in e.problems] or [
                    Problem(label, e.detail)
                ]
                # Start again from the accepted commands, without the refused one's traces.
                context.journal.clear()
                uow = UnitOfWork(self.repository, acting_for)
                spans = []
                for earlier in accepted:
                    begin = len(context.journal)
                    HANDLERS[type(earlier)](earlier, uow)
                    spans.append((begin, len(context.journal)))
                continue
            accepted.append(command)
            spans.append((begin, len(context.journal)))
            if progress is not None:
                progress(1)
        if problems:
            refused = len({p.field.split(":")[0] for p in problems})
            raise InvalidCommand(
                f"{refused} of {len(commands)} commands refused; nothing was written", problems
            )
        return spans

    def _replay(self, key_ref: str, digest: str) -> list[Receipt] | None:
        """The original receipts if this key was already used for these very commands."""
        claim_id = IdempotencyKey.id_for(key_ref)
        if claim_id not in self.repository:
            return None
        claim = cast(IdempotencyKey, self.repository.get(claim_id))
        if claim.command_hash != digest:
            raise IdempotencyKeyReused(
                "this idempotency key was used for a different command",
                [Problem("idempotency_key", f"already used for a {claim.command_type}")],
            )
        wanted = [(UUID(str(i)), int(v), int(n)) for i, v, n in claim.entries]
        last = max((n for _, _, n in wanted), default=0)
        wanted.append((claim.id, 1, last))
        positions = self.recorder.positions_of(  # type: ignore[attr-defined]
            [(i, v) for i, v, _ in wanted]
        )
        by_index: dict[int, list[dict[str, Any]]] = {}
        first: Any = None
        for aggregate_id, version, index in wanted:
            event: Any = next(iter(self.events.get(aggregate_id, gt=version - 1, lte=version)))
            first = first or event
            by_index.setdefault(index, []).append(
                _entry_receipt(event, positions[(aggregate_id, version)])
            )
        return [
            Receipt(
                command_type=claim.command_type,
                recorded_by=first.recorded_by,
                recorded_at=first.timestamp,
                entries=by_index[index],
                replayed=True,
            )
            for index in sorted(by_index)
        ]

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


def _check_version(uow: UnitOfWork, command: Command, expected: int) -> None:
    target = command.target()
    if target is None:
        raise InvalidCommand(
            f"a {command.type} acts on no existing entry; a version precondition cannot apply",
            [Problem("If-Match", "not applicable to this command")],
        )
    kind, ref = target
    field = "entry.ref" if hasattr(command, "entry") else kind
    current = uow.get_any(ENTRY_CLASSES[kind], ref, field)
    if current.version != expected:
        raise ConflictError(
            f"{kind} {ref!r} is at version {current.version}, not {expected}; nothing was written",
            [Problem("If-Match", f"re-read {kind} {ref!r} and retry")],
        )


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
