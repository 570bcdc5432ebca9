"""One registrar's bad write never fails the others': concurrent writes share group commits,
yet a command the ledger cannot process is answered on its own and the rest are recorded."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.api.conftest import Service

#: The appeal period added to this date passes year 9999 (an OverflowError in the handler,
#: unless the door refuses the date first): either way a 4xx for this write alone.
BEYOND_THE_CALENDAR = {"meeting": "REG/KS/2021-03-25", "posted_on": "9999-12-25"}


def test_a_posting_beyond_the_calendar_fails_alone_among_30_concurrent_writes(
    service: Service,
) -> None:
    def write(i: int) -> Any:
        if i == 15:
            return service.client.post("/v1/meetings/postings", json=BEYOND_THE_CALENDAR,
                                       headers=service.auth("registrar-reg"))
        meeting = {"organisation": "Alfa", "body": "KS", "held_on": f"2022-{1 + i // 28:02d}-"
                   f"{1 + i % 28:02d}"}
        return service.client.post("/v1/meetings", json=meeting,
                                   headers=service.auth("registrar-alfa"))

    with ThreadPoolExecutor(max_workers=30) as pool:
        answers = list(pool.map(write, range(30)))
    bad = answers.pop(15)
    assert 400 <= bad.status_code < 500, bad.text
    assert bad.headers["content-type"] == "application/problem+json"
    assert [a.status_code for a in answers] == [201] * 29
    assert len({a.json()["position"] for a in answers}) == 29
