"""The read models' PostgreSQL connections: short indexed lookups, planned without workers."""

from __future__ import annotations

from pathlib import Path

from ledger.database import Database as LedgerDatabase
from tests.projections.conftest import fresh_store


def test_read_model_queries_are_planned_without_parallel_workers(tmp_path: Path) -> None:
    # Starting parallel workers took 9 ms for a past agreement's 2 ms fetch at 1M entries.
    with fresh_store("postgres", tmp_path) as store:
        database = store.database()
        with database.transaction(write=False) as tx:
            assert tx.query("SHOW max_parallel_workers_per_gather") == [("0",)]


def test_other_users_of_the_helper_keep_postgres_defaults(tmp_path: Path) -> None:
    with fresh_store("postgres", tmp_path) as store:
        other = LedgerDatabase(store.settings, name="samsyn-test", what="a test database",
                               schema=store.schema)
        try:
            with other.transaction(write=False) as tx:
                assert tx.query("SHOW max_parallel_workers_per_gather") != [("0",)]
        finally:
            other.close()
