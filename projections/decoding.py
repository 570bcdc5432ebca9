"""Ledger entries decoded straight from their stored JSON into the read models' items.

The library's mapper makes a domain event object of each entry, parsing every date and
time, which the read models then take apart into JSON again. An entry stored as plain JSON
(no cipher, no compressor) whose class needs no upcasting is decoded here as JSON instead:
dates and times stay the ISO text they are stored as, and values of other transcodings
take the form the read models store them in. Any other entry goes through the mapper.
Either way an item's data is what its JSON reads back as, so the read models see the
same whether an entry was filed a moment ago or read back from their tables.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Mapper, Notification
from eventsourcing.utils import resolve_topic

from projections.facts import NOT_DATA, Item, dumps, loads, to_micros

#: Transcodings whose stored text is what the read models keep (ISO dates and times).
_AS_STORED = frozenset({"date_iso", "datetime_iso"})


#: What else an event's stored state may hold that is not its data.
_NOT_DATA = tuple(NOT_DATA - {"timestamp", "recorded_by"})


@functools.cache
def event_class(topic: str) -> tuple[type[Any], bool]:
    """The event class of ``topic``, and whether its entries need upcasting."""
    cls: type[Any] = resolve_topic(topic)
    return cls, getattr(cls, "class_version", 1) != 1


def _normal(value: Any) -> Any:
    """``value`` as JSON reads it back."""
    return loads(dumps(value))


class EntryDecoder:
    """Decodes a ledger's notifications into items (see the module's docstring)."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        self._mapper = mapper
        transcoder = mapper.transcoder
        self._plain = (
            isinstance(transcoder, JSONTranscoder)
            and mapper.cipher is None
            and mapper.compressor is None
        )
        self._transcodings = transcoder.names if isinstance(transcoder, JSONTranscoder) else {}
        self._decoder = json.JSONDecoder(object_hook=self._decode_obj)
        # Entries recorded together share their time: the last one's, parsed.
        self._timestamp = ("", 0)

    def item(self, notification: Notification, kind: str) -> Item:
        """The item of one entry of the entity kind ``kind``."""
        cls, upcast = event_class(notification.topic)
        if upcast or not self._plain:
            return self.by_mapper(notification, kind)
        state: dict[str, Any] = self._decoder.decode(notification.state.decode("utf8"))
        timestamp = state.pop("timestamp")
        if timestamp != self._timestamp[0]:
            self._timestamp = (timestamp, to_micros(datetime.fromisoformat(timestamp)))
        recorded_at = self._timestamp[1]
        recorded_by = state.pop("recorded_by")
        for name in _NOT_DATA:
            state.pop(name, None)
        return Item(
            notification.id, kind, notification.originator_id, cls.__qualname__, recorded_at,
            recorded_by, state, created=notification.originator_version == 1,
        )

    def by_mapper(self, notification: Notification, kind: str) -> Item:
        """The item decoded through the library's mapper: for entries stored otherwise than
        as plain JSON, or whose class upcasts them."""
        event: Any = self._mapper.to_domain_event(notification)
        data = {k: v for k, v in vars(event).items() if k not in NOT_DATA}
        return Item(
            notification.id, kind, notification.originator_id, type(event).__qualname__,
            to_micros(event.timestamp), event.recorded_by, _normal(data),
            created=event.originator_version == 1,
        )

    def _decode_obj(self, obj: dict[str, Any]) -> Any:
        if len(obj) == 2:
            name = obj.get("_type_")
            if name is not None and "_data_" in obj:
                if name in _AS_STORED:
                    return obj["_data_"]
                return _normal(self._transcodings[name].decode(obj["_data_"]))
        return obj
