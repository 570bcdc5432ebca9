"""Events written by an older version of an event class are read back through upcasters."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import eventsourcing.utils
import pytest
from eventsourcing.persistence import StoredEvent

from ledger.application import Ledger
from ledger.domain.organisation import Organisation
from tests.ledger.world import run


def test_an_event_stored_by_an_older_class_version_is_upcast_on_reading(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    receipt = run(ledger, {"type": "RegisterOrganisation", "ref": "Alfa", "name": "Alfa kommun",
                           "kind": "principal", "registered_on": "2020-01-01"})
    aggregate_id = receipt.entries[0]["aggregate_id"]
    run(ledger, {"type": "EstablishBody", "organisation": "Alfa", "code": "KS",
                 "name": "Kommunstyrelsen", "kind": "board"})
    stored = list(ledger.events.get(Organisation.id_for("Alfa")))
    assert [type(e).__name__ for e in stored] == ["Registered", "BodyEstablished"]

    # Version 1 of BodyEstablished had no body kind: every body was a board.
    old = ledger.mapper.to_stored_event(stored[1])
    state = json.loads(old.state)
    del state["body_kind"]
    v1 = StoredEvent(originator_id=old.originator_id, originator_version=old.originator_version,
                     topic=old.topic, state=json.dumps(state).encode())

    class BodyEstablishedV2(Organisation.BodyEstablished):
        class_version: ClassVar[int] = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["body_kind"] = "board"

    # The topic now resolves to the current class, version 2 (as after a deployment).
    monkeypatch.setitem(eventsourcing.utils._topic_cache, old.topic, BodyEstablishedV2)
    event = ledger.mapper.to_domain_event(v1)
    assert event.body_kind == "board"  # type: ignore[attr-defined]
    assert str(event.originator_id) == aggregate_id
