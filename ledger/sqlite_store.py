"""Guards of a ledger kept in an SQLite file: it must not vanish unnoticed, and one service
at a time writes it.

A ledger file that is missing is made anew, empty, by the first connection: a service
restarted after its file was deleted (or moved, or its disk not mounted) would silently
start a new ledger, with the demo history loaded. The signing key made beside the file
(``<file>.signing-key``, see :mod:`ledger.integrity.log`) on the ledger's first start is
the sign that a ledger was there: a missing file beside an existing key is refused.

The service keeps what it last committed in memory (the group committer's aggregates)
and is the only writer it expects; a second ``samsyn serve`` on the same file answered
some requests never and others with another request's conflict. The service holds an
exclusive lock on ``<file>.service-lock`` while it runs (released by the system when the
process ends, however it ends); a second one refuses to start.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ledger.errors import StoreUnavailable

KEY_SUFFIX = ".signing-key"
LOCK_SUFFIX = ".service-lock"


def check_file(path: Path) -> None:
    """Refuse a ledger file that is missing (or empty) while its signing key is there."""
    if str(path) == ":memory:":
        return
    key = Path(str(path) + KEY_SUFFIX)
    missing = not path.exists() or path.stat().st_size == 0
    if missing and key.exists():
        raise StoreUnavailable(
            f"the ledger file {path} is missing but its signing key {key} is there: this "
            "store had a ledger; restore the file from a backup (or move the key away to "
            "start a new, empty ledger)"
        )


class ServiceLock:
    """The one service's hold on an SQLite ledger (see the module's docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(str(path) + LOCK_SUFFIX)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`StoreUnavailable` naming the process holding it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StoreUnavailable(
                f"another samsyn service (process {holder}) is using the ledger "
                f"{str(self.path)[: -len(LOCK_SUFFIX)]}; one service per SQLite file "
                "(use PostgreSQL for several)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
