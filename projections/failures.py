"""Entries a read model could not apply: set aside, reported, and retried.

A read model that fails on an entry must not stop the others, nor itself for every later
entry, nor fail silently. The runner sets the entry aside for that read model only (a
row of ``rm_failures``: the read model, the entry's position, the error, when it first and
last failed, how often it was tried), logs it, and carries on; ``/ready`` answers 503
naming each, and ``samsyn status`` lists them. The runner tries them again with a backoff
(at once when it starts: after a fix or an upgrade) and deletes each row once its entry is
applied. Meanwhile the read model's answers about the entities that entry concerns lack
it; every other answer is complete.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.database import Tx
from ledger.errors import SamsynError

FAILURES_TABLE = "rm_failures"
#: How much of an error's text is kept.
ERROR_TEXT = 300


@dataclass(frozen=True)
class Failure:
    """A read model failed to apply the entry at ``position``; ``error`` says why."""

    read_model: str
    position: int
    error: str
    first_failed_at: str = ""
    attempts: int = 1

    def line(self) -> str:
        """The failure in one line, for logs, ``/ready`` and the command line."""
        tries = f", {self.attempts} attempts" if self.attempts > 1 else ""
        since = f" since {self.first_failed_at}" if self.first_failed_at else ""
        return (f"read model {self.read_model} failed on the entry at position "
                f"{self.position}: {self.error}{since}{tries}")


class ReadModelFailed(SamsynError):
    """A read model cannot apply an entry of the ledger (a rebuild stops on it)."""

    kind = "read-model-failed"
    title = "A read model failed on an entry"

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.line())
        self.failure = failure

    def __reduce__(self) -> tuple[type[ReadModelFailed], tuple[Failure]]:
        return ReadModelFailed, (self.failure,)  # raised in a rebuild's worker process


def describe(error: BaseException) -> str:
    """An error as stored text: its class and message, one line, bounded, no NUL."""
    text = f"{type(error).__name__}: {error}".replace("\x00", "\\0")
    text = " ".join(text.split())
    return text if len(text) <= ERROR_TEXT else text[: ERROR_TEXT - 1] + "…"


def create(tx: Tx) -> None:
    tx.execute(
        f"CREATE TABLE IF NOT EXISTS {tx.table(FAILURES_TABLE)} ("
        f"read_model {tx.text} NOT NULL, position BIGINT NOT NULL, error TEXT NOT NULL,"
        f" first_failed_at {tx.text} NOT NULL, last_failed_at {tx.text} NOT NULL,"
        " attempts INTEGER NOT NULL, PRIMARY KEY (read_model, position))"
    )


def _now() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="seconds")


def record(tx: Tx, failures: Sequence[Failure]) -> None:
    """Store ``failures`` (again: the attempt is counted and the error replaced)."""
    now = _now()
    tx.executemany(
        f"INSERT INTO {tx.table(FAILURES_TABLE)}"
        " (read_model, position, error, first_failed_at, last_failed_at, attempts)"
        " VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (read_model, position) DO UPDATE SET"
        " error = excluded.error, last_failed_at = excluded.last_failed_at,"
        f" attempts = {tx.table(FAILURES_TABLE)}.attempts + 1",
        [(f.read_model, f.position, f.error, now, now) for f in failures],
    )


def clear(tx: Tx, read_model: str, position: int) -> None:
    tx.execute(
        f"DELETE FROM {tx.table(FAILURES_TABLE)} WHERE read_model = ? AND position = ?",
        [read_model, position],
    )


def clear_all(tx: Tx, read_models: Iterable[str]) -> None:
    """Forget the failures of ``read_models`` (they were rebuilt without any)."""
    condition, param = tx.in_list("read_model", list(read_models))
    tx.execute(f"DELETE FROM {tx.table(FAILURES_TABLE)} WHERE {condition}", [param])


def listed(tx: Tx, *, lock: bool = False) -> list[Failure]:
    """Every entry set aside, oldest position first; ``lock`` holds them until commit."""
    rows = tx.query(
        f"SELECT read_model, position, error, first_failed_at, attempts"
        f" FROM {tx.table(FAILURES_TABLE)} ORDER BY position, read_model"
        + (tx.lock_rows_sql() if lock else ""),
    )
    return [Failure(str(m), int(p), str(e), str(f), int(a)) for m, p, e, f, a in rows]


class Backoff:
    """When to try the entries set aside again: at once, then after 1, 2, 4 ... seconds,
    at most ``longest`` apart, as long as some keep failing."""

    def __init__(self, longest: float) -> None:
        self.longest = longest
        self._wait = 0.0
        self._due = 0.0

    def due(self) -> bool:
        return time.monotonic() >= self._due

    def failed(self) -> None:
        self._wait = min(max(1.0, self._wait * 2), self.longest)
        self._due = time.monotonic() + self._wait

    def succeeded(self) -> None:
        self._wait = 0.0
        self._due = 0.0
