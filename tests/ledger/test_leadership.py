"""Leadership: one holder of each role per database, handed over when the holder goes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from ledger.leadership import NAMESPACE, Leadership, process_name
from ledger.settings import Settings
from tests.backends import POSTGRES_URL, storage

QUICK = {"leader_poll_interval": 0.05}


def eventually(condition: Callable[[], bool], within: float = 10.0) -> bool:
    """Whether ``condition()`` holds at some point within ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_on_sqlite_the_one_process_leads(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    leadership = Leadership(settings, "projector")
    assert leadership.holds() and leadership.state == "leader"
    assert leadership.leader() == process_name()
    leadership.release()
    assert leadership.holds()


def test_one_of_two_contenders_leads_and_the_other_takes_over_when_it_lets_go(
    tmp_path: Path,
) -> None:
    with storage("postgres", tmp_path) as (settings, schema):
        quick = settings.model_copy(update=QUICK)
        first = Leadership(quick, "projector", schema=schema)
        second = Leadership(quick, "projector", schema=schema)
        try:
            assert first.holds()
            assert not second.holds() and second.state == "standby"
            assert first.leader() == process_name()

            first.release()
            assert eventually(second.holds)
            assert not first.holds()
        finally:
            first.release()
            second.release()


def test_a_leader_whose_connection_dies_loses_the_role_to_a_standby(tmp_path: Path) -> None:
    with storage("postgres", tmp_path) as (settings, schema):
        quick = settings.model_copy(update=QUICK)
        leader = Leadership(quick, "sealer", schema=schema)
        standby = Leadership(quick, "sealer", schema=schema)
        try:
            assert leader.holds()
            with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = %s", (f"samsyn sealer {process_name()}",))
            assert eventually(standby.holds)
            assert eventually(lambda: not leader.holds())
            assert leader.state == "standby"
        finally:
            leader.release()
            standby.release()


def test_each_role_and_each_schema_has_a_leader_of_its_own(tmp_path: Path) -> None:
    with storage("postgres", tmp_path) as (settings, schema), \
            storage("postgres", tmp_path / "other") as (_, other_schema):
        held = [Leadership(settings, "projector", schema=schema),
                Leadership(settings, "sealer", schema=schema),
                Leadership(settings, "projector", schema=other_schema)]
        try:
            assert all(leadership.holds() for leadership in held)
            with psycopg.connect(POSTGRES_URL) as admin:
                [(locks,)] = admin.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND classid = hashtext(%s)::oid AND objsubid = 2"
                    " AND objid IN (hashtext(%s)::oid, hashtext(%s)::oid, hashtext(%s)::oid)",
                    (NAMESPACE, f"projector:{schema}", f"sealer:{schema}",
                     f"projector:{other_schema}")).fetchall()
            assert locks == 3
        finally:
            for leadership in held:
                leadership.release()


@pytest.mark.parametrize("role", ["projector", "sealer"])
def test_nobody_leads_once_the_leader_released(tmp_path: Path, role: str) -> None:
    with storage("postgres", tmp_path) as (settings, schema):
        leadership = Leadership(settings, role, schema=schema)  # type: ignore[arg-type]
        assert leadership.holds()
        assert leadership.leader() == process_name()
        leadership.release()
        onlooker = Leadership(settings, role, schema=schema)  # type: ignore[arg-type]
        try:
            assert onlooker.leader() is None
        finally:
            onlooker.release()
