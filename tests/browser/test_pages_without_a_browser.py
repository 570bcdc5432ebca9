"""The dashboard's pages as HTTP answers: what the service sends before any browser runs.

SQLite only (the read models' storage is specified on both backends elsewhere). Given
the real history loaded through the API, the pages answer in Swedish or English, say
what is wrong with a date instead of failing, and stay out of the API's contract.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.accounts import AccountStore
from api.app import create_app
from ledger.importing import demo_lines
from ledger.settings import Settings


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder: Path = tmp_path_factory.mktemp("pages")
    settings = Settings(database_url=f"sqlite:///{folder / 'ledger.sqlite3'}",
                        demo_on_empty=False)
    token = AccountStore(settings).create("admin", "admin", [])
    with TestClient(create_app(settings)) as c:
        response = c.post("/v1/import", content="\n".join(demo_lines()).encode(),
                          headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 201, response.text
        c.app.state.runner.wait_until(response.json()["last_position"], timeout=30)  # type: ignore[attr-defined]
        yield c


def test_the_page_is_swedish_by_default_and_english_on_request(client: TestClient) -> None:
    swedish = client.get("/")
    assert swedish.status_code == 200
    assert swedish.headers["content-language"] == "sv"
    assert '<html lang="sv">' in swedish.text and "6 av 9 har svarat" in swedish.text
    english = client.get("/", params={"lang": "en"})
    assert '<html lang="en">' in english.text and "6 of 9 answered" in english.text


def test_the_page_allows_only_its_own_origin(client: TestClient) -> None:
    response = client.get("/")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "http://" not in response.text.replace(str(client.base_url), "")
    assert "https://" not in response.text
    css = client.get("/static/dashboard/dashboard.css")
    assert css.status_code == 200 and "url(http" not in css.text and "@import" not in css.text


def test_a_date_that_is_no_date_is_explained_in_words_not_parameter_names(
    client: TestClient,
) -> None:
    response = client.get("/", params={"as_of": "30/06/2021"})
    assert response.status_code == 400
    assert "”30/06/2021” går inte att läsa som datum för läget" in response.text
    assert "som as_of" not in response.text
    assert "ÅÅÅÅ" not in response.text


def test_an_empty_date_field_means_today(client: TestClient) -> None:
    assert client.get("/", params={"as_of": "", "known_at": ""}).status_code == 200


def test_as_known_before_anything_was_recorded_the_page_is_empty(client: TestClient) -> None:
    response = client.get("/", params={"known_at": "2000-01-01T00:00:00"})
    assert response.status_code == 200
    assert "Inga avtal eller planer" in response.text
    assert 'data-live="off"' in response.text


def test_an_unknown_matter_or_decision_is_a_404_page(client: TestClient) -> None:
    matter = client.get("/matters/RJH:RS/1/1999")
    assert matter.status_code == 404 and "text/html" in matter.headers["content-type"]
    decision = client.get("/decisions/nothing such")
    assert decision.status_code == 404 and "text/html" in decision.headers["content-type"]


def test_the_pages_are_not_part_of_the_api_contract(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if not p.startswith("/v1/") and p not in ("/health", "/ready")]


def test_every_page_says_how_current_its_data_is(client: TestClient) -> None:
    feed = client.get("/v1/events", params={"after": 0, "limit": 1000}).json()["items"]
    last = feed[-1]
    page = client.get("/")
    assert page.status_code == 200
    assert (f"t.o.m. {last['recorded_at'][:10]} (post {last['position']})"
            in page.text)


@pytest.mark.parametrize("day", ["1990-01-01", "2021-06-30"])
def test_a_page_about_the_past_shows_nothing_that_came_later(
    client: TestClient, day: str
) -> None:
    page = client.get("/", params={"as_of": day})
    assert page.status_code == 200
    later_agreements = [a["title"] for a in client.get("/v1/agreements").json()["items"]
                        if a["valid_from"] > day and a["pending_changes"]
                        and not any(d["decided_on"] <= day for c in a["pending_changes"]
                                    for d in c["decided"])]
    later_rounds = [c["subject"] for c in client.get("/v1/consultations").json()["items"]
                    if c["opens_on"] > day]
    assert later_agreements and later_rounds
    for text in later_agreements + later_rounds:
        assert text not in page.text
    assert "tillfrågas" not in page.text


def test_organisations_are_named_in_full_with_their_reference_on_hover(
    client: TestClient,
) -> None:
    organisations = client.get("/v1/organisations").json()["items"]
    region = next(o for o in organisations if o["ref"] == "RJH")
    page = client.get("/").text
    assert f'<span class="org" title="RJH">{region["name"]}</span>' in page
    assert '<th scope="col" class="principal">RJH</th>' not in page


def test_the_organisations_page_lists_each_with_its_bodies(client: TestClient) -> None:
    organisations = client.get("/v1/organisations").json()["items"]
    page = client.get("/organisations")
    assert page.status_code == 200
    for o in organisations:
        assert f'data-organisation="{o["ref"]}"' in page.text
        for body in o["bodies"]:
            assert body["name"] in page.text
    assert client.get("/organisations", params={"as_of": "1900-01-01"}).text.count(
        "data-organisation=") == 0


def test_the_decision_register_filters_by_organisation_and_period(client: TestClient) -> None:
    everything = client.get("/decisions")
    assert everything.status_code == 200
    total = client.get("/v1/decisions").json()["total"]
    assert f"Visar {min(total, 50)} av {total} beslut." in everything.text
    region = client.get("/v1/decisions", params={"organisation": "RJH", "from": "2021-01-01",
                                                  "to": "2021-12-31"}).json()
    page = client.get("/decisions", params={"organisation": "RJH", "from": "2021-01-01",
                                            "to": "2021-12-31"})
    assert f"Visar {len(region['items'])} av {region['total']} beslut." in page.text
    assert page.text.count('<tr data-decision="') == len(region["items"])
    for d in region["items"]:
        assert f'data-decision="{d["ref"]}"' in page.text
    assert '<option value="RJH" selected>' in page.text


def test_the_register_pages_through_every_decision(client: TestClient) -> None:
    total = client.get("/v1/decisions").json()["total"]
    seen: list[str] = []
    offset = 0
    while True:
        page = client.get("/decisions", params={"offset": offset}).text
        seen += [part.split('"', 1)[0] for part in page.split('<tr data-decision="')[1:]]
        if 'rel="next"' not in page:
            break
        offset += 50
    assert len(seen) == total and len(set(seen)) == total


def test_the_search_page_finds_a_decision_by_an_inflected_word(client: TestClient) -> None:
    page = client.get("/search", params={"q": "statsbidragets"})
    assert page.status_code == 200
    hits = client.get("/v1/search", params={"q": "statsbidragets"}).json()
    assert hits and all(f'data-ref="{h["ref"]}"' in page.text for h in hits)
    assert f"{len(hits)} träffar för ”statsbidragets”." in page.text
    assert 'role="search"' in page.text and client.get("/search").status_code == 200


def test_the_matters_page_lists_every_matter_leading_to_its_timeline(client: TestClient) -> None:
    matters = client.get("/v1/matters").json()["items"]
    page = client.get("/matters")
    assert page.status_code == 200 and matters
    for m in matters:
        first = m["case_numbers"][0]
        assert f'data-matter="{first["organisation"]}:{first["dnr"]}"' in page.text
    opened = [m["opened_on"] for m in matters]
    assert opened == sorted(opened, reverse=True)
    assert "data-matter=" not in client.get("/matters", params={"as_of": "1900-01-01"}).text
