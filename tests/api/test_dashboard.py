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
from api.routes.dashboard import redacted
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
    assert "(hidden)" in reader.text and "(hidden)" not in seen.text
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
    hidden = json.loads(redacted(body, reader))
    original = json.loads(body)

    def recorders(node: object) -> list[object]:
        if isinstance(node, dict):
            return [v for k, v in node.items() if k == "recorded_by"] + [
                r for v in node.values() for r in recorders(v)]
        if isinstance(node, list):
            return [r for v in node for r in recorders(v)]
        return []

    assert set(recorders(hidden)) == {"(hidden)"}
    assert len(recorders(hidden)) == len(recorders(original))
    assert json.dumps(hidden).replace('"(hidden)"', "") == json.dumps(original).replace(
        '"admin"', "").replace('"a \\"b\\" c"', "").replace("null", "")
    assert redacted(body, Account("auditor", "auditor", frozenset())) == body


def test_the_audit_trail_is_for_auditors_and_names_recorders(dashboard: Dashboard) -> None:
    assert dashboard.client.get("/v1/audit-trail").status_code == 401
    trail = dashboard.client.get("/v1/audit-trail", params={"limit": 5},
                                 headers={"Authorization": f"Bearer {dashboard.tokens['auditor']}"})
    assert trail.status_code == 200
    assert {e["recorded_by"] for e in trail.json()} == {"admin"}


def test_readers_do_not_see_who_recorded(dashboard: Dashboard) -> None:
    body = dashboard.get(f"/v1/matters/{quote('RJH:RS/203/2021')}/timeline")
    assert "admin" not in str(body)


@pytest.mark.parametrize("query", [{"as_of": "yesterday"}, {"known_at": "x"},
                                   {"limit": "0"}, {"status": "nonsense"},
                                   {"offset": str(2**63)}])
def test_bad_parameters_are_problems_naming_them(dashboard: Dashboard,
                                                 query: dict[str, str]) -> None:
    response = dashboard.client.get("/v1/agreements", params=query)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == f"query.{next(iter(query))}"
