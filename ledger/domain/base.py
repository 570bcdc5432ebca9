"""What every aggregate and event shares: recorder and recorded time, references, adjustments."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.errors import InvalidCommand, Problem, RuleViolation
from ledger.limits import domain_date

#: Namespace of every id Samsyn derives from a registrar's reference.
SAMSYN_NAMESPACE = uuid5(NAMESPACE_URL, "urn:samsyn:ledger")


def normalise_ref(ref: str) -> str:
    """References compare without regard to case, spacing or Unicode composition: ``rjh`` is
    ``RJH``, and a decomposed "A\u030a" is the precomposed "\u00c5" (NFC, as the door
    normalises every reference it accepts; see ``ledger/limits.py``)."""
    return unicodedata.normalize("NFC", " ".join(ref.split()).casefold())


def entity_id(kind: str, ref: str) -> UUID:
    """The stable id of the ``kind`` entity registrars call ``ref``.

    Deriving ids from references lets two registrars creating the same thing at the same
    time collide in the store (one wins, the other is told), and lets any entity be found
    by the reference people use, without an index of our own.
    """
    return uuid5(SAMSYN_NAMESPACE, f"{kind}:{normalise_ref(ref)}")


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


@dataclass(frozen=True)
class RecordingContext:
    """Who is recording, the clock that stamps the recorded time, and the journal that
    keeps every new event in the order it happened (the order it is appended in)."""

    recorded_by: str
    clock: Callable[[], datetime] = utc_now
    journal: list[Any] = field(default_factory=list)


_recording: ContextVar[RecordingContext | None] = ContextVar("samsyn_recording", default=None)


@contextmanager
def recording(context: RecordingContext) -> Iterator[RecordingContext]:
    """Stamp every event created inside the block with this recorder and clock."""
    token = _recording.set(context)
    try:
        yield context
    finally:
        _recording.reset(token)


def current_recording() -> RecordingContext:
    """The recording context of the command being executed (``system`` outside one)."""
    return _recording.get() or RecordingContext(recorded_by="system")


class LedgerAggregate(Aggregate):
    """Base of Samsyn's aggregates.

    Every event carries who recorded it (``recorded_by``) and when the ledger stamped it
    (the library's ``timestamp``, taken from the recording context's clock). Any entry can
    be corrected (a named field gets its right value, with a reason) or voided (registered
    in error, with a reason); neither erases the original, which stays in the history.
    """

    #: Fields a correction may change, with the parser for the right value.
    correctable: ClassVar[dict[str, Callable[[Any], Any]]] = {}
    kind: ClassVar[str] = "entry"

    class Event(Aggregate.Event):
        recorded_by: str

        @staticmethod
        def create_timestamp() -> datetime:
            return current_recording().clock()

    class Created(Event, Aggregate.Created):
        ref: str

    class FactCorrected(Event):
        """A registered fact was wrong: ``field`` had ``wrong_value``; ``right_value`` is true."""

        field: str
        wrong_value: Any
        right_value: Any
        reason: str

        def apply(self, aggregate: LedgerAggregate) -> None:
            parse = type(aggregate).correctable[self.field]
            setattr(aggregate, self.field, parse(self.right_value))
            aggregate.corrections.append(self.originator_version)

    class EntryVoided(Event):
        """The entry was registered in error. It stays in history; read models drop it."""

        reason: str

        def apply(self, aggregate: LedgerAggregate) -> None:
            aggregate.voided = True
            aggregate.void_reason = self.reason

    ref: str
    voided: bool
    void_reason: str | None
    corrections: list[int]

    def __init__(self, ref: str, **kwargs: Any) -> None:
        self.ref = ref
        self.voided = False
        self.void_reason = None
        self.corrections = []

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        context = current_recording()
        kwargs.setdefault("recorded_by", context.recorded_by)
        super().trigger_event(event_class, **kwargs)
        context.journal.append(self.pending_events[-1])

    @classmethod
    def _create(cls, event_class: Any, *, id: Any = None, **kwargs: Any) -> Any:
        context = current_recording()
        kwargs.setdefault("recorded_by", context.recorded_by)
        created = super()._create(event_class, id=id, **kwargs)
        context.journal.append(created.pending_events[-1])
        return created

    @classmethod
    def id_for(cls, ref: str) -> UUID:
        return entity_id(cls.kind, ref)

    def owners(self) -> set[str]:
        """Organisations whose registrars may record acts on this entry (none: admins only)."""
        return set()

    def check_not_voided(self) -> None:
        if self.voided:
            raise RuleViolation(
                f"{self.kind} {self.ref!r} was voided",
                [Problem(self.kind, f"{self.ref!r} was voided: {self.void_reason}")],
            )

    def correct(self, field: str, right_value: Any, reason: str) -> None:
        """Register the right value of a field, keeping the wrong one in history."""
        require_reason(reason)
        self.check_not_voided()
        if field not in self.correctable:
            allowed = ", ".join(sorted(self.correctable)) or "none"
            raise InvalidCommand(
                f"{self.kind} has no correctable field {field!r}",
                [Problem("field", f"correctable fields of a {self.kind}: {allowed}")],
            )
        try:
            parsed = self.correctable[field](right_value)
            if isinstance(parsed, date):
                domain_date(parsed)
        except (TypeError, ValueError) as e:
            raise InvalidCommand(
                f"{right_value!r} is not a valid {field}", [Problem("right_value", str(e))]
            ) from None
        wrong = getattr(self, field)
        self.trigger_event(
            self.FactCorrected,
            field=field,
            wrong_value=to_json_value(wrong),
            right_value=to_json_value(parsed),
            reason=reason,
        )

    def void(self, reason: str) -> None:
        require_reason(reason)
        self.check_not_voided()
        self.trigger_event(self.EntryVoided, reason=reason)


def require_reason(reason: str) -> None:
    if not reason or not reason.strip():
        raise InvalidCommand(
            "a correction or voiding needs a reason",
            [Problem("reason", "must state why (it is kept with the adjustment)")],
        )


def to_json_value(value: Any) -> Any:
    """A value as it appears in an event payload (dates as ISO text)."""
    if isinstance(value, date):
        return value.isoformat()
    return value


def parse_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def parse_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        msg = "must be non-empty text"
        raise ValueError(msg)
    return value


def parse_optional_date(value: Any) -> date | None:
    return None if value is None else parse_date(value)
