"""The event catalogue is documented, and the documentation is the code's."""

from __future__ import annotations

from pathlib import Path

from ledger.catalogue import AGGREGATES, _purpose, event_classes, render

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_every_event_says_what_it_records() -> None:
    undocumented = [f"{a.__name__}.{e.__name__}" for a in AGGREGATES for e in event_classes(a)
                    if not _purpose(e)]
    assert not undocumented


def test_docs_events_md_is_generated_from_the_code() -> None:
    assert DOCS.read_text("utf-8").strip() == render().strip(), (
        "regenerate with: python -m ledger.catalogue > docs/events.md"
    )
