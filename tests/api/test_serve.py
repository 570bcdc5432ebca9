"""``samsyn serve``: one uvicorn process, each request logged once by the service itself,
with its request id, account and time."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
import structlog
import uvicorn
from fastapi.testclient import TestClient

from api import cli
from api.app import create_app
from ledger.settings import Settings


def test_serve_runs_uvicorn_without_its_own_access_log(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setenv("SAMSYN_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))

    assert cli.main(["serve", "--no-demo", "--port", "8123"]) == 0

    [options] = calls
    assert options["port"] == 8123
    assert options["access_log"] is False and options["log_config"] is None
    assert "workers" not in options


def test_each_request_is_logged_once_with_its_account_and_status(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
                        demo_on_empty=False)
    with TestClient(create_app(settings)) as client, structlog.testing.capture_logs() as logs:
        client.get("/health")
        client.get("/v1/agreements/none-such")

    requests = [e for e in logs if e["event"] == "request"]
    assert [(e["path"], e["status"], e["account"]) for e in requests] == [
        ("/health", 200, "anonymous"), ("/v1/agreements/none-such", 404, "anonymous")]


def test_the_served_app_freezes_what_it_made_at_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    apps: list[Any] = []
    monkeypatch.setenv("SAMSYN_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: apps.append(app))
    assert cli.main(["serve", "--no-demo"]) == 0
    [app] = apps
    gc.unfreeze()
    try:
        with TestClient(app) as client:
            assert client.get("/ready").status_code == 200
            assert gc.get_freeze_count() > 0  # full collections skip the start-up objects
    finally:
        gc.unfreeze()


def test_an_app_made_elsewhere_leaves_the_collector_alone(tmp_path: Path) -> None:
    gc.unfreeze()
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
                        demo_on_empty=False)
    with TestClient(create_app(settings)) as client:
        assert client.get("/ready").status_code == 200
        assert gc.get_freeze_count() == 0
