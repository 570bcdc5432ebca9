"""The sealer: keeps the integrity log up with the ledger from a background thread.

In a service: ``Sealer(log, ledger).start()``; ``stop()`` at shutdown (it seals what is left
and signs a last checkpoint). As a process of its own (``samsyn seal``, beside services
started with ``SAMSYN_SEAL_IN_PROCESS=false``): :func:`seal_forever`. It seals every
``interval`` seconds (or at once after ``notify()``), and signs a checkpoint every
``checkpoint_every`` seconds when the tree grew, and sooner when someone waits for a
receipt. ``wait_sealed(position)`` blocks until an entry is sealed; ``receipt(position)``
until it is covered by a signed checkpoint too, and answers its inclusion proof.
With a :class:`~ledger.leadership.Leadership` it seals and signs only while this process
leads the sealer role (one sealer at work per database, whatever the number of processes);
standing by, it only keeps ``sealed_position`` up with what the leader sealed.
"""

from __future__ import annotations

import threading
import time

import structlog

from ledger.application import Ledger
from ledger.following import Follower, stop_on_signals
from ledger.leadership import Leadership
from ledger.settings import Settings

from .log import SEAL_BATCH, InclusionReceipt, IntegrityLog, NotSealed
from .witnessing import Witnessing

log = structlog.get_logger(__name__)

