"""Registrar routes: each act is a typed POST; a success is 201 with position, id, recorded
time and Location; retries with an Idempotency-Key record once; If-Match guards versions."""

from __future__ import annotations

from typing import Any

import pytest

from api.routes.registrar import ROUTES
from ledger.integrity.checkpoint import parse_and_verify_checkpoint
from ledger.integrity.merkle import verify_inclusion
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


def check_inclusion(service: Service, body: dict[str, Any]) -> None:
    """Every entry's receipt proves it is in a checkpoint signed with the log's key."""
    key = service.client.get("/v1/integrity/public-key").json()["public_key"]
    receipts = body["inclusion"]["receipts"]
    assert [r["position"] for r in receipts] == sorted(e["position"] for e in body["entries"])
    for receipt in receipts:
        signed = parse_and_verify_checkpoint(receipt["checkpoint"], key)
        assert (signed.tree_size, signed.root_hash.hex()) == (receipt["tree_size"],
                                                               receipt["root_hash"])
        assert verify_inclusion(bytes.fromhex(receipt["leaf_hash"]), receipt["leaf_index"],
                                signed.tree_size, [bytes.fromhex(h) for h in receipt["proof"]],
                                signed.root_hash)
        alone = service.client.get(f"/v1/integrity/receipts/{receipt['position']}",
                                    params={"wait": 0}).json()
        assert (alone["leaf_index"], alone["leaf_hash"]) == (receipt["leaf_index"],
                                                             receipt["leaf_hash"])


@pytest.mark.parametrize("sealing", ["sealer-thread", "inline"])
def test_an_append_may_wait_for_its_inclusion_receipts(
    service: Service, sealing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if sealing == "inline":  # SAMSYN_SEAL_IN_PROCESS off: the route seals and signs itself
        monkeypatch.setattr(service.client.app.state, "sealer", None)  # type: ignore[attr-defined]
    response = service.client.post(
        "/v1/meetings", params={"receipt_wait": 10}, json=MEETING,
        headers=service.auth("registrar-alfa") | {"Idempotency-Key": "with-receipt"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["entries"]) == 1  # the meeting (the key is no entry of the ledger)
    assert body["inclusion"]["status"] == "sealed"
    assert body["inclusion"]["pending"] == []
    assert "link" not in response.headers
    check_inclusion(service, body)


def test_without_receipt_wait_an_append_answers_at_once_without_receipts(
    service: Service,
) -> None:
    response = post(service, "/meetings", MEETING)
    assert response.status_code == 201
    assert response.json()["inclusion"] is None


def test_a_receipt_not_signed_in_time_is_pending_and_the_append_stands(service: Service) -> None:
    sealer = service.client.app.state.sealer  # type: ignore[attr-defined]
    with sealer._work:  # the sealer is busy: nothing is sealed while the append waits
        response = service.client.post("/v1/meetings", params={"receipt_wait": 0.2},
                                       json=MEETING, headers=service.auth("registrar-alfa"))
    assert response.status_code == 201, response.text
    body = response.json()
    where = f"/v1/integrity/receipts/{body['position']}"
    assert body["inclusion"] == {"status": "pending", "receipts": [], "pending": [where]}
    assert response.headers["link"] == f'<{where}>; rel="receipt"'
    assert service.ledger.max_position() == body["position"]  # recorded all the same
    later = service.client.get(where, params={"wait": 10})
    assert later.status_code == 200, later.text
    check_inclusion(service, body | {"inclusion": {"receipts": [later.json()]}})


def test_receipt_wait_is_at_most_ten_seconds(service: Service) -> None:
    head = service.ledger.max_position()
    response = service.client.post("/v1/meetings", params={"receipt_wait": 11}, json=MEETING,
                                   headers=service.auth("registrar-alfa"))
    assert response.status_code == 422
    assert service.ledger.max_position() == head
