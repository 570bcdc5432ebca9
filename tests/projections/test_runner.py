"""The runner: in ledger order, each entry applied once, surviving crashes; waits for catch-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import date
from typing import Any

import pytest

from ledger.errors import StoreUnavailable
from projections.agreement_status import AgreementStatusModel
from projections.assignments import AssignmentsModel
from projections.pipeline import TRACKING_TABLE
from projections.rebuilding import rebuild
from projections.runner import ProjectionRunner, RunnerFailed
from tests.projections import scenario as s
from tests.projections.conftest import Registrar, Store, snapshot


def test_a_runner_in_a_thread_follows_the_ledger_and_waits_for_catch_up(
    store: Store, registrar: Registrar
) -> None:
    s.reference_data(registrar)
    runner = store.runner(poll_interval=0.2)
    runner.start()
    receipt = registrar.record(
        {
            "type": "RegisterAgreement",
            "ref": "A",
            "title": "Avtal",
            "parties": ["RJH", "Berg"],
            "valid_from": "2020-01-01",
        }
    )
    runner.notify()
    runner.wait_until(receipt.positions[-1], timeout=10)

    assert runner.position >= receipt.positions[-1]
    status = store.read_models().agreement_status("A", as_of=date(2020, 6, 1))
    assert status is not None and status.in_force
    with pytest.raises(TimeoutError):
        runner.wait_until(receipt.positions[-1] + 1000, timeout=0.3)


def test_a_new_entry_is_seen_within_a_poll_and_on_postgresql_at_once(
    store: Store, registrar: Registrar
) -> None:
    """PostgreSQL notifies the runner of new entries; SQLite has no notifications: it polls."""
    s.reference_data(registrar)
    runner = store.runner(poll_interval=1.0)
    runner.start()
    runner.wait_until(registrar.ledger.max_position(), timeout=10)
    delays = []
    for n in range(3):
        time.sleep(0.3)
        receipt = registrar.record(
            {
                "type": "EstablishBody",
                "organisation": "RJH",
                "code": f"U{n}",
                "name": f"Utskott {n}",
                "kind": "committee",
            }
        )
        started = time.monotonic()
        runner.wait_until(receipt.positions[-1], timeout=10)
        delays.append(time.monotonic() - started)
    assert max(delays) < (0.6 if store.backend == "postgres" else 1.5), delays


def test_two_runners_racing_apply_each_entry_once(store: Store, registrar: Registrar) -> None:
    s.real_history(registrar)
    first, second = store.runner(page_size=7), store.runner(page_size=5)
    threads = [threading.Thread(target=r.run_once) for r in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    raced = snapshot(store)

    rebuild(store.settings, schema=store.schema)

    assert snapshot(store) == raced


def test_a_crash_in_the_middle_of_a_page_leaves_nothing_half_applied(
    store: Store, registrar: Registrar, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The third page crashes in the last read model, after the others wrote their rows
    (the database goes away: an error in a read model's fold sets its entry aside instead,
    see test_failing_entry.py)."""
    s.real_history(registrar)
    apply = AssignmentsModel.apply
    pages = {"n": 0}

    def crash_on_the_third_page(self: AssignmentsModel, *args: Any, **kwargs: Any) -> None:
        pages["n"] += 1
        if pages["n"] == 3:
            raise StoreUnavailable("power cut")
        apply(self, *args, **kwargs)

    monkeypatch.setattr(AssignmentsModel, "apply", crash_on_the_third_page)
    runner = store.runner(page_size=10)
    with pytest.raises(StoreUnavailable, match="power cut"):
        runner.run_once()
    database = store.database()
    with database.transaction(write=False) as tx:
        positions = {p for (p,) in tx.query(f"SELECT position FROM {tx.table(TRACKING_TABLE)}")}
        filed = tx.query(f"SELECT MAX(position) FROM {tx.table('rm_audit_entry')}")[0][0]
    assert positions == {20} and filed == 20

    monkeypatch.setattr(AssignmentsModel, "apply", apply)
    store.runner(page_size=10).run_once()
    resumed = snapshot(store)
    rebuild(store.settings, schema=store.schema)
    assert snapshot(store) == resumed


def test_a_killed_runner_process_resumes_where_it_stopped(
    store: Store, registrar: Registrar
) -> None:
    s.real_history(registrar)
    for n in range(40):
        s.municipal_extension(registrar, s.MUNICIPALITIES[n % 8], f"2021-06-{1 + n % 28:02d}")
    script = textwrap.dedent(f"""
        import time
        from ledger.settings import Settings
        from projections import pipeline
        from projections.runner import run_forever
        slow = pipeline.AUDIT.apply
        def apply(*args, **kwargs):
            slow(*args, **kwargs)
            time.sleep(0.05)
        pipeline.AUDIT.apply = apply
        run_forever(Settings(database_url={store.settings.database_url!r}),
                    schema={store.schema!r}, page_size=3)
    """)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    store.read_models()  # creates the tables this test watches
    process = subprocess.Popen([sys.executable, "-c", script], env=env)
    database = store.database()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with database.transaction(write=False) as tx:
                reached = min(
                    p for (p,) in tx.query(f"SELECT position FROM {tx.table(TRACKING_TABLE)}")
                )
            if reached > 30:
                break
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    assert 0 < reached < registrar.ledger.max_position()

    store.runner().run_once()
    resumed = snapshot(store)
    rebuild(store.settings, schema=store.schema)
    assert snapshot(store) == resumed


def test_a_read_model_of_another_version_is_rebuilt_before_following(
    store: Store, registrar: Registrar, monkeypatch: pytest.MonkeyPatch
) -> None:
    s.real_history(registrar)
    store.runner().run_once()
    before = snapshot(store)
    monkeypatch.setattr(AgreementStatusModel, "version", AgreementStatusModel.version + 1)

    store.runner().run_once()

    after = snapshot(store)
    assert after.pop(TRACKING_TABLE) != before.pop(TRACKING_TABLE)
    assert after == before


def test_wait_until_reports_a_runner_that_stopped_on_an_error(
    store: Store, registrar: Registrar, monkeypatch: pytest.MonkeyPatch
) -> None:
    s.reference_data(registrar)
    runner: ProjectionRunner = store.runner(poll_interval=0.1)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(runner, "run_once", broken)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,))
    thread.start()
    time.sleep(0.3)
    stop.set()
    thread.join()
    with pytest.raises(RunnerFailed, match="disk full"):
        runner.wait_until(1, timeout=1)
