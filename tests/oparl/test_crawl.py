"""An OParl client that knows nothing of Samsyn crawls ``/oparl/v1/system`` to the last object,
following only links, and every object it meets validates against the OParl 1.1 schemas."""

from __future__ import annotations

import collections
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.oparl.conftest import OPARL, crawl, demo, synthetic


def test_the_whole_demo_history_crawls_with_no_invalid_object(
    service: Callable[..., TestClient],
) -> None:
    seen = crawl(service(demo))

    assert seen.invalid == []
    counts = collections.Counter(o["type"].removeprefix(OPARL) for o in seen.objects.values())
    assert counts["System"] == 1
    assert counts["Body"] == 10
    for kind in ("Organization", "Person", "Membership", "Meeting", "AgendaItem", "Paper",
                 "Consultation", "File"):
        assert counts[kind] > 0, kind


def test_a_synthetic_history_with_every_act_crawls_with_no_invalid_object(
    service: Callable[..., TestClient],
) -> None:
    seen = crawl(service(synthetic(2_000)))

    assert seen.invalid == []
    papers = collections.Counter(p["paperType"] for p in seen.of_type("Paper"))
    assert set(papers) == {"matter", "motion", "recommendation", "consultation round",
                           "agreement"}
    assert any("deleted" not in o for o in seen.objects.values())
