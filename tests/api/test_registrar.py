"""Registrar routes: each act is a typed POST; a success is 201 with position, id, recorded
time and Location; retries with an Idempotency-Key record once; If-Match guards versions."""

from __future__ import annotations

from typing import Any

import pytest

from api.routes.registrar import ROUTES
from tests.api.conftest import Service

MEETING = {"organisation": "Alfa", "body": "KS", "held_on": "2022-05-04"}


def post(service: Service, path: str, body: dict[str, Any], who: str = "registrar-alfa",
         **headers: str) -> Any:
    return service.client.post(f"/v1{path}", json=body, headers=service.auth(who) | headers)


def test_a_recorded_act_answers_201_with_position_id_time_and_location(service: Service) -> None:
    response = post(service, "/meetings", MEETING)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["position"] == service.ledger.max_position()
    assert body["ref"] == "Alfa/KS/2022-05-04"
    assert body["recorded_by"] == "registrar-alfa"
    assert response.headers["location"] == f"/v1/entries/{body['id']}"
    history = service.client.get(response.headers["location"]).json()
    assert history["ref"] == "Alfa/KS/2022-05-04"
    assert [e["type"] for e in history["events"]] == ["Meeting.Held"]


def test_every_act_of_the_catalogue_has_a_route(service: Service) -> None:
    paths = {p for p, item in service.client.get("/openapi.json").json()["paths"].items()
             if "post" in item}
    assert {f"/v1{path}" for path in ROUTES.values()} <= paths
    assert len(ROUTES) == len({c for c in ROUTES}) == 26


def test_the_same_idempotency_key_and_body_returns_the_original_answer(service: Service) -> None:
    first = post(service, "/meetings", MEETING, **{"Idempotency-Key": "abc"})
    head = service.ledger.max_position()
    again = post(service, "/meetings", MEETING, **{"Idempotency-Key": "abc"})
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert service.ledger.max_position() == head


def test_the_same_idempotency_key_with_another_body_is_refused(service: Service) -> None:
    post(service, "/meetings", MEETING, **{"Idempotency-Key": "abc"})
    response = post(service, "/meetings", MEETING | {"held_on": "2022-05-05"},
                    **{"Idempotency-Key": "abc"})
    assert response.status_code == 422
    assert response.json()["type"].endswith("/idempotency-key-reused")


def test_if_match_on_a_moved_entry_is_a_conflict_and_writes_nothing(service: Service) -> None:
    post(service, "/meetings", MEETING)
    ref = "Alfa/KS/2022-05-04"
    etag = service.client.get(f"/v1/history/meeting/{ref}").headers["etag"]
    assert etag == '"1"'
    ok = post(service, "/meetings/checkers", {"meeting": ref, "checkers": ["A", "B"]},
              **{"If-Match": etag})
    assert ok.status_code == 201
    head = service.ledger.max_position()
    stale = post(service, "/meetings/paragraphs", {"meeting": ref, "number": 1, "title": "x"},
                 **{"If-Match": etag})
    assert stale.status_code == 409
    assert stale.json()["errors"][0]["field"] == "If-Match"
    assert service.ledger.max_position() == head


@pytest.mark.parametrize(("body", "field"), [
    ({"organisation": "Alfa", "body": "KS"}, "body.held_on"),
    ({"organisation": "Alfa", "body": "KS", "held_on": "2022-13-01"}, "body.held_on"),
    ({"organisation": "Alfa", "body": "KS", "held_on": "2022-05-04", "x": 1}, "body.x"),
])
def test_a_malformed_body_is_a_422_problem_naming_the_field(
    service: Service, body: dict[str, Any], field: str
) -> None:
    head = service.ledger.max_position()
    response = post(service, "/meetings", body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]
    assert service.ledger.max_position() == head


def test_an_unknown_reference_is_a_422_problem_naming_it(service: Service) -> None:
    response = post(service, "/meetings/checkers", {"meeting": "Alfa/KS/1999-01-01",
                                                    "checkers": ["A"]})
    assert response.status_code == 422
    body = response.json()
    assert body["type"].endswith("/unknown-reference")
    assert body["errors"] == [{"field": "meeting",
                               "reason": "no meeting 'Alfa/KS/1999-01-01'"}]


def test_a_rule_violation_is_a_422_problem(service: Service) -> None:
    response = post(service, "/agreements", {"ref": "Back", "title": "Back",
                                             "parties": ["Alfa", "REG"],
                                             "valid_from": "2022-01-01",
                                             "valid_until": "2021-01-01"}, who="admin")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "valid_until"


def test_a_duplicate_is_a_409_problem(service: Service) -> None:
    post(service, "/meetings", MEETING)
    response = post(service, "/meetings", MEETING)
    assert response.status_code == 409
    assert response.json()["type"].endswith("/already-recorded")
