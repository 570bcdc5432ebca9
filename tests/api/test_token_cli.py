"""``samsyn token``: an operator creates, lists and revokes API accounts from the shell.

The command runs as a user runs it, in its own process, against a fresh store on each
backend (on PostgreSQL the test's schema comes first on the connection's search path).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.settings import Settings


def samsyn(store: tuple[Settings, str | None], *args: str) -> subprocess.CompletedProcess[str]:
    settings, schema = store
    env = os.environ | {"SAMSYN_DATABASE_URL": settings.database_url}
    if schema is not None:
        env["PGOPTIONS"] = f"-c search_path={schema}"
    return subprocess.run([sys.executable, "-m", "api.cli", "token", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@contextmanager
def service(store: tuple[Settings, str | None]) -> Iterator[TestClient]:
    settings, schema = store
    closed = settings.model_copy(update={"anonymous_read": False})
    with TestClient(create_app(closed, schema=schema)) as client:
        yield client


def test_a_created_token_is_shown_once_and_opens_the_api_until_revoked(
    store: tuple[Settings, str | None],
) -> None:
    created = samsyn(store, "create", "registrar-alfa", "--role", "registrar",
                     "--organisation", "Alfa", "--organisation", "Beta")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert len(token) >= 32 and "\n" not in token
    assert "shown only now" in created.stderr

    listed = samsyn(store, "list")
    assert listed.returncode == 0
    assert listed.stdout.splitlines() == ["registrar-alfa\tregistrar\tAlfa,Beta\t"]
    assert token not in listed.stdout  # only its hash is kept

    auth = {"Authorization": f"Bearer {token}"}
    with service(store) as client:
        assert client.get("/v1/events", headers=auth).status_code == httpx.codes.OK
    revoked = samsyn(store, "revoke", "registrar-alfa")
    assert (revoked.returncode, revoked.stdout.strip()) == (0, "revoked 'registrar-alfa'")
    with service(store) as client:  # (a running service notices within its 30 s cache)
        assert client.get("/v1/events", headers=auth).status_code == httpx.codes.UNAUTHORIZED
    assert samsyn(store, "list").stdout.splitlines() == [
        "registrar-alfa\tregistrar\tAlfa,Beta\trevoked"
    ]


@pytest.mark.parametrize("action", ["create", "revoke"])
def test_an_account_name_is_required_with_a_one_line_message(
    store: tuple[Settings, str | None], action: str
) -> None:
    result = samsyn(store, action)
    assert result.returncode == 2
    assert result.stderr == f"samsyn: token {action} needs an account name\n"


def test_revoking_an_unknown_account_fails_and_says_so(
    store: tuple[Settings, str | None],
) -> None:
    result = samsyn(store, "revoke", "nobody")
    assert result.returncode == 1
    assert result.stderr == "samsyn: no live account 'nobody'\n"
