"""The read side names only events of the catalogue, and names them through their classes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from ledger.catalogue import AGGREGATES, event_classes
from projections import derivations, events, matter_timeline
from projections.pipeline import READ_MODELS
from projections.readmodel import FoldedReadModel

CATALOGUE = {f"{a.__name__}.{e.__name__}" for a in AGGREGATES for e in event_classes(a)}
PROJECTIONS = Path(__file__).resolve().parents[2] / "projections"
LOOKS_LIKE_AN_EVENT = re.compile(r"^\.?[A-Z][A-Za-z]*(\.[A-Z][A-Za-z]*)?$")


def names_the_read_side_uses() -> dict[str, set[str]]:
    return {
        "projections.events": {
            value for name, value in vars(events).items()
            if name.isupper() and isinstance(value, str) and not value.startswith(".")
        } | set(events.CREATED.values()),
        "root events": {e for m in READ_MODELS if isinstance(m, FoldedReadModel)
                        for e in m.root_events},
        "domain dates": set(derivations.PRIMARY_DATE),
        "dated by another act": set(derivations.DATED_BY),
        "descriptions": set(derivations._DESCRIPTIONS),
        "timeline": set(matter_timeline.ATTACHED) | set(matter_timeline.WITHDRAWALS)
        | {e for e, _ in matter_timeline.WITHDRAWALS.values()},
    }


@pytest.mark.parametrize("where", sorted(names_the_read_side_uses()))
def test_every_event_the_read_side_names_is_in_the_catalogue(where: str) -> None:
    names = names_the_read_side_uses()[where]
    assert names
    assert names - CATALOGUE == set()


def test_adjustments_are_the_catalogue_events_every_entity_shares() -> None:
    for suffix in (events.CORRECTED, events.VOIDED):
        assert {f"{a.__name__}{suffix}" for a in AGGREGATES} <= CATALOGUE


def test_no_module_of_the_read_side_spells_an_event_type_as_text() -> None:
    spelled = [
        f"{path.name}:{node.lineno}: {node.value!r}"
        for path in sorted(PROJECTIONS.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text("utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and "." in node.value and LOOKS_LIKE_AN_EVENT.match(node.value)
    ]
    assert spelled == []
