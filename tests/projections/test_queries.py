"""The query API's pages: a page of the decision register is the register's slice, whatever
the filters, dates and ties on the day decided."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ledger.importing import load_demo
from projections.queries import ReadModels
from tests.projections.conftest import Clock, Store


@pytest.fixture
def models(store: Store) -> ReadModels:
    load_demo(store.ledger(Clock()))
    store.runner().run_once()
    return store.read_models()


FILTERS: list[dict[str, object]] = [
    {},
    {"organisation": "RJH"},
    {"body": "KS", "from_": date(2021, 4, 1), "to": date(2023, 12, 31)},
    {"as_of": date(2022, 6, 30)},
    {"as_of": date(2023, 6, 30), "known_at": datetime(2017, 1, 1, 9, 5, tzinfo=UTC)},
]


@pytest.mark.parametrize("filters", FILTERS)
def test_a_page_of_the_decision_register_is_its_slice(
    models: ReadModels, filters: dict[str, object]
) -> None:
    register = models.decisions(**filters)  # type: ignore[arg-type]

    for offset, limit in [(0, 100), (0, 1), (1, 3), (5, 7), (len(register) - 1, 5),
                          (len(register), 5), (len(register) + 10, 5)]:
        page = models.decisions_page(offset=max(0, offset), limit=limit,
                                     **filters)  # type: ignore[arg-type]
        assert page == (register[max(0, offset):max(0, offset) + limit], len(register))


def test_the_demo_register_has_decisions_taken_on_the_same_day(models: ReadModels) -> None:
    days = [d.decided_on for d in models.decisions()]
    assert len(days) > 10 and len(set(days)) < len(days)

