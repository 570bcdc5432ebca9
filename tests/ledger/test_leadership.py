"""Leadership: one holder of each role per database, handed over when the holder goes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from ledger.application import Ledger
from ledger.integrity.log import IntegrityLog
from ledger.integrity.sealer import Sealer
from ledger.leadership import NAMESPACE, Leadership, process_name
from ledger.settings import Settings
from ledger.storage import persistence_env
from projections.runner import ProjectionRunner
from tests.backends import POSTGRES_URL, storage
from tests.ledger.world import run, world

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


# -- the projector and the sealer under leadership ---------------------------------------------


def test_of_two_runners_one_projects_and_the_other_follows_what_it_committed(
    tmp_path: Path,
) -> None:
    with storage("postgres", tmp_path) as (settings, schema):
        quick = settings.model_copy(update=QUICK)
        ledger = Ledger(env=persistence_env(quick, schema=schema))
        world(ledger)
        runners = [ProjectionRunner(quick, schema=schema, poll_interval=0.1,
                                    leadership=Leadership(quick, "projector", schema=schema))
                   for _ in range(2)]
        try:
            for runner in runners:
                runner.start()
            assert sorted(runner.leading for runner in runners) == [False, True]
            [leader] = [runner for runner in runners if runner.leading]
            [standby] = [runner for runner in runners if not runner.leading]
            standby.wait_until(ledger.max_position())  # what the leader committed

            leader.stop()
            assert eventually(lambda: standby.leading)
            run(ledger, {"type": "RegisterOrganisation", "ref": "Delta", "name": "Delta org",
                         "kind": "principal", "registered_on": "2020-01-01"})
            standby.wait_until(ledger.max_position())
        finally:
            for runner in runners:
                runner.stop()
            ledger.close()


def test_of_two_sealers_one_seals_and_a_standby_signs_nothing(tmp_path: Path) -> None:
    with storage("postgres", tmp_path) as (settings, schema):
        quick = settings.model_copy(update=QUICK)
        ledger = Ledger(env=persistence_env(quick, schema=schema))
        world(ledger)
        logs = [IntegrityLog(quick, schema=schema, ledger=ledger) for _ in range(2)]
        sealers = [Sealer(log, ledger, interval=0.05,
                          leadership=Leadership(quick, "sealer", schema=schema))
                   for log in logs]
        try:
            for sealer in sealers:
                sealer.start()
            [leader] = [sealer for sealer in sealers if sealer.leading]
            [standby] = [sealer for sealer in sealers if not sealer.leading]
            standby.wait_sealed(ledger.max_position())  # sealed by the leader, seen here
            assert eventually(lambda: logs[0].latest_checkpoint() is not None)
            signed = len(logs[0].checkpoints())
            run(ledger, {"type": "RegisterOrganisation", "ref": "Delta", "name": "Delta org",
                         "kind": "principal", "registered_on": "2020-01-01"})
            standby.wait_sealed(ledger.max_position())  # sealed, not yet signed (60 s)

            standby.stop()  # a standby signs no last checkpoint on the way out
            assert len(logs[0].checkpoints()) == signed
            leader.stop()  # the leader does
            assert len(logs[0].checkpoints()) == signed + 1
            assert logs[0].size == len(ledger.read(0, 1000))
        finally:
            for sealer in sealers:
                sealer.stop()
            for log in logs:
                log.close()
            ledger.close()
