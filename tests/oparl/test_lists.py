"""OParl lists: stable order, ``links.next`` on every page but the last, the four time
filters, and voided entries as deleted objects only when ``modified_since`` is given."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.application import Ledger
from tests.conftest import Clock
from tests.ledger.world import run, world
from tests.oparl.conftest import VALIDATORS, demo


def get(client: TestClient, url: str, **params: Any) -> dict[str, Any]:
    response = client.get(url, params=params) if params else client.get(url)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def body_named(client: TestClient, short_name: str) -> dict[str, Any]:
    system = get(client, "/oparl/v1/system")
    bodies = get(client, system["body"])["data"]
    return next(b for b in bodies if b["shortName"] == short_name)


def test_the_format_checks_are_on() -> None:
    errors = list(VALIDATORS["File"].iter_errors({
        "id": "not a url", "type": "https://schema.oparl.org/1.1/File",
        "accessUrl": "http://example.org/f", "created": "yesterday"}))
    assert {e.validator for e in errors} == {"format"}
    assert len(errors) == 2


def test_pages_follow_next_to_the_last_in_a_stable_order(
    service: Callable[..., TestClient],
) -> None:
    client = service(demo)
    region = body_named(client, "RJH")
    whole = get(client, region["paper"], limit=1000)["data"]

    seen, url, pages = [], region["paper"] + "?limit=2", 0
    while url:
        page = get(client, url)
        pages += 1
        seen += [p["id"] for p in page["data"]]
        url = page["links"].get("next")
        if url:
            assert page["pagination"]["currentPage"] < page["pagination"]["totalPages"]
    assert seen == [p["id"] for p in whole]
    assert pages == page["pagination"]["totalPages"] == -(-len(whole) // 2)
    assert "next" not in page["links"]


def test_the_board_decision_is_an_agenda_item_with_its_resolution(
    service: Callable[..., TestClient],
) -> None:
    client = service(demo)
    region = body_named(client, "RJH")
    items = get(client, region["agendaItem"])["data"]
    item = next(i for i in items if i["number"] == "§ 58")
    assert item["result"] == "decided without a motion"
    assert item["resolutionText"].startswith("1. Följande mål")
    consultation = get(client, item["consultation"])
    assert consultation["authoritative"] is True
    paper = get(client, consultation["paper"])
    assert paper["reference"] == "RS/203/2021"
    assert any(get(client, p)["reference"] == "HSN/485/2021" for p in paper["relatedPaper"])
    files = {f["samsyn:sha256"] for f in paper["auxiliaryFile"]}
    assert len(files) == 4 and all(len(h) == 64 for h in files)


def test_recommendations_carry_adoption_and_agreements_validity(
    service: Callable[..., TestClient],
) -> None:
    client = service(demo)
    svom = body_named(client, "SVOM")
    papers = get(client, svom["paper"])["data"]
    extension = next(p for p in papers if p["reference"] == "Rekommendation SVOM 2021-06-04 §20")
    assert extension["samsyn:adoption"]["adopted"] == extension["samsyn:adoption"]["addressed"]
    region = body_named(client, "RJH")
    agreement = next(p for p in get(client, region["paper"])["data"]
                     if p["paperType"] == "agreement" and p["reference"] == "Hemsjukvårdsavtalet")
    assert agreement["samsyn:validity"]["validUntil"] == "2022-12-31"


@pytest.fixture
def small(service: Callable[..., TestClient], ledger: Ledger, clock: Clock) -> TestClient:
    world(ledger)
    return service(lambda _: None)


def test_a_voided_matter_is_deleted_only_for_clients_asking_what_changed(
    small: TestClient, ledger: Ledger, clock: Clock,
) -> None:
    region = body_named(small, "REG")
    before = get(small, region["paper"])["data"]
    matter = next(p for p in before if p["reference"] == "KS/1/2021")
    created = matter["created"]

    clock.advance(3600)
    run(ledger, {"type": "VoidEntry", "entry": {"kind": "matter", "ref": "REG:KS/1/2021"},
                 "reason": "registered in error"})
    voided_at = clock.now

    listed = get(small, region["paper"])["data"]
    assert matter["id"] not in [p["id"] for p in listed]
    since = (voided_at - timedelta(seconds=1)).isoformat()
    changed = get(small, region["paper"], modified_since=since)["data"]
    gone = next(p for p in changed if p["id"] == matter["id"])
    assert gone == {"id": matter["id"], "type": matter["type"], "created": created,
                    "modified": voided_at.isoformat(), "deleted": True}
    assert get(small, matter["id"]) == gone


def test_the_time_filters_choose_by_created_and_modified(
    small: TestClient, ledger: Ledger, clock: Clock,
) -> None:
    region = body_named(small, "REG")
    clock.advance(3600)
    run(ledger, {"type": "OpenMatter", "title": "Later", "opened_on": "2022-01-01",
                 "case_numbers": [{"organisation": "REG", "dnr": "KS/9/2022"}]})
    later = clock.now.isoformat()

    new = get(small, region["paper"], created_since=later)["data"]
    assert [p["reference"] for p in new] == ["KS/9/2022"]
    old = get(small, region["paper"], created_until=(clock.now - timedelta(seconds=1))
              .isoformat())["data"]
    assert "KS/9/2022" not in [p["reference"] for p in old] and old
    assert get(small, region["paper"], modified_until="2000-01-01T00:00:00Z")["data"] == []


def test_unknown_lists_and_objects_are_404(small: TestClient) -> None:
    assert small.get("/oparl/v1/body/nothing/papers").status_code == 404
    assert small.get("/oparl/v1/paper/nothing").status_code == 404
    assert small.get("/oparl/v1/nothing/nothing").status_code == 404
    assert small.get("/oparl/v1/bodies", params={"page": 0}).status_code == 422


def test_each_principal_deciding_on_a_recommendation_is_a_consultation_across_organisations(
    service: Callable[..., TestClient],
) -> None:
    client = service(demo)
    svom = body_named(client, "SVOM")
    paper = next(p for p in get(client, svom["paper"])["data"]
                 if p["reference"] == "Rekommendation SVOM 2021-06-04 §20")
    deciding = [c for c in paper["consultation"] if c["authoritative"]]
    assert len(deciding) == paper["samsyn:adoption"]["adopted"] == 9
    bodies = {get(client, get(client, c["organization"][0])["body"])["shortName"]
              for c in deciding}
    assert "RJH" in bodies and "Östersund" in bodies and "SVOM" not in bodies
