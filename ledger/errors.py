"""The one error hierarchy: every refusal Samsyn gives, with the field and the reason."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a command: where (a dotted field path) and why."""

    field: str
    reason: str


class SamsynError(Exception):
    """Base of every error Samsyn raises on purpose.

    ``kind`` is a stable, URL-friendly slug that clients may switch on; ``problems`` name
    the offending fields. The HTTP layer turns these into RFC 9457 problem documents.
    """

    kind = "samsyn-error"
    title = "Samsyn error"

    def __init__(self, detail: str, problems: list[Problem] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems: list[Problem] = problems or []


class InvalidCommand(SamsynError):
    """The command is malformed: a missing field, a wrong type, an impossible value."""

    kind = "invalid-command"
    title = "Invalid command"


class UnknownReference(SamsynError):
    """The command names something the ledger does not know."""

    kind = "unknown-reference"
    title = "Unknown reference"

    def __init__(self, what: str, ref: str, field: str) -> None:
        super().__init__(f"unknown {what} {ref!r}", [Problem(field, f"no {what} {ref!r}")])
        self.what = what
        self.ref = ref


class AlreadyRecorded(SamsynError):
    """The command would register something that already exists under that reference."""

    kind = "already-recorded"
    title = "Already recorded"


class RuleViolation(SamsynError):
    """The command is well-formed but would make the record incoherent."""

    kind = "rule-violation"
    title = "The record would become incoherent"


class ConflictError(SamsynError):
    """Another command changed the same records first; re-read and retry."""

    kind = "conflict"
    title = "Concurrent change"


class IdempotencyKeyReused(SamsynError):
    """An idempotency key was sent again with a different command."""

    kind = "idempotency-key-reused"
    title = "Idempotency key reused with a different command"


class NotPermitted(SamsynError):
    """The account may not record acts of this organisation."""

    kind = "not-permitted"
    title = "Not permitted"


class StoreUnavailable(SamsynError):
    """The database cannot be reached; nothing was written."""

    kind = "store-unavailable"
    title = "Ledger store unavailable"


class WriteTimedOut(StoreUnavailable):
    """The write waited too long for the ledger's lock, or ran too long, and was cancelled;
    nothing was written (answered like an unavailable store: retry later)."""

    kind = "write-timed-out"
    title = "The write took too long"


class NotCaughtUp(SamsynError):
    """A read asked for a ledger position that what serves it has not reached in time."""

    kind = "not-caught-up"
    title = "Not caught up with the position asked for"


@dataclass
class ProblemCollector:
    """Gathers problems so that a command is refused with all of them at once."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, field_path: str, reason: str) -> None:
        self.problems.append(Problem(field_path, reason))

    def raise_if_any(self, error: type[SamsynError], detail: str) -> None:
        if self.problems:
            raise error(detail, self.problems)
