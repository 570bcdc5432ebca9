"""Over HTTP: readers check what they read (an entry's leaf bytes with its proof), the
witnesses' attestation is served and shown, and a ledger whose history moved backwards
refuses writes and is not ready (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.accounts import AccountStore
from api.app import create_app
from ledger.application import Ledger
from ledger.integrity.checkpoint import parse_and_verify_checkpoint
from ledger.integrity.keys import generate_signing_key, save_signing_key
from ledger.integrity.merkle import verify_inclusion
from ledger.integrity.witness import Witness, witness_key_of
from ledger.settings import Settings
from tests.integrity.test_log import Raw
from tests.integrity.test_witness import serve
from tests.ledger.world import decision, world

ORIGIN = "samsyn.test/ledger"
Store = tuple[Settings, str | None]


@pytest.fixture
def settings(store: Store, tmp_path: Path) -> Iterator[Settings]:
    """The service's settings, with two principals' witnesses running on loopback."""
    log_key = generate_signing_key(ORIGIN)
    save_signing_key(log_key, tmp_path / "signing.key")
    running = []
    for name in ("berg", "are"):
        key = generate_signing_key(f"witness.{name}.example/samsyn")
        running.append(serve(Witness(key, [log_key.vkey], tmp_path / f"{name}.db"), key))
    yield store[0].model_copy(update={
        "demo_on_empty": False, "signing_key_path": tmp_path / "signing.key",
        "log_origin": ORIGIN, "seal_in_process": True, "checkpoint_interval": 0.05,
        "witnesses": [f"{r.server.url} {witness_key_of(r.key).vkey}" for r in running],
        "witness_quorum": 2,
    })
    for r in running:
        r.stop()
        r.witness.close()


@pytest.fixture
def client(ledger: Ledger, store: Store, settings: Settings) -> Iterator[TestClient]:
    world(ledger)
    with TestClient(create_app(settings, ledger, store[1])) as client:
        token = AccountStore(settings, store[1]).create("auditor", "auditor", [])
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def sealed_and_attested(client: TestClient) -> dict[str, object]:
    """Wait (bounded) until the witnesses attest the whole ledger; answer /witnesses."""
    head = client.app.state.ledger.max_position()  # type: ignore[attr-defined]
    sealer = client.app.state.sealer  # type: ignore[attr-defined]
    sealer.receipt(head, timeout=30)
    for _ in range(300):
        sealer.tick()
        body: dict[str, object] = client.get("/v1/integrity/witnesses").json()
        if body["attested_tree_size"] == sealer.log.size:
            return body
    raise AssertionError(f"not attested: {body}")


def test_the_witnesses_attestation_is_served_and_shown_on_the_dashboard(
    client: TestClient,
) -> None:
    body = sealed_and_attested(client)
    assert body["quorum"] == 2
    assert sorted(body["latest_cosigned_by"]) == sorted(body["witnesses"])  # type: ignore[arg-type]
    note = client.get("/v1/integrity/checkpoint").text
    assert note.count("\u2014 witness.") == 2  # the served checkpoint carries both cosignatures
    page = client.get("/").text
    assert f"attesterad av 2 av 2 huvudmän (senast bestyrkta storlek: " \
           f"{body['attested_tree_size']} poster)" in page


def test_an_entrys_leaf_bytes_come_with_their_proof(
    client: TestClient, store: Store
) -> None:
    sealed_and_attested(client)
    position = client.app.state.ledger.max_position()  # type: ignore[attr-defined]
    got = client.get(f"/v1/integrity/leaves/{position}")
    assert got.status_code == 200, got.text
    body = got.json()
    leaf_hash = hashlib.sha256(b"\x00" + body["leaf"].encode()).digest()
    assert leaf_hash.hex() == body["leaf_hash"]
    key = client.get("/v1/integrity/public-key").json()["public_key"]
    checkpoint = parse_and_verify_checkpoint(body["checkpoint"], key)
    assert verify_inclusion(leaf_hash, body["leaf_index"], checkpoint.tree_size,
                            [bytes.fromhex(h) for h in body["proof"]], checkpoint.root_hash)
    assert client.get(f"/v1/integrity/leaves/{position}", headers={"Authorization": ""}) \
        .status_code in (401, 403)
    # a row changed since it was sealed: its leaf no longer hashes to the sealed hash
    raw = Raw(store)
    raw.set_state(position, raw.state(position) + b" ")  # still the same JSON, other bytes
    body = client.get(f"/v1/integrity/leaves/{position}").json()
    assert hashlib.sha256(b"\x00" + body["leaf"].encode()).hexdigest() != body["leaf_hash"]


def test_a_restored_older_backup_refuses_writes_and_is_not_ready(
    client: TestClient, store: Store
) -> None:
    sealed_and_attested(client)
    assert client.get("/ready").status_code == 200
    state = client.app.state  # type: ignore[attr-defined]
    state.integrity.guard(state.ledger, every=0.0)  # the service checks once a second
    raw = Raw(store)
    raw.delete(raw.positions()[-1])
    admin = AccountStore(state.settings, store[1]).create("admin", "admin", [])
    command = decision("Alfa", "2021-07-01")
    answer = client.post("/v1/decisions", json=command,
                         headers={"Authorization": f"Bearer {admin}"})
    assert answer.status_code == 503, answer.text
    assert "moved backwards" in answer.json()["detail"]
    ready = client.get("/ready")
    assert ready.status_code == 503 and "moved backwards" in ready.text
