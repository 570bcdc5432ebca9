"""Decoding entries for the read models: the same items the library's mapper gives, cheaper."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from ledger.application import Ledger
from projections.decoding import EntryDecoder
from projections.facts import Item
from projections.pipeline import UNTRACKED_KINDS, kind_of
from tests.projections import scenario as s
from tests.projections.conftest import Registrar


def _fields(item: Item) -> tuple[Any, ...]:
    return (item.position, item.kind, item.event_type, item.recorded_at, item.recorded_by,
            item.ref, item.keys, item.data, item.data_json)


def test_every_entry_decodes_as_the_library_mapper_decodes_it(registrar: Registrar) -> None:
    s.real_history(registrar)
    ledger = registrar.ledger
    decoder = EntryDecoder(ledger.mapper)
    notifications = ledger.recorder.select_notifications(start=1, limit=10_000)
    tracked = [(n, kind_of(n.topic)) for n in notifications]
    tracked = [(n, kind) for n, kind in tracked if kind not in UNTRACKED_KINDS]

    assert len(tracked) > 50
    for notification, kind in tracked:
        assert _fields(decoder.item(notification, kind)) == _fields(
            decoder.by_mapper(notification, kind)
        )


def test_nested_and_other_transcoded_values_read_as_stored_json(registrar: Registrar) -> None:
    s.reference_data(registrar)
    ledger: Ledger = registrar.ledger
    real = ledger.recorder.select_notifications(start=1, limit=1)[0]
    state = {
        "timestamp": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        "originator_topic": "ledger.domain.organisation:Organisation",
        "recorded_by": "registrar",
        "ref": "R",
        "on": date(2024, 1, 2),
        "later": [date(2024, 3, 4), {"id": UUID(int=7), "at": datetime(2024, 1, 1, tzinfo=UTC)}],
    }
    notification = Notification(
        id=real.id, originator_id=real.originator_id, originator_version=1, topic=real.topic,
        state=ledger.mapper.transcoder.encode(state),
    )
    decoder = EntryDecoder(ledger.mapper)

    item = decoder.item(notification, "organisation")

    assert _fields(item) == _fields(decoder.by_mapper(notification, "organisation"))
    assert item.data == {
        "ref": "R",
        "on": "2024-01-02",
        "later": ["2024-03-04", {"id": str(UUID(int=7)), "at": "2024-01-01T00:00:00+00:00"}],
    }
    assert item.recorded_at == 1714979289123456
