"""Registrars writing at once, correcting the same entries (409s, re-read, retry) and
retrying with their idempotency keys: nothing lost, nothing twice, no 5xx."""

from __future__ import annotations

from fastapi import FastAPI

from api.accounts import AccountStore
from api.app import create_app
from ledger.settings import Settings
from tests.api.live import live_server
from tests.faults.harness import (
    Registrars,
    assert_nothing_lost,
    read_feed,
    reference_data,
    report,
)

REGISTRARS = 12
OPERATIONS = 25


def test_concurrent_registrars_with_conflicts_and_retries(
    store: tuple[Settings, str | None],
) -> None:
    settings, schema = store
    settings = settings.model_copy(update={"demo_on_empty": False})
    token = AccountStore(settings, schema).create("registrar", "admin", [])
    app: FastAPI = create_app(settings, schema=schema)
    with live_server(app) as url:
        shared = reference_data(url, token)
        with Registrars(url, token, REGISTRARS, shared, per_registrar=OPERATIONS) as registrars:
            registrars.wait()
        findings = read_feed(url, token, registrars.tally)

    report(f"concurrent writers ({settings.database_url.split(':')[0]})", registrars.tally,
           findings, registrars=REGISTRARS)
    assert registrars.tally.answers[409] > 0  # the shared entries did conflict
    assert_nothing_lost(registrars.tally, findings)
