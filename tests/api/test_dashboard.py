"""Dashboard routes over the real history: where things stand, as of any date and as
known at any moment, with validators for cheap polling."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.accounts import Account, AccountStore
from api.app import create_app
from api.redaction import redacted_json
from ledger.importing import demo_lines
from ledger.settings import Settings

AGREEMENT = "Hemsjukvårdsavtalet"
CONSULTATION = "Remiss Gemensam plan för primärvårdsnivå 2023"
PLAN_RECOMMENDATION = "Rekommendation SVOM 2023-10-13 §34"


class Dashboard:
    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client, self.tokens = client, tokens

    def get(self, path: str, who: str | None = None, **params: str) -> dict[str, object]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        response = self.client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body


@pytest.fixture
def dashboard(store: tuple[Settings, str | None]) -> Iterator[Dashboard]:
    settings, schema = store
    settings = settings.model_copy(update={"demo_on_empty": False})
    accounts = AccountStore(settings, schema)
    tokens = {"admin": accounts.create("admin", "admin", []),
              "auditor": accounts.create("auditor", "auditor", [])}
    with TestClient(create_app(settings, schema=schema)) as client:
        response = client.post("/v1/import", content="\n".join(demo_lines()).encode(),
                               headers={"Authorization": f"Bearer {tokens['admin']}"})
        assert response.status_code == 201, response.text
        client.app.state.runner.wait_until(response.json()["last_position"], timeout=30)  # type: ignore[attr-defined]
        yield Dashboard(client, tokens)


def test_the_home_care_agreement_ends_as_extended_on_each_date(dashboard: Dashboard) -> None:
    path = f"/v1/agreements/{quote(AGREEMENT)}"
    assert dashboard.get(path, as_of="2021-06-30")["valid_until"] == "2021-12-31"
    assert dashboard.get(path, as_of="2022-06-30")["valid_until"] == "2022-12-31"
    today = dashboard.get(path)
    assert today["valid_until"] == "2022-12-31" and today["in_force"] is False


def test_the_plan_consultation_shows_six_of_nine_and_who_is_missing(dashboard: Dashboard) -> None:
    body = dashboard.get(f"/v1/consultations/{quote(CONSULTATION)}")
    assert (body["answered"], body["addressed"]) == (6, 9)
    assert sorted(body["missing"]) == ["Bräcke", "Härjedalen", "Åre"]  # type: ignore[arg-type]


def test_adoption_of_the_plan_lists_every_principal(dashboard: Dashboard) -> None:
    body = dashboard.get(f"/v1/recommendations/{quote(PLAN_RECOMMENDATION)}/adoption")
    assert body["addressed"] == 9
    assert len(body["principals"]) == 9  # type: ignore[arg-type]
    listing = dashboard.get("/v1/recommendations")
    assert listing["total"] == 3


def test_the_board_decision_is_in_the_register_with_its_condition_met(
    dashboard: Dashboard,
) -> None:
    register = dashboard.get("/v1/decisions", organisation="RJH", **{"from": "2021-03-01",
                                                                     "to": "2021-03-31"})
    assert register["total"] == 1
    before = dashboard.get("/v1/decisions", organisation="RJH", body="RS",
                           as_of="2021-04-01", **{"from": "2021-03-25", "to": "2021-03-25"})
    assert before["total"] == 1


def test_the_matter_timeline_spans_both_case_numbers(dashboard: Dashboard) -> None:
    one = dashboard.get(f"/v1/matters/{quote('RJH:RS/203/2021')}/timeline")
    other = dashboard.get(f"/v1/matters/{quote('RJH:HSN/485/2021')}/timeline")
    assert one == other


def test_assignments_can_be_filtered_by_status(dashboard: Dashboard) -> None:
    everything = dashboard.get("/v1/assignments")
    assert everything["total"] >= 1
    overdue = dashboard.get("/v1/assignments", status="overdue")
    assert overdue["total"] <= everything["total"]


def test_known_at_before_anything_was_recorded_knows_nothing(dashboard: Dashboard) -> None:
    response = dashboard.client.get(f"/v1/agreements/{quote(AGREEMENT)}",
                                    params={"known_at": "2000-01-01T00:00:00Z"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_an_unchanged_answer_is_a_304_for_its_etag(dashboard: Dashboard) -> None:
    first = dashboard.client.get("/v1/agreements")
    etag = first.headers["etag"]
    again = dashboard.client.get("/v1/agreements", headers={"If-None-Match": etag})
    assert again.status_code == 304
    other = dashboard.client.get("/v1/agreements", params={"as_of": "2021-06-30"},
                                 headers={"If-None-Match": etag})
    assert other.status_code == 200


def test_a_reader_and_an_auditor_get_different_validators(dashboard: Dashboard) -> None:
    path = f"/v1/matters/{quote('RJH:RS/203/2021')}/timeline"
    reader = dashboard.client.get(path)
    auditor = {"Authorization": f"Bearer {dashboard.tokens['auditor']}"}
    seen = dashboard.client.get(path, headers={**auditor, "If-None-Match": reader.headers["etag"]})
    assert seen.status_code == 200
    entries = reader.json()["entries"]
    assert entries and {e["recorded_by"] for e in entries} == {None}
    assert None not in {e["recorded_by"] for e in seen.json()["entries"]}
    assert reader.headers["vary"] == "Authorization"


def test_a_new_entry_changes_the_validator(dashboard: Dashboard) -> None:
    etag = dashboard.client.get("/v1/agreements").headers["etag"]
    admin = {"Authorization": f"Bearer {dashboard.tokens['admin']}"}
    response = dashboard.client.post("/v1/organisations", json={
        "ref": "Nyby", "name": "Nyby kommun", "kind": "other",
        "registered_on": "2024-01-01"}, headers=admin)
    assert response.status_code == 201, response.text
    dashboard.client.app.state.runner.wait_until(  # type: ignore[attr-defined]
        response.json()["entries"][-1]["position"], timeout=30)
    again = dashboard.client.get("/v1/agreements", headers={"If-None-Match": etag})
    assert again.status_code == 200


def test_pages_of_the_decision_register_add_up_to_the_register(dashboard: Dashboard) -> None:
    whole = dashboard.get("/v1/decisions", limit="500")
    items = whole["items"]
    assert isinstance(items, list) and whole["total"] == len(items) > 3
    pages = [dashboard.get("/v1/decisions", offset=str(o), limit="3")
             for o in range(0, len(items), 3)]
    assert [i for p in pages for i in p["items"]] == items  # type: ignore[attr-defined]
    assert {p["total"] for p in pages} == {len(items)}


@pytest.mark.parametrize("body", [
    b'{"recorded_by":"admin","data":{"note":"\\"recorded_by\\":\\"x\\""}}',
    b'{"items":[{"recorded_by":"a \\"b\\" c"},{"recorded_by":null}],"not_recorded_by":"y"}',
])
def test_redaction_hides_every_recorder_and_nothing_else(body: bytes) -> None:
    reader = Account("reader", "reader", frozenset())
    hidden = json.loads(redacted_json(body, reader))
    original = json.loads(body)

    def without_recorders(node: object) -> object:
        if isinstance(node, dict):
            return {k: None if k == "recorded_by" else without_recorders(v)
                    for k, v in node.items()}
        if isinstance(node, list):
            return [without_recorders(v) for v in node]
        return node

    assert hidden == without_recorders(original)
    assert redacted_json(body, Account("auditor", "auditor", frozenset())) == body
