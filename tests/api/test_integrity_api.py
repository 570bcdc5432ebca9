"""The integrity routes: public key, checkpoints, proofs, receipts and exports over HTTP, each
checked with the offline verification functions an auditor would use."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.accounts import AccountStore
from api.app import create_app
from api.routes import integrity as integrity_routes
from ledger.application import Ledger
from ledger.integrity.checkpoint import parse_and_verify_checkpoint
from ledger.integrity.log import IntegrityLog
from ledger.integrity.merkle import verify_consistency, verify_inclusion
from ledger.integrity.sealer import Sealer
from ledger.integrity.verify import verify_export
from ledger.settings import Settings
from tests.ledger.world import decision, run, world

ORIGIN = "samsyn.test/ledger"
ROLES = {"admin": "admin", "auditor": "auditor", "reader": "reader", "registrar": "registrar"}


@dataclass
class Api:
    client: TestClient
    app: FastAPI
    ledger: Ledger
    integrity: IntegrityLog
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def checkpoint(self) -> dict[str, object]:
        response = self.client.post("/v1/integrity/checkpoints", headers=self.auth("auditor"))
        assert response.status_code in (200, 201), response.text
        body: dict[str, object] = response.json()
        return body


@pytest.fixture
def api(ledger: Ledger, store: tuple[Settings, str | None], tmp_path: Path) -> Iterator[Api]:
    settings, schema = store
    world(ledger)
    settings = settings.model_copy(update={
        "demo_on_empty": False,
        "signing_key_path": tmp_path / "signing.key",  # SAMSYN_SIGNING_KEY_PATH
        "log_origin": ORIGIN,  # SAMSYN_LOG_ORIGIN
        "seal_in_process": False,  # SAMSYN_SEAL_IN_PROCESS: tests seal when they want
    })
    accounts = AccountStore(settings, schema)
    tokens = {name: accounts.create(name, role, ["Alfa"] if role == "registrar" else [])
              for name, role in ROLES.items()}
    app = create_app(settings, ledger, schema)
    if not any(getattr(r, "path", "") == "/v1/integrity/public-key" for r in app.routes):
        app.include_router(integrity_routes.router)  # until api/app.py includes it
    own: IntegrityLog | None = None
    with TestClient(app) as client:
        integrity = getattr(app.state, "integrity", None)
        if integrity is None:  # until the lifespan makes the log
            integrity = own = IntegrityLog(settings, schema, ledger=ledger)
            app.state.integrity = integrity
            app.state.sealer = None
        yield Api(client, app, ledger, integrity, tokens)
    if own is not None:
        own.close()


def test_anyone_may_read_the_public_key(api: Api) -> None:
    response = api.client.get("/v1/integrity/public-key")
    assert response.status_code == 200
    body = response.json()
    assert body["origin"] == ORIGIN and body["public_key"] == api.integrity.public_key
    assert body["public_key"].split("+")[1] == body["key_id"]


def test_auditors_issue_checkpoints_that_verify_with_the_published_key(api: Api) -> None:
    client = api.client
    assert client.get("/v1/integrity/checkpoints/latest").status_code == 404
    assert client.get("/v1/integrity/checkpoints").json() == {"items": [],
                                                              "latest_tree_size": None}
    assert client.post("/v1/integrity/checkpoints").status_code == 401
    assert client.post("/v1/integrity/checkpoints", headers=api.auth("reader")).status_code == 403
    assert client.post("/v1/integrity/checkpoints",
                       headers=api.auth("registrar")).status_code == 403

    first = client.post("/v1/integrity/checkpoints", headers=api.auth("auditor"))
    assert first.status_code == 201
    public_key = client.get("/v1/integrity/public-key").json()["public_key"]
    checkpoint = parse_and_verify_checkpoint(first.json()["note"], public_key)
    assert checkpoint.tree_size == first.json()["tree_size"] == api.ledger.max_position()
    assert checkpoint.root_hash.hex() == first.json()["root_hash"]

    again = client.post("/v1/integrity/checkpoints", headers=api.auth("admin"))
    assert again.status_code == 200 and again.json() == first.json()  # the tree did not grow

    run(api.ledger, decision("Alfa", "2021-07-01"))
    second = api.checkpoint()
    assert second["tree_size"] == api.ledger.max_position()
    listed = client.get("/v1/integrity/checkpoints").json()
    assert [c["tree_size"] for c in listed["items"]] == [checkpoint.tree_size,
                                                          second["tree_size"]]
    assert listed["latest_tree_size"] == second["tree_size"]
    after = client.get("/v1/integrity/checkpoints", params={"after": checkpoint.tree_size})
    assert [c["tree_size"] for c in after.json()["items"]] == [second["tree_size"]]
    assert client.get("/v1/integrity/checkpoints/latest").json() == second
    assert client.get(f"/v1/integrity/checkpoints/{checkpoint.tree_size}").json() == first.json()
    assert client.get("/v1/integrity/checkpoints/1").status_code == 404
    note = client.get("/v1/integrity/checkpoint")
    assert note.status_code == 200 and note.text == second["note"]
    assert note.headers["content-type"].startswith("text/plain")


def test_a_wrong_method_is_answered_with_every_allowed_one(api: Api) -> None:
    response = api.client.put("/v1/integrity/checkpoints")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


def test_inclusion_proofs_verify_against_the_signed_root(api: Api) -> None:
    checkpoint = api.checkpoint()
    signed = parse_and_verify_checkpoint(str(checkpoint["note"]), api.integrity.public_key)
    for position in (1, 7, api.ledger.max_position()):
        response = api.client.get("/v1/integrity/proofs/inclusion", params={"position": position})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["checkpoint"] == checkpoint["note"]
        assert body["tree_size"] == signed.tree_size and body["root_hash"] == signed.root_hash.hex()
        assert verify_inclusion(bytes.fromhex(body["leaf_hash"]), body["leaf_index"],
                                signed.tree_size, [bytes.fromhex(h) for h in body["proof"]],
                                signed.root_hash)
    smaller = api.client.get("/v1/integrity/proofs/inclusion",
                             params={"position": 2, "tree_size": 5}).json()
    assert smaller["tree_size"] == 5 and smaller["checkpoint"] is None

    missing = api.client.get("/v1/integrity/proofs/inclusion",
                             params={"position": api.ledger.max_position() + 1})
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/integrity-not-sealed")
    outside = api.client.get("/v1/integrity/proofs/inclusion",
                             params={"position": 9, "tree_size": 3})
    assert outside.status_code == 422 and outside.json()["type"].endswith("/integrity-tree")


def test_consistency_proofs_verify_between_checkpoints(api: Api) -> None:
    first = api.checkpoint()
    run(api.ledger, decision("Alfa", "2021-07-01"))
    run(api.ledger, decision("Beta", "2021-07-01"))
    second = api.checkpoint()
    response = api.client.get("/v1/integrity/proofs/consistency",
                              params={"first": first["tree_size"], "second": second["tree_size"]})
    assert response.status_code == 200, response.text
    body = response.json()
    old = parse_and_verify_checkpoint(str(first["note"]), api.integrity.public_key)
    new = parse_and_verify_checkpoint(str(second["note"]), api.integrity.public_key)
    assert body["first_checkpoint"] == first["note"] and body["second_checkpoint"] == second["note"]
    assert verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash,
                              [bytes.fromhex(h) for h in body["proof"]])
    too_big = api.client.get("/v1/integrity/proofs/consistency",
                             params={"first": 1, "second": new.tree_size + 5})
    assert too_big.status_code == 422
    backwards = api.client.get("/v1/integrity/proofs/consistency",
                               params={"first": 5, "second": 2})
    assert backwards.status_code == 422


@pytest.mark.parametrize("with_sealer", [False, True], ids=["inline", "sealer-thread"])
def test_an_append_gets_its_receipt(api: Api, with_sealer: bool) -> None:
    sealer = Sealer(api.integrity, api.ledger, interval=0.05, checkpoint_every=3600)
    if with_sealer:
        sealer.start()
        api.app.state.sealer = sealer
    try:
        check_receipts(api)
    finally:
        api.app.state.sealer = None
        if with_sealer:
            sealer.stop()


def check_receipts(api: Api) -> None:
    position = run(api.ledger, decision("Alfa", "2021-07-01")).positions[-1]
    response = api.client.get(f"/v1/integrity/receipts/{position}", params={"wait": 10})
    assert response.status_code == 200, response.text
    body = response.json()
    signed = parse_and_verify_checkpoint(body["checkpoint"], api.integrity.public_key)
    assert body["position"] == position and signed.tree_size >= position
    assert verify_inclusion(bytes.fromhex(body["leaf_hash"]), body["leaf_index"],
                            signed.tree_size, [bytes.fromhex(h) for h in body["proof"]],
                            signed.root_hash)
    future = api.client.get(f"/v1/integrity/receipts/{position + 50}", params={"wait": 0})
    assert future.status_code == 404


def test_auditors_export_what_the_offline_verifier_accepts(api: Api) -> None:
    assert api.client.get("/v1/integrity/export", headers=api.auth("auditor")).status_code == 422
    first = api.checkpoint()
    run(api.ledger, decision("Alfa", "2021-07-01"))
    second = api.checkpoint()
    assert api.client.get("/v1/integrity/export").status_code == 401
    assert api.client.get("/v1/integrity/export", headers=api.auth("reader")).status_code == 403

    response = api.client.get("/v1/integrity/export", headers=api.auth("auditor"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in response.headers["content-disposition"]
    report = verify_export([response.content], trusted_vkey=api.integrity.public_key)
    assert report.entries == second["tree_size"] and report.checkpoints == 2

    older = api.client.get("/v1/integrity/export", headers=api.auth("admin"),
                           params={"to": first["tree_size"]})
    assert verify_export([older.content]).entries == first["tree_size"]
    ranged = api.client.get("/v1/integrity/export", headers=api.auth("auditor"),
                            params={"from": 5})
    assert ranged.status_code == 422
    assert ranged.json()["type"].endswith("/integrity-export-range")