class Sealer(Follower):
    """Seals the ledger into ``log`` in a background thread (or in the caller's, if stopped);
    with ``leadership``, only while this process leads the sealer role."""

    def __init__(
        self,
        log: IntegrityLog,
        ledger: Ledger | None = None,
        *,
        interval: float = 0.2,
        checkpoint_every: float = 60.0,
        batch: int = SEAL_BATCH,
        witnessing: Witnessing | None = None,
        leadership: Leadership | None = None,
    ) -> None:
        if interval <= 0 or checkpoint_every <= 0:
            msg = "interval and checkpoint_every must be positive"
            raise ValueError(msg)
        super().__init__()
        self.log = log
        self.ledger = ledger
        self.interval = interval
        self.checkpoint_every = checkpoint_every
        self.batch = batch
        self.witnessing = witnessing
        self.leadership = leadership
        self._standby_seen = -float("inf")
        self._work = threading.Lock()  # one tick at a time (thread, or a caller inline)
        self._thread: threading.Thread | None = None
        self._position = 0  # last sealed position
        self._size = 0  # sealed leaves
        self._checkpointed = -1  # tree size of the latest checkpoint (-1: none)
        self._wanted = 0  # a checkpoint covering this many leaves is awaited
        self._last_checkpoint_at = time.monotonic()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Seal in a background thread until ``stop()``."""
        if self.running:
            return
        if self.leadership is not None:
            self.leadership.holds()  # lead from the start if nobody does
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="samsyn-sealer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0, final_seconds: float | None = None) -> None:
        """Stop the thread; then seal what is left and sign a last checkpoint (best effort).

        ``final_seconds`` bounds that last sealing (a stopping service must end within its
        own bound, whatever the backlog): what is left then is sealed by the next sealer."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None
        try:
            if self.leading:
                until = None if final_seconds is None else time.monotonic() + final_seconds
                self.tick(final=True, until=until)
        except Exception:
            log.exception("final sealing failed")
        if self.leadership is not None:
            self.leadership.release()

    @property
    def leading(self) -> bool:
        """Whether this sealer does the sealer's work (no leadership: it always does)."""
        return self.leadership is None or self.leadership.state == "leader"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Sealer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def sealed_position(self) -> int:
        """Position of the last entry sealed (as of the last round)."""
        return self._position

    # -- work -------------------------------------------------------------------------------

    def tick(self, *, final: bool = False, interruptible: bool = False,
             until: float | None = None) -> int:
        """One round: seal everything stored (or what can be by the monotonic time
        ``until``), and sign a checkpoint if one is due (always, if ``final`` and the tree
        grew). Answers how many entries were sealed.
        """
        with self._work:
            total = 0
            while not (interruptible and self._stop.is_set()) and \
                    (until is None or time.monotonic() < until):
                count = self.log.seal(self.ledger, self.batch)
                if count == 0:
                    break
                total += count
            size, position = self.log.sealed()
            latest = self.log.latest_checkpoint()
            checkpointed = latest.tree_size if latest is not None else -1
            due = (
                self._wanted > checkpointed
                or final
                or checkpointed < 0
                or time.monotonic() - self._last_checkpoint_at >= self.checkpoint_every
            )
            if size > checkpointed and due:
                self.log.issue_checkpoint()
                checkpointed = size
                self._last_checkpoint_at = time.monotonic()
            if self.witnessing is not None and not (interruptible and self._stop.is_set()):
                self.witnessing.cosign_latest()
            with self._progress:
                self._position, self._size, self._checkpointed = position, size, checkpointed
                self._progress.notify_all()
            return total

    def _run(self) -> None:
        self._follow(self._round, self._stop, self.interval, log, "sealing failed; retrying")

    def _round(self) -> int:
        if self.leadership is None or self.leadership.holds():
            return self.tick(interruptible=True)
        if time.monotonic() - self._standby_seen >= self.leadership.every:
            self._standby_seen = time.monotonic()
            size, position = self.log.sealed()
            latest = self.log.latest_checkpoint()
            with self._progress:
                self._position, self._size = position, size
                self._checkpointed = latest.tree_size if latest is not None else -1
                self._progress.notify_all()
        return 0

    def _wait(self, deadline: float, what: str) -> None:
        """Wait for the next round (or run one inline when the thread is not running)."""
        if not self.running:
            self.tick()
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            msg = f"{what} after waiting"
            if self.error is not None:
                msg += f" (last error: {self.error})"
            raise TimeoutError(msg)
        self.notify()
        with self._progress:
            self._progress.wait(min(remaining, 0.1))

    def wait_sealed(self, position: int, timeout: float = 10.0) -> int:
        """Block until the entry at ``position`` is sealed; answer its leaf index.

        Raises ``TimeoutError`` after ``timeout`` seconds, and ``NotSealed`` if the log
        passed ``position`` without an entry there (a gap in the store's numbering).
        """
        deadline = time.monotonic() + timeout
        while self._position < position:
            self._wait(deadline, f"position {position} not sealed")
            if not self.running and self._position < position:
                raise NotSealed(
                    f"no entry is stored at position {position} (sealed up to {self._position})"
                )
        return self.log.leaf(position)[0]

    def receipt(self, position: int, timeout: float = 10.0) -> InclusionReceipt:
        """Block until ``position`` is sealed and signed; answer its inclusion receipt.

        A checkpoint is signed at the next round for whoever waits, so concurrent waiters
        share one.
        """
        deadline = time.monotonic() + timeout
        leaf_index = self.wait_sealed(position, timeout)
        with self._progress:
            self._wanted = max(self._wanted, leaf_index + 1)
        while self._checkpointed <= leaf_index:
            self._wait(deadline, f"no checkpoint covers position {position}")
        return self.log.receipt(position, self._checkpointed)


def seal_forever(
    settings: Settings, *, schema: str | None = None, stop: threading.Event | None = None
) -> None:
    """Seal the ledger in this process until SIGINT/SIGTERM (or ``stop``), signing a
    checkpoint every ``checkpoint_interval`` seconds while it grows and a last one on the
    way out."""
    stop = stop or threading.Event()
    stop_on_signals(stop, log, "sealer stopping")
    with IntegrityLog(settings, schema=schema) as integrity_log:
        sealer = Sealer(integrity_log, checkpoint_every=settings.checkpoint_interval,
                        witnessing=Witnessing.from_settings(integrity_log, settings),
                        leadership=Leadership(settings, "sealer", schema=schema))
        sealer.start()
        log.info("sealer started", public_key=integrity_log.public_key,
                 checkpoint_every=settings.checkpoint_interval)
        try:
            stop.wait()
        finally:
            sealer.stop()
        log.info("sealer stopped", sealed=integrity_log.size)
