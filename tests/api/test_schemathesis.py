"""Property-based run of the API against its own OpenAPI: no 5xx, no answer that breaks
the schema it declares. Bounded so that it runs in CI in about a minute."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.accounts import AccountStore
from api.app import create_app
from ledger.application import Ledger
from ledger.importing import load_demo
from ledger.settings import Settings
from ledger.storage import persistence_env

_dir = Path(tempfile.mkdtemp(prefix="samsyn-schemathesis-"))
_settings = Settings(database_url=f"sqlite:///{_dir / 'ledger.sqlite3'}", demo_on_empty=False)
_ledger = Ledger(env=persistence_env(_settings))
load_demo(_ledger)
_token = AccountStore(_settings).create("fuzzer", "admin", [])
app = create_app(_settings, _ledger)

schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_the_api_keeps_its_own_contract(case: schemathesis.Case) -> None:
    if case.path == "/v1/events/stream":
        return  # an endless stream; covered by tests/api/test_stream.py
    # A schema-valid command may still break a rule of the record (a duplicate, a date
    # before a meeting): 409/422 are right answers then, so positive acceptance is not checked.
    case.call_and_validate(headers={"Authorization": f"Bearer {_token}"},
                           excluded_checks=[positive_data_acceptance])
