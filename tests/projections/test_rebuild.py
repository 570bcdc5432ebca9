"""Rebuild: a fresh copy beside the live one, swapped in whole; it equals the incremental one."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from projections.pipeline import UnknownReadModel
from projections.rebuilding import rebuild
from tests.projections import scenario as s
from tests.projections.conftest import Registrar, Store, current_states, snapshot


def test_a_rebuild_equals_the_read_models_kept_page_by_page(
    store: Store, registrar: Registrar
) -> None:
    s.real_history(registrar)
    store.runner(page_size=3).run_once()
    incremental = snapshot(store)

    position = rebuild(store.settings, schema=store.schema)

    assert position == registrar.ledger.max_position()
    assert snapshot(store) == incremental


def test_rebuilding_one_read_model_repairs_it_and_leaves_the_others_alone(
    store: Store, registrar: Registrar
) -> None:
    s.real_history(registrar)
    store.runner().run_once()
    before = snapshot(store)
    database = store.database()
    with database.transaction(write=True) as tx:
        tx.execute(f"DELETE FROM {tx.table('rm_agreements_current')}")
        tx.execute(f"DELETE FROM {tx.table('rm_audit_key')}")

    rebuild(store.settings, "audit", schema=store.schema)
    rebuild(store.settings, "agreements", schema=store.schema)

    assert snapshot(store) == before


def test_readers_see_the_old_copy_until_the_new_one_is_swapped_in(
    store: Store, registrar: Registrar
) -> None:
    s.real_history(registrar)
    store.runner().run_once()
    models = store.read_models()
    expected = models.agreement_status(s.AGREEMENT, as_of=date(2022, 6, 30))
    seen = []

    def progress(position: int, head: int) -> None:
        seen.append((position, head, models.agreement_status(s.AGREEMENT, as_of=date(2022, 6, 30))))

    rebuild(store.settings, progress=progress, schema=store.schema, page_size=20)

    head = registrar.ledger.max_position()
    assert [p for p, _, _ in seen] == [20, 40, 60, 80, head, head]
    assert all(answer == expected for _, _, answer in seen)


def test_a_rebuild_while_the_runner_follows_ends_equal(store: Store, registrar: Registrar) -> None:
    s.real_history(registrar)
    runner = store.runner(poll_interval=0.05, page_size=4)
    runner.start()
    rebuilder = threading.Thread(
        target=rebuild, args=(store.settings,), kwargs={"schema": store.schema, "page_size": 7}
    )
    rebuilder.start()
    for municipality, day in list(s.FIRST_EXTENSION_DAYS.items())[:4]:
        s.municipal_extension(registrar, municipality, day.replace("2021", "2022"))
    rebuilder.join()
    runner.wait_until(registrar.ledger.max_position(), timeout=30)
    runner.stop()
    followed = current_states(store)

    rebuild(store.settings, schema=store.schema)

    assert current_states(store) == followed


def test_worker_processes_build_the_same_read_models(store: Store, registrar: Registrar) -> None:
    s.real_history(registrar)
    rebuild(store.settings, schema=store.schema)
    alone = snapshot(store)

    rebuild(store.settings, schema=store.schema, workers=2, page_size=25)

    assert snapshot(store) == alone


def test_an_unknown_read_model_is_refused(store: Store) -> None:
    with pytest.raises(UnknownReadModel, match="no read model agreement; there are audit"):
        rebuild(store.settings, "agreement", schema=store.schema)
