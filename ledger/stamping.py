"""Recorded time taken under the ledger's lock: events encoded once, stamped as they are written.

An entry's recorded time is read from the ledger's clock while its transaction holds the
ledger's lock, and it is never earlier than the recorded time of the entry stored last. So
positions and recorded times grow together, across every process writing to one store, and
``known_at`` is always a prefix of the log; a clock stepped back never makes recorded time go
back (it stays at the last recorded time until the clock catches up).

Encoding is the slow part of a write, so it happens before the lock is taken: each event is
encoded with a provisional timestamp, which the library's JSON writes first in every stored
state (``{"timestamp":{...,"_data_":"<ISO time>"}, ...``). Under the lock the recorder only
puts the real time in front of the rest (:meth:`Unstamped.stamped`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import EventStore, Notification, Recording, StoredEvent

#: The timestamp events carry until they are stamped: never a real recorded time.
PROVISIONAL = datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC)

#: How every stored state begins: its recorded time comes next, up to the closing quote.
HEAD = b'{"timestamp":{"_type_":"datetime_iso","_data_":"'
_PROVISIONAL_HEAD = HEAD + PROVISIONAL.isoformat().encode()


@dataclass(frozen=True)
class Unstamped:
    """One encoded event waiting for its recorded time."""

    originator_id: UUID
    originator_version: int
    topic: str
    rest: bytes  # the stored state after its recorded time

    def stamped(self, at: bytes) -> bytes:
        """The stored state with recorded time ``at`` (ISO text)."""
        return HEAD + at + self.rest


def stamp_text(at: datetime) -> bytes:
    return at.isoformat().encode()


def recorded_time(state_head: bytes | None) -> datetime | None:
    """The recorded time written at the start of a stored state (None if there is none)."""
    if not state_head or not state_head.startswith(HEAD):
        return None
    end = state_head.find(b'"', len(HEAD))
    if end < 0:
        return None
    try:
        return datetime.fromisoformat(state_head[len(HEAD):end].decode())
    except ValueError:
        return None


def next_recorded_time(clock: Callable[[], datetime], last: datetime | None) -> datetime:
    """The clock's time, or the last recorded time if the clock is behind it."""
    now = clock()
    return last if last is not None and last > now else now


def settle(aggregates: Iterable[Any], at: datetime) -> None:
    """Give aggregates changed by a stored write the recorded time it was stored with (their
    creation and modification times were provisional until the lock was held)."""
    for aggregate in aggregates:
        if aggregate.modified_on == PROVISIONAL:
            aggregate.modified_on = at
        if aggregate.created_on == PROVISIONAL:
            vars(aggregate)["_created_on"] = at  # the library's field, set as when created


class StampingRecorder(Protocol):
    """What a recorder offers to write stamped events (see ``ledger/storage.py``)."""

    def insert_stamped(
        self, rows: Sequence[Unstamped], clock: Callable[[], datetime], **kwargs: Any
    ) -> tuple[list[int], datetime]:
        """Take the lock, stamp, insert; answer the positions and the recorded time."""


class StampingEventStore(EventStore[UUID]):
    """The library's event store, with the recorded time taken by the recorder under its lock.

    ``clock`` is the ledger's clock. The events handed in are stamped in place with the
    recorded time they were stored with, so receipts and followers see what the store holds.
    """

    clock: Callable[[], datetime]

    def put(self, domain_events: Sequence[Any], **kwargs: Any) -> list[Recording[UUID]]:
        kwargs.pop("tracking", None)
        if not domain_events and not kwargs.get("idempotency"):
            return []
        rows = [self.unstamped(e) for e in domain_events]
        recorder: StampingRecorder = self.recorder  # type: ignore[assignment]
        positions, at = recorder.insert_stamped(rows, self.clock, **kwargs)
        text = stamp_text(at)
        recordings = []
        for event, row, position in zip(domain_events, rows, positions, strict=True):
            event.__dict__["timestamp"] = at
            recordings.append(Recording(event, Notification(
                id=position, originator_id=row.originator_id,
                originator_version=row.originator_version, topic=row.topic,
                state=row.stamped(text),
            )))
        return recordings

    def unstamped(self, event: Any) -> Unstamped:
        """``event`` encoded with the provisional timestamp, which is cut off."""
        event.__dict__["timestamp"] = PROVISIONAL
        stored: StoredEvent = self.mapper.to_stored_event(event)
        if not stored.state.startswith(_PROVISIONAL_HEAD):
            msg = "stored states must begin with their timestamp (no compressor, no cipher)"
            raise ValueError(msg)
        return Unstamped(
            originator_id=event.originator_id,
            originator_version=stored.originator_version,
            topic=stored.topic,
            rest=stored.state[len(_PROVISIONAL_HEAD):],
        )
