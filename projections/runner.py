"""The runner: follows the ledger's order and applies each entry to each read model exactly once.

It reads the notification log a page at a time and applies a page per transaction, in
which each read model's tracked position moves with its rows; a crash anywhere leaves
every read model at a page boundary, and the next run carries on from there. On
PostgreSQL it LISTENs on the ledger's channel and also polls (a lost notification must
never stall it); on SQLite it polls. A read model whose stored tables are of another
version is rebuilt before the runner follows the ledger.

In a service: ``ProjectionRunner(settings).start()``, then ``wait_until(position)`` to
read one's own writes, ``stop()`` at shutdown. As its own process: :func:`run_forever`.
With a :class:`~ledger.leadership.Leadership` it follows the ledger only while this process
leads the projector role (one runner at work per database, whatever the number of
processes); standing by, it only keeps ``position`` up with what the leader committed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

import psycopg
import structlog
from eventsourcing.persistence import PersistenceError
from psycopg import sql

from ledger.application import Ledger
from ledger.database import store_trouble
from ledger.following import MAX_BACKOFF, Follower, stop_on_signals
from ledger.leadership import Leadership
from ledger.settings import Settings
from ledger.storage import persistence_env
from projections import failures
from projections.db import Database, Tx
from projections.facts import Item, fact_tables
from projections.failures import Backoff, Failure, ReadModelFailed, describe
from projections.pipeline import (
    AUDIT,
    apply_one,
    apply_page,
    apply_page_carefully,
    ensure_tables,
    read_models,
    read_page,
    read_page_carefully,
    set_position,
    stale,
    tracked,
)
from projections.rebuilding import rebuild_into

log = structlog.get_logger(__name__)

#: Longest wait (seconds) between rounds while the database cannot be reached.
STORE_RETRY = 1.0


class RunnerFailed(RuntimeError):
    """The runner stopped on an error; ``__cause__`` is the error."""


class ProjectionRunner(Follower):
    """Keeps the read models up to date with the ledger, in a background thread or in this one.

    ``ledger`` may be the service's own :class:`~ledger.application.Ledger` (its
    connections are then shared); without it the runner opens its own. ``names`` limits it
    to some read models (the audit trail, whose facts the others fold, always runs).
    With ``leadership``, :meth:`run` works only while this process leads (see the module).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        schema: str | None = None,
        ledger: Ledger | None = None,
        names: Iterable[str] | None = None,
        page_size: int = 1000,
        poll_interval: float = 0.5,
        leadership: Leadership | None = None,
    ) -> None:
        if not 0 < poll_interval <= 1.0:
            msg = "poll_interval must be more than 0 and at most 1 second"
            raise ValueError(msg)
        super().__init__()
        self.settings = settings
        self.models = read_models(names)
        if AUDIT not in self.models:
            self.models.insert(0, AUDIT)
        self.page_size = page_size
        self.poll_interval = poll_interval
        self._own_ledger = ledger is None
        self.ledger = ledger or Ledger(env=persistence_env(settings, schema=schema))
        self.database = Database(settings, schema=schema)
        self.leadership = leadership
        self._prepared = False
        self._position = 0
        self._standby_seen = -float("inf")
        self._thread: threading.Thread | None = None
        self._listener: threading.Thread | None = None
        self._retry = Backoff(MAX_BACKOFF)

    # Lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Follow the ledger in a background thread until :meth:`stop`."""
        if self._thread is not None and self._thread.is_alive():
            return
        if self.leadership is not None:
            self.leadership.holds()  # lead from the start if nobody does
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run, args=(self._stop,), name="samsyn-projections", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop following (the page in hand is finished or rolled back) and close."""
        self._stop.set()
        self._wake.set()
        for thread in (self._thread, self._listener):
            if thread is not None:
                thread.join(timeout)
        self._thread = self._listener = None
        if self.leadership is not None:
            self.leadership.release()
        self.close()

    def close(self) -> None:
        self.database.close()
        if self._own_ledger:
            self.ledger.close()

    def __enter__(self) -> ProjectionRunner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def position(self) -> int:
        """The position every read model has reached."""
        return self._position

    def wait_until(self, position: int, timeout: float = 10.0) -> None:
        """Block until every read model has applied the ledger up to ``position``.

        Raises :class:`TimeoutError` if that takes longer than ``timeout`` seconds (naming
        the last error if the runner is retrying one), and :class:`RunnerFailed` if the
        runner is not running and its last attempt failed.
        """
        deadline = time.monotonic() + timeout
        self.notify()
        with self._progress:
            while self._position < position:
                thread = self._thread
                if self.error is not None and (thread is None or not thread.is_alive()):
                    msg = f"the projection runner failed: {self.error}"
                    raise RunnerFailed(msg) from self.error
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    msg = f"read models at {self._position}, not {position}, after {timeout}s"
                    if self.error is not None:
                        msg += f" (last error: {self.error})"
                    raise TimeoutError(msg)
                self._progress.wait(min(remaining, 0.1))

    # Following the ledger -------------------------------------------------------------------

    def prepare(self) -> None:
        """Create missing tables; rebuild read models whose stored version differs."""
        if self._prepared:
            return
        ensure_tables(self.database, self.models)
        with self.database.transaction(write=False) as tx:
            outdated = stale(tx, self.models)
        if outdated:
            log.info("rebuilding read models of another version",
                     names=[m.name for m in outdated])
            rebuild_into(self.database, self.ledger, outdated, workers=1)
        with self.database.transaction(write=False) as tx:
            self._publish(min(p for p, _ in tracked(tx, (m.name for m in self.models)).values()))
        self._prepared = True

    def run_once(self) -> int:
        """Apply everything appended so far; answer how many positions it moved on.

        A read model of another version whose rebuild stops on an entry is reported like
        any entry set aside, and tried again with the same backoff."""
        if not self._prepared:
            if not self._retry.due():
                return 0
            try:
                self.prepare()
            except ReadModelFailed as e:
                self._retry.failed()
                log.error("rebuilding a read model of another version failed on an entry",
                          read_model=e.failure.read_model, position=e.failure.position,
                          error=e.failure.error)
                with self.database.transaction(write=True) as tx:
                    failures.record(tx, [e.failure])
                return 0
        if self._retry.due():
            self._retry_failures()
        total = 0
        while not self._stop.is_set():
            count = self._apply_next_page()
            if count == 0:
                break
            total += count
        return total

    def _apply_next_page(self) -> int:
        names = [m.name for m in self.models]
        with self.database.transaction(write=False) as tx:
            start = min(p for p, _ in tracked(tx, names).values())
        try:
            last, items = read_page(self.ledger, start, self.page_size)
            if last is None:
                self._publish(start)
                return 0
            with self.database.transaction(write=True) as tx:
                reached = self._apply(tx, names, start, last, items)
            self._publish(reached)  # once committed: readers see what it says
        except Exception as e:
            if store_trouble(e) or isinstance(e, PersistenceError):
                raise
            log.warning("a page of entries failed; applying it entry by entry",
                        after=start, error=describe(e))
            self._apply_carefully(names, start)
        log.debug("applied page", after=start)
        return self.position - start

    def _apply(self, tx: Tx, names: list[str], start: int, last: int, items: list[Item],
               careful: list[Failure] | None = None) -> int:
        """Apply the entries after ``start`` up to ``last`` to each read model not already
        past them; with ``careful`` (the failures found reading them), entry by entry
        where a read model fails, adding its failures there. Answers the position every
        read model has reached."""
        locked = {name: p for name, (p, _) in tracked(tx, names, lock=True).items()}
        # A read model behind ``start`` (moved by a concurrent rebuild) waits a round;
        # a folded one also waits for the facts it folds (the audit trail's).
        ready = [m for m in self.models if start <= locked[m.name] < last]
        facts_at = last if AUDIT in ready else locked[AUDIT.name]
        ready = [m for m in ready if m is AUDIT or facts_at >= last]
        if careful is None:
            apply_page(tx, ready, items, locked, fact_tables())
        else:
            unfiled = [f.position for f in careful]
            careful += apply_page_carefully(tx, ready, items, locked, fact_tables(),
                                            unfiled=unfiled)
            failures.record(tx, careful)
        for model in ready:
            set_position(tx, model.name, last, model.version)
            locked[model.name] = last
        return min(locked.values())

    def _apply_carefully(self, names: list[str], start: int) -> None:
        """Apply the next page setting aside each entry a read model fails on."""
        last, items, failed = read_page_carefully(self.ledger, start, self.page_size)
        if last is None:
            return
        with self.database.transaction(write=True) as tx:
            reached = self._apply(tx, names, start, last, items, failed)
        self._publish(reached)
        for failure in failed:
            log.error("read model failed on an entry; set aside, retried later",
                      read_model=failure.read_model, position=failure.position,
                      error=failure.error)
        if failed:
            self._retry.failed()

    def _retry_failures(self) -> None:
        """Try the entries set aside again: each applied is forgotten, each failing counted."""
        by_name = {m.name: m for m in self.models}
        with self.database.transaction(write=True) as tx:
            waiting = [f for f in failures.listed(tx, lock=True) if f.read_model in by_name]
            if not waiting:
                self._retry.succeeded()
                return
            still: list[Failure] = []
            for failure in waiting:
                _, items, unread = read_page_carefully(
                    self.ledger, failure.position - 1, 1, failure.position)
                if unread or not items:
                    still.extend(f for f in unread if f.read_model == failure.read_model)
                    continue
                model = by_name[failure.read_model]
                error = apply_one(tx, model, items[0], fact_tables())
                if error is not None:
                    still.append(error)
                    continue
                failures.clear(tx, failure.read_model, failure.position)
                if model is AUDIT:  # its facts are there now: the folds take them in
                    still += [e for m in self.models if m is not AUDIT
                              if (e := apply_one(tx, m, items[0], fact_tables())) is not None]
            failures.record(tx, still)
        if still:
            self._retry.failed()
            for failure in still:
                log.error("read model still fails on an entry", read_model=failure.read_model,
                          position=failure.position, error=failure.error)
        else:
            self._retry.succeeded()
            log.info("entries set aside are applied", count=len(waiting))

    def _publish(self, position: int) -> None:
        with self._progress:
            self._position = position
            self._progress.notify_all()

    def run(self, stop: threading.Event) -> None:
        """Follow the ledger in this thread until ``stop`` is set."""
        self._stop = stop
        if self.database.is_postgres and self._listener is None:
            self._listener = threading.Thread(
                target=self._listen, args=(stop,), name="samsyn-projections-listen", daemon=True
            )
            self._listener.start()
        # A round fails only on store trouble (an entry a read model fails on is set
        # aside): it is tried again every second, to catch up within about a second of
        # the database's return.
        self._follow(self._round, stop, self.poll_interval, log,
                     "projection runner failed; retrying", longest=STORE_RETRY)

    @property
    def leading(self) -> bool:
        """Whether this runner does the projector's work (no leadership: it always does)."""
        return self.leadership is None or self.leadership.state == "leader"

    def _round(self) -> int:
        if self.leadership is None or self.leadership.holds():
            return self.run_once()
        self._prepared = False  # leading again later: look at the read models' versions anew
        if time.monotonic() - self._standby_seen >= self.poll_interval:
            if self._standby_seen < 0:
                ensure_tables(self.database, self.models)
            self._standby_seen = time.monotonic()
            with self.database.transaction(write=False) as tx:
                positions = tracked(tx, (m.name for m in self.models)).values()
            self._publish(min((p for p, _ in positions), default=0))
        return 0

    def _listen(self, stop: threading.Event) -> None:
        """Wake the runner on the ledger's NOTIFY; reconnect after a lost connection."""
        channel = str(getattr(self.ledger.recorder, "channel_name", "samsyn_events"))
        while not stop.is_set():
            try:
                with self.database.connect_postgres() as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            self._wake.set()
            except psycopg.Error as e:
                log.warning("listening for new entries failed; polling meanwhile", error=str(e))
                stop.wait(1.0)


def run_forever(
    settings: Settings,
    *,
    schema: str | None = None,
    stop: threading.Event | None = None,
    page_size: int = 1000,
) -> None:
    """Run the projection runner in this process until SIGINT/SIGTERM (or ``stop``)."""
    stop = stop or threading.Event()
    stop_on_signals(stop, log, "projection runner stopping")
    runner = ProjectionRunner(settings, schema=schema, page_size=page_size,
                              leadership=Leadership(settings, "projector", schema=schema))
    log.info("projection runner started", backend=runner.database.dialect)
    try:
        runner.run(stop)
    finally:
        runner.stop()
