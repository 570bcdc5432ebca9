"""The event types the read side folds, named through the ledger's event classes.

A read model never spells an event type as text: it names the class
(``Decision.Recorded``) and :func:`event_name` gives the name its entries are filed under
(the class's qualified name, as :mod:`projections.decoding` records it). Every name the
read side uses is one of the catalogue's (``ledger.catalogue``); a test checks it.
"""

from __future__ import annotations

from ledger.catalogue import AGGREGATES, event_classes
from ledger.domain.base import LedgerAggregate


def event_name(event: type[object]) -> str:
    """The event type entries of ``event`` are filed under (``Decision.Recorded``)."""
    return event.__qualname__


#: The event that creates each kind of entity (``decision`` → ``Decision.Recorded``).
CREATED: dict[str, str] = {
    aggregate.kind: event_name(event)
    for aggregate in AGGREGATES
    for event in event_classes(aggregate)
    if issubclass(event, LedgerAggregate.Created)
}

#: Suffixes of the adjustments every kind of entity shares (each aggregate has its own
#: class of them: ``Decision.FactCorrected``, ``Agreement.EntryVoided`` ...).
CORRECTED = "." + LedgerAggregate.FactCorrected.__name__
VOIDED = "." + LedgerAggregate.EntryVoided.__name__
