"""The one check every command goes through: alone, in an import, or in a group commit.

Commands are checked one after another against the ledger as the ones before them leave it,
all into one journal of new events. A command that fails is set aside with its error and
leaves no trace: the journal and the aggregates are rebuilt from the commands accepted so
far. Whatever a command raises fails that command alone, never its neighbours: a refusal
(:class:`~ledger.errors.SamsynError`) as it is; a value the ledger cannot process
(``OverflowError`` on a date beyond year 9999, say) as an :class:`InvalidCommand`; anything
else (a defect) as the exception itself, logged with its traceback.

What is done with the outcome differs by caller, not the check: ``Ledger.execute`` answers
one command, ``Ledger.execute_many`` writes all or nothing, the group committer writes the
accepted and answers each refused one on its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.application import Repository
from eventsourcing.persistence import InterfaceError, OperationalError

from ledger.commands import Command
from ledger.domain.base import RecordingContext, recording
from ledger.errors import AlreadyRecorded, ConflictError, InvalidCommand, Problem, SamsynError
from ledger.handlers import ENTRY_CLASSES, HANDLERS
from ledger.stamping import PROVISIONAL
from ledger.unit_of_work import RecentAggregates, UnitOfWork

log = structlog.get_logger(__name__)

#: Aggregate ids per query asking which are stored already.
EXISTING_CHUNK = 5000

#: What a value the ledger cannot process raises (out-of-range dates, huge numbers, depth).
INPUT_ERRORS = (ValueError, ArithmeticError, RecursionError)


@dataclass
class Submission:
    """One command to check: who records it, for whom, and what it expects to find."""

    command: Command
    recorded_by: str
    acting_for: frozenset[str] | None = None
    expected_version: int | None = None
    label: str | None = None  # how an import names it ("line 7")
    span: tuple[int, int] = (0, 0)  # its events in the journal, once accepted
    added: list[Any] = field(default_factory=list)  # new aggregates not yet asked about


@dataclass
class CheckedBatch:
    """The outcome of a check: the journal of every accepted command, and the refused."""

    journal: list[Any] = field(default_factory=list)
    accepted: list[Submission] = field(default_factory=list)
    refused: list[tuple[Submission, Exception]] = field(default_factory=list)
    touched: list[Any] = field(default_factory=list)  # aggregates the accepted ones changed

    def refusal(self) -> InvalidCommand:
        """Every refused command named by its label, as one error (all or nothing)."""
        problems: list[Problem] = []
        for submission, error in self.refused:
            label = submission.label or submission.command.type
            if isinstance(error, SamsynError):
                problems += [Problem(f"{label}: {p.field}", p.reason) for p in error.problems] \
                    or [Problem(label, error.detail)]
            else:
                problems.append(Problem(label, f"cannot be processed: {error}"))
        total = len(self.accepted) + len(self.refused)
        return InvalidCommand(
            f"{len(self.refused)} of {total} commands refused; nothing was written", problems
        )


def commands_hash(commands: Sequence[Command]) -> str:
    """A digest of the commands' content, to tell a retry from a different request."""
    body = json.dumps([c.model_dump(mode="json") for c in commands], sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def as_refusal(error: Exception) -> Exception:
    """What a command that raised ``error`` is answered with."""
    if isinstance(error, SamsynError):
        return error
    if isinstance(error, INPUT_ERRORS):
        return InvalidCommand(
            "the command holds a value the ledger cannot process; nothing was written",
            [Problem("command", f"{type(error).__name__}: {error}")],
        )
    log.error("a command failed unexpectedly", exc_info=error)
    return error


def check_batch(
    repository: Repository[Any],
    submissions: Sequence[Submission],
    recent: RecentAggregates | None = None,
    progress: Callable[[int], None] | None = None,
    existing: Callable[[Collection[UUID]], set[UUID]] | None = None,
) -> CheckedBatch:
    """Check ``submissions`` in turn; each failure is set aside alone (see the module).

    With ``existing`` (which of these aggregate ids are stored?), whether a new entry's
    reference is already taken is asked in bulk after the last command, not once per new
    entry: an import of thousands of new entries asks a few queries instead of thousands.
    A command whose new entry turns out to exist is then refused (AlreadyRecorded); what
    the commands after it did is not checked again, so this suits all-or-nothing batches.
    """
    batch = CheckedBatch()
    deferred = existing is not None

    def unit() -> UnitOfWork:
        return UnitOfWork(repository, recent=recent, deferred=deferred)

    uow = unit()
    for submission in submissions:
        try:
            _check_one(submission, uow, batch.journal)
        except (OperationalError, InterfaceError):
            raise  # the store, not the command: the caller answers every command of the batch
        except Exception as e:
            batch.refused.append((submission, as_refusal(e)))
            if recent is not None:
                recent.forget(a.id for a in uow.aggregates)
            # Start again from the accepted commands, without the refused one's traces.
            batch.journal.clear()
            uow = unit()
            for earlier in batch.accepted:
                _check_one(earlier, uow, batch.journal)
            continue
        batch.accepted.append(submission)
        if progress is not None:
            progress(1)
    batch.touched = uow.aggregates
    if existing is not None:
        _refuse_taken(batch, existing)
    return batch


def _refuse_taken(batch: CheckedBatch, existing: Callable[[Collection[UUID]], set[UUID]]) -> None:
    """Refuse the accepted commands whose new entries turn out to be stored already."""
    added = [a.id for s in batch.accepted for a in s.added]
    taken: set[UUID] = set()
    for begin in range(0, len(added), EXISTING_CHUNK):
        taken |= existing(added[begin:begin + EXISTING_CHUNK])
    if not taken:
        return
    for submission in list(batch.accepted):
        clash = next((a for a in submission.added if a.id in taken), None)
        if clash is not None:
            batch.accepted.remove(submission)
            batch.refused.append((submission, AlreadyRecorded(
                f"{clash.kind} {clash.ref!r} is already recorded",
                [Problem("ref", f"a {clash.kind} {clash.ref!r} exists")],
            )))


def _check_one(submission: Submission, uow: UnitOfWork, journal: list[Any]) -> None:
    """Run the command's handler, its events going to ``journal``; note its span."""
    context = RecordingContext(submission.recorded_by, lambda: PROVISIONAL, journal)
    begin = len(journal)
    added = len(uow.added)
    uow.act_for(submission.acting_for)
    with recording(context):
        if submission.expected_version is not None:
            check_version(uow, submission.command, submission.expected_version)
        HANDLERS[type(submission.command)](submission.command, uow)
    submission.span = (begin, len(journal))
    submission.added = uow.added[added:]


def check_version(uow: UnitOfWork, command: Command, expected: int) -> None:
    """Refuse unless the command's target entry is at version ``expected``."""
    target = command.target()
    if target is None:
        raise InvalidCommand(
            f"a {command.type} acts on no existing entry; a version precondition cannot apply",
            [Problem("If-Match", "not applicable to this command")],
        )
    kind, ref = target
    field_name = "entry.ref" if hasattr(command, "entry") else kind
    current = uow.get_any(ENTRY_CLASSES[kind], ref, field_name)
    if current.version != expected:
        raise ConflictError(
            f"{kind} {ref!r} is at version {current.version}, not {expected}; nothing was written",
            [Problem("If-Match", f"re-read {kind} {ref!r} and retry")],
        )
