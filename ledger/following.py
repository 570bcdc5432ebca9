"""Following the ledger from a background thread: rounds of work until told to stop.

The projection runner (``projections.runner``) and the integrity log's sealer
(``ledger.integrity.sealer``) keep up with the ledger the same way. A round handles
everything appended so far and answers how far it moved on; when it found nothing new, the
next round waits for :meth:`Follower.notify` or the poll interval, whichever comes first. A
round that fails is logged and retried after a backoff that doubles, up to
:data:`MAX_BACKOFF`, and whoever waits for progress is woken to see the error.

How a follower learns of new entries beyond ``notify()`` (the runner also LISTENs on
PostgreSQL) and what it publishes as progress are its own.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

MAX_BACKOFF = 30.0
"""Longest wait between attempts after an error."""


class Follower:
    """Base of something that follows the ledger in rounds (see the module's docstring).

    ``error`` is the last round's error, None once a round succeeds. Subclasses notify
    ``_progress`` when they move on; :meth:`_follow` notifies it when a round fails.
    """

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._progress = threading.Condition()

    def notify(self) -> None:
        """Something was appended: look now rather than at the next poll."""
        self._wake.set()

    def _follow(
        self,
        round_: Callable[[], int],
        stop: threading.Event,
        interval: float,
        log: Any,
        failed: str,
        longest: float = MAX_BACKOFF,
    ) -> None:
        """Run ``round_`` until ``stop`` is set, waiting up to ``interval`` when it did nothing.

        A failing round is logged on ``log`` (the caller's structlog logger) as ``failed``
        and retried after a backoff of at most ``longest`` seconds.
        """
        backoff = interval
        while not stop.is_set():
            self._wake.clear()
            try:
                count = round_()
            except Exception as e:
                self.error = e
                log.exception(failed, retry_in=backoff)
                with self._progress:
                    self._progress.notify_all()
                stop.wait(backoff)
                backoff = min(backoff * 2, longest)
                continue
            self.error = None
            backoff = interval
            if count == 0:
                self._wake.wait(interval)


def stop_on_signals(stop: threading.Event, log: Any, event: str) -> None:
    """Set ``stop`` on SIGTERM or SIGINT, logging ``event``: a follower run as its own
    process (``samsyn project``, ``samsyn seal``) then finishes its round and exits. Only
    the main thread can handle signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info(event, signal=signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
