"""Leadership: one projector and one sealer per database, however many processes serve it.

Every ``samsyn serve`` process (and ``samsyn project``, ``samsyn seal``) runs a projection
runner and a sealer, but only the one that leads a role does that role's work; the others
stand by. A role is led by whoever holds a PostgreSQL **session-level advisory lock** named
after the role and the schema, on a connection of its own. The lock lives exactly as long
as that connection:

- a leader that stops releases it at once; one killed (even with ``kill -9``) loses it as
  soon as PostgreSQL sees the connection close, which for a dead process is immediate; a
  host that vanishes loses it after the server's TCP keepalives (about 10 s, set here);
- a standby tries to take the lock every ``leader_poll_interval`` seconds (default 1), so
  a successor leads within about a second of the leader's death;
- a leader checks its connection as often; when the check fails it has lost the lock (or
  will have, once the server notices) and stops working at once.

Leadership saves double work; it is not what keeps the read models and the integrity log
right. A page of the read models and a batch of the log are each written under a
transaction-level lock, on top of what is there: two processes that both believed they led
(a network partition, a leader not yet aware of its lost connection) would still apply
and seal every entry exactly once.

On SQLite there is one process (``samsyn serve`` refuses more workers), and it leads.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Literal

import psycopg
import structlog

from ledger.database import Database, Row
from ledger.settings import Settings

log = structlog.get_logger(__name__)

Role = Literal["projector", "sealer"]
State = Literal["leader", "standby"]

NAMESPACE = "samsyn-leader"
"""First key of every leadership lock (the second is the role and schema): a space of its own,
apart from the one-key transaction locks of :meth:`ledger.database.Tx.lock_schema`."""

#: Server-side TCP keepalives on a leader's connection: a leader whose host vanished is
#: noticed after idle + interval x count seconds, and its lock released. The same values
#: are set on the client's side, so that a leader cut off from the server learns it as soon.
KEEPALIVES = "-c tcp_keepalives_idle=4 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3"


def process_name() -> str:
    """This process, as leadership reports it: ``<hostname>:<pid>``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Leadership:
    """Whether this process leads ``role`` on the database of ``settings`` (and ``schema``).

    Ask :meth:`holds` before each round of the role's work: it answers at once from what it
    last saw, and at most every ``leader_poll_interval`` seconds looks again (a standby
    tries to take the lock, a leader checks its connection).
    """

    def __init__(self, settings: Settings, role: Role, *, schema: str | None = None) -> None:
        self.role = role
        self.every = settings.leader_poll_interval
        self._database = Database(
            settings, name=f"samsyn-leader-{role}", what="the leadership's database",
            schema=schema, max_connections=2,
        )
        self._key = f"{role}:{self._database.schema or ''}"
        self._conn: psycopg.Connection[Row] | None = None
        self._leading = not self._database.is_postgres
        self._looked_at = -float("inf")

    @property
    def state(self) -> State:
        """What this process is for the role, as last seen."""
        return "leader" if self._leading else "standby"

    def holds(self) -> bool:
        """Whether this process leads the role now (looking again if it is time to)."""
        if not self._database.is_postgres:
            return True
        now = time.monotonic()
        if now - self._looked_at >= self.every:
            self._looked_at = now
            self._look()
        return self._leading

    def _look(self) -> None:
        try:
            if self._conn is None:
                self._conn = self._database.connect_postgres(
                    application_name=f"samsyn {self.role} {process_name()}"[:63],
                    options=KEEPALIVES, keepalives=1, keepalives_idle=4,
                    keepalives_interval=2, keepalives_count=3,
                )
            if self._leading:
                self._conn.execute("SELECT 1")
                return
            row = self._conn.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s), hashtext(%s))",
                (NAMESPACE, self._key),
            ).fetchone()
        except psycopg.Error as e:
            if self._leading:
                log.warning("leadership lost", role=self.role, error=str(e))
            self._leading = False
            self._drop()
            return
        if row is not None and row[0]:
            self._leading = True
            log.info("leading", role=self.role, process=process_name())

    def leader(self) -> str | None:
        """Who leads the role, as PostgreSQL sees it (the holder's ``<hostname>:<pid>``), or
        None if nobody does; on SQLite, this process."""
        if not self._database.is_postgres:
            return process_name()
        with self._database.transaction(write=False) as tx:
            rows = tx.query(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a"
                " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
                " AND l.database = (SELECT oid FROM pg_database"
                " WHERE datname = current_database())"
                " AND l.classid = hashtext(?)::oid AND l.objid = hashtext(?)::oid"
                " AND l.objsubid = 2",
                [NAMESPACE, self._key],
            )
        if not rows:
            return None
        return str(rows[0][0]).removeprefix(f"samsyn {self.role} ")

    def release(self) -> None:
        """Stop leading (a standby takes over at its next look) and close the connection."""
        if self._leading and self._database.is_postgres:
            log.info("leadership released", role=self.role)
        self._leading = not self._database.is_postgres
        self._drop()
        self._database.close()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
