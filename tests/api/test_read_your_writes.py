"""Read-your-writes: a 201 names the ledger position it reached, and a read given that
position never misses the write, on the primary and on a real streaming replica."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.accounts import AccountStore
from api.app import create_app
from ledger.application import Ledger
from ledger.settings import Settings
from ledger.storage import persistence_env
from tests.api.conftest import Service
from tests.ledger.world import PRINCIPALS, world
from tests.replica import StreamingPair, streaming_pair


def agreement(number: int) -> dict[str, object]:
    return {"ref": f"Agreement {number}", "title": f"Agreement {number}",
            "parties": PRINCIPALS, "valid_from": "2024-01-01", "valid_until": "2025-12-31"}


def write_then_read(client: TestClient, headers: dict[str, str], number: int) -> None:
    """Register an agreement, then read it, and the feed, with the position of the 201."""
    written = client.post("/v1/agreements", json=agreement(number), headers=headers)
    assert written.status_code == 201, written.text
    position = written.json()["ledger_position"]
    assert written.headers["X-Samsyn-Position"] == str(position)

    status = client.get(f"/v1/agreements/Agreement {number}",
                        params={"min_position": position})
    assert status.status_code == 200, status.text
    assert status.json()["ref"] == f"Agreement {number}"
    feed = client.get("/v1/events", params={"after": position - 1, "min_position": position})
    assert [item["position"] for item in feed.json()["items"]][:1] == [position]


def test_a_201_names_the_ledger_position_its_command_reached(service: Service) -> None:
    answer = service.client.post("/v1/agreements", json=agreement(1),
                                 headers=service.auth("admin"))
    body = answer.json()
    assert body["ledger_position"] == max(e["position"] for e in body["entries"])
    assert answer.headers["X-Samsyn-Position"] == str(body["ledger_position"])
    assert body["ledger_position"] == service.ledger.max_position()


def test_a_read_given_the_position_of_a_201_never_misses_that_write(service: Service) -> None:
    for number in range(1, 11):
        write_then_read(service.client, service.auth("admin"), number)


def test_the_position_may_be_given_as_a_header(service: Service) -> None:
    written = service.client.post("/v1/agreements", json=agreement(1),
                                  headers=service.auth("admin"))
    position = written.headers["X-Samsyn-Position"]
    answer = service.client.get("/v1/agreements/Agreement 1",
                                headers={"X-Samsyn-Min-Position": position})
    assert answer.status_code == 200


def test_a_position_not_reached_in_time_is_a_503_with_retry_after(service: Service) -> None:
    app = service.client.app
    app.state.settings = app.state.settings.model_copy(update={"read_wait": 0.1})  # type: ignore[attr-defined]
    app.state.runner.stop()  # type: ignore[attr-defined]  # the read models stand still
    written = service.client.post("/v1/agreements", json=agreement(1),
                                  headers=service.auth("admin"))
    answer = service.client.get("/v1/agreements",
                                params={"min_position": written.json()["ledger_position"]})
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["Retry-After"] == "1"
    problem = answer.json()
    assert problem["type"].endswith("/not-caught-up")
    assert problem["errors"][0]["field"] == "min_position"


def test_a_position_beyond_the_ledger_s_last_is_refused_naming_it(service: Service) -> None:
    beyond = service.ledger.max_position() + 1
    for path in ("/v1/agreements", "/v1/events"):
        answer = service.client.get(path, params={"min_position": beyond})
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["field"] == "min_position"


def test_a_min_position_header_that_is_no_position_is_refused_naming_it(
    service: Service,
) -> None:
    answer = service.client.get("/v1/agreements", headers={"X-Samsyn-Min-Position": "soon"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "X-Samsyn-Min-Position"


# -- on a real streaming replica ---------------------------------------------------------------


@pytest.fixture(scope="module")
def replication() -> Iterator[StreamingPair]:
    with streaming_pair() as pair:
        yield pair


@pytest.fixture
def replicated(replication: StreamingPair, tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    """The service on the scratch primary, reading from its replica; an admin token."""
    with psycopg.connect(replication.primary, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    settings = Settings(database_url=replication.primary, read_database_url=replication.replica,
                        demo_on_empty=False, read_wait=2.0,
                        signing_key_path=tmp_path / "signing.key")
    ledger = Ledger(env=persistence_env(settings))
    world(ledger)
    token = AccountStore(settings).create("admin", "admin", [])
    try:
        with TestClient(create_app(settings, ledger)) as client:
            yield client, token
    finally:
        ledger.close()


def test_the_replica_is_a_streaming_standby_of_the_primary(replication: StreamingPair) -> None:
    with psycopg.connect(replication.replica) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
    with psycopg.connect(replication.primary) as conn:
        assert conn.execute("SELECT state FROM pg_stat_replication").fetchall() == [("streaming",)]


def test_on_a_replica_a_read_given_the_position_of_a_201_never_misses_that_write(
    replicated: tuple[TestClient, str],
) -> None:
    client, token = replicated
    [replica] = client.app.state.read_sources.replicas  # type: ignore[attr-defined]
    assert replica.name == "replica 1"
    for number in range(1, 11):
        write_then_read(client, {"Authorization": f"Bearer {token}"}, number)


def test_reads_are_answered_by_the_replica_and_wait_for_it(
    replication: StreamingPair, replicated: tuple[TestClient, str],
) -> None:
    """With the replica's replay paused, a write still succeeds on the primary, and reads
    with its position answer 503 until the replica has replayed it."""
    client, token = replicated
    headers = {"Authorization": f"Bearer {token}"}
    with psycopg.connect(replication.replica, autocommit=True) as replica:
        replica.execute("SELECT pg_wal_replay_pause()")
        try:
            written = client.post("/v1/agreements", json=agreement(99), headers=headers)
            assert written.status_code == 201
            position = written.json()["ledger_position"]
            for path in ("/v1/agreements/Agreement 99", "/v1/events"):
                waiting = client.get(path, params={"min_position": position})
                assert waiting.status_code == 503
                assert waiting.json()["type"].endswith("/not-caught-up")
        finally:
            replica.execute("SELECT pg_wal_replay_resume()")
    answer = client.get("/v1/agreements/Agreement 99", params={"min_position": position})
    assert answer.status_code == 200
    assert answer.json()["ref"] == "Agreement 99"
