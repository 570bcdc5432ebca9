"""The read side's connections to the ledger's database: the SQLite file or the PostgreSQL schema.

Read models live beside the ledger (same SQLite file, same PostgreSQL schema) so that a read
model's rows and its tracked position commit in one transaction. The transactions themselves
are :mod:`ledger.database`'s (shared with the integrity log); this module configures them for
the read models, and re-exports :class:`~ledger.database.Tx` and its kin for older imports.
"""

from __future__ import annotations

from ledger import database
from ledger.database import PostgresTx, Row, SQLiteTx, Tx
from ledger.settings import Settings

__all__ = ["Database", "PostgresTx", "Row", "SQLiteTx", "Tx"]


class Database(database.Database):
    """Transactions on the ledger's database for the read models.

    A pool of up to ``db_pool_size`` PostgreSQL connections (at least 2) named
    ``samsyn-read-models``, which also names the read models' schema lock; SQLite
    connections run with ``synchronous=NORMAL``. No parallel query plans: the read models'
    questions are short indexed lookups, and PostgreSQL's parallel workers took 9 ms to start
    for a fetch that needed 2 ms (a past agreement's party decisions at 1M entries).
    """

    def __init__(self, settings: Settings, *, schema: str | None = None) -> None:
        super().__init__(
            settings,
            name="samsyn-read-models",
            what="the read models' database",
            schema=schema,
            sqlite_synchronous="NORMAL",
            parallel_query=False,
        )
