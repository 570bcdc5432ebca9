"""An entry a read model cannot apply is set aside and reported; nothing else stops.

The door refuses such entries at the API; these tests put them straight into the store
(through the aggregate, as an older version or another writer might have), to show that
whatever got in can never wedge the read models: the failing read model sets the entry
aside, the others and its own later entries go on, ``/ready`` answers 503 naming the read
model and the position, ``samsyn status`` and ``samsyn rebuild`` say so in one line, and
after a fix the runner applies the entry.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.application import Ledger
from ledger.domain.base import RecordingContext, recording
from ledger.domain.motion import Motion
from projections.agreement_status import AgreementStatusModel
from projections.audit_trail import AuditTrailModel
from projections.facts import key
from projections.failures import ReadModelFailed
from projections.queries import ReadModels
from projections.rebuilding import rebuild
from tests.projections import scenario as s
from tests.projections.conftest import Clock, Registrar, Store, fresh_store

AGREEMENT = {"type": "RegisterAgreement", "title": "Avtal", "parties": ["RJH", "Berg"],
             "valid_from": "2020-01-01"}


def inject_motion(ledger: Ledger, ref: str, number: int, text: str = "point") -> int:
    """Append a motion whose point the door would refuse; answer its position."""
    with recording(RecordingContext(recorded_by="older-writer")):
        motion = Motion.table(ref, "RJH", "RS", "director", None, date(2021, 3, 1),
                              [{"number": number, "text": text}], None)
        ledger.save(motion)
    return ledger.max_position()


def hostile(store: Store, ledger: Ledger) -> int:
    """An entry the audit trail cannot file on this backend: an integer beyond 64 bits (JSON
    of the read models), on PostgreSQL also a NUL in a reference (text columns)."""
    inject_motion(ledger, "M big", 10**30)
    if store.backend == "postgres":
        return inject_motion(ledger, "M\x00B", 1)
    return ledger.max_position()


def agreement(registrar: Registrar, ref: str) -> int:
    return registrar.record({**AGREEMENT, "ref": ref}).positions[-1]


def service(store: Store, ledger: Ledger) -> TestClient:
    settings = store.settings.model_copy(update={"demo_on_empty": False,
                                                 "projections_in_process": False,
                                                 "seal_in_process": False})
    return TestClient(create_app(settings, ledger, store.schema))


def test_an_entry_the_audit_trail_cannot_file_is_set_aside_and_the_rest_goes_on(
    store: Store, registrar: Registrar, caplog: pytest.LogCaptureFixture
) -> None:
    s.reference_data(registrar)
    agreement(registrar, "Before")
    first_bad = registrar.ledger.max_position() + 1
    last_bad = hostile(store, registrar.ledger)
    head = agreement(registrar, "After")

    store.runner().run_once()

    read_models = store.read_models()
    assert read_models.position() == head
    assert read_models.agreement_status("After", as_of=date(2021, 1, 1)) is not None
    failing = read_models.failures()
    assert [(f.read_model, f.position) for f in failing] == [
        ("audit", p) for p in range(first_bad, last_bad + 1)
    ]
    assert "Integer exceeds 64-bit range" in failing[0].error


def test_ready_answers_503_naming_the_read_model_and_the_position(
    store: Store, registrar: Registrar
) -> None:
    s.reference_data(registrar)
    bad = inject_motion(registrar.ledger, "M big", 10**30)
    store.runner().run_once()

    with service(store, registrar.ledger) as client:
        response = client.get("/ready")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/read-model-failed")
    assert f"read model audit failed on the entry at position {bad}" in body["detail"]
    assert body["errors"][0]["field"] == "read_models.audit"
    assert body["failures"][0]["position"] == bad
    assert body["failures"][0]["read_model"] == "audit"


def test_a_folded_read_model_failing_on_an_entry_stops_neither_itself_nor_the_others(
    store: Store, registrar: Registrar, monkeypatch: pytest.MonkeyPatch
) -> None:
    s.reference_data(registrar)
    fold = AgreementStatusModel.fold

    def fold_failing_on_b(self: AgreementStatusModel, entity: str, loader: Any) -> Any:
        if entity == key("agreement", "B"):
            raise ValueError("a fold that cannot take this agreement")
        return fold(self, entity, loader)

    monkeypatch.setattr(AgreementStatusModel, "fold", fold_failing_on_b)
    agreement(registrar, "A")
    b = agreement(registrar, "B")
    c = agreement(registrar, "C")
    store.runner().run_once()

    read_models = store.read_models()
    assert read_models.position() == c
    assert [(f.read_model, f.position) for f in read_models.failures()] == [("agreements", b)]
    assert read_models.agreement_status("C", as_of=date(2021, 1, 1)) is not None
    assert read_models.agreement_status("B", as_of=date(2021, 1, 1)) is None
    assert [e.position for e in read_models.audit_trail(limit=100)][-3:] == [b - 1, b, c]

    monkeypatch.setattr(AgreementStatusModel, "fold", fold)  # the fix, as after an upgrade
    store.runner().run_once()  # a runner that starts tries the entries set aside at once

    assert read_models.failures() == []
    assert read_models.agreement_status("B", as_of=date(2021, 1, 1)) is not None


def test_an_entry_still_failing_is_counted_each_time_it_is_tried(
    store: Store, registrar: Registrar
) -> None:
    s.reference_data(registrar)
    bad = inject_motion(registrar.ledger, "M big", 10**30)
    store.runner().run_once()
    store.runner().run_once()

    (failure,) = store.read_models().failures()
    assert (failure.position, failure.attempts) == (bad, 2)


def test_rebuild_stops_on_the_entry_and_names_it(store: Store, registrar: Registrar) -> None:
    s.reference_data(registrar)
    bad = inject_motion(registrar.ledger, "M big", 10**30)
    agreement(registrar, "After")

    with pytest.raises(ReadModelFailed) as raised:
        rebuild(store.settings, schema=store.schema)

    assert raised.value.failure.position == bad
    assert raised.value.failure.read_model == "audit"


def samsyn(store: Store, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"SAMSYN_DATABASE_URL": store.settings.database_url,
                        "SAMSYN_LOG_LEVEL": "CRITICAL"}
    return subprocess.run([sys.executable, "-m", "api.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_command_line_reports_the_failing_entry_in_one_line(tmp_path: Path) -> None:
    """(The command works on the configured database: on PostgreSQL its public schema, which
    tests leave alone; what it reports is read as above on both backends.)"""
    with fresh_store("sqlite", tmp_path) as store:
        clock = Clock()
        registrar = Registrar(store.ledger(clock), clock)
        report_in_one_line(store, registrar)


def report_in_one_line(store: Store, registrar: Registrar) -> None:
    s.reference_data(registrar)
    bad = inject_motion(registrar.ledger, "M big", 10**30)
    store.runner().run_once()

    status = samsyn(store, "status")
    rebuilt = samsyn(store, "rebuild")

    assert status.returncode == 1
    assert f"ledger head {bad}" in status.stdout
    assert status.stderr.strip() == (
        f"samsyn: read model audit failed on the entry at position {bad}: "
        "TypeError: Integer exceeds 64-bit range since "
        f"{ReadModels(store.settings, schema=store.schema).failures()[0].first_failed_at}"
    )
    assert rebuilt.returncode == 1
    assert rebuilt.stderr.strip().splitlines()[-1] == (
        f"samsyn: read model audit failed on the entry at position {bad}: "
        "TypeError: Integer exceeds 64-bit range"
    )


def test_a_read_model_of_another_version_whose_rebuild_fails_is_reported(
    store: Store, registrar: Registrar, monkeypatch: pytest.MonkeyPatch
) -> None:
    s.reference_data(registrar)
    bad = inject_motion(registrar.ledger, "M big", 10**30)
    store.runner().run_once()
    monkeypatch.setattr(AuditTrailModel, "version", AuditTrailModel.version + 1)

    assert store.runner().run_once() == 0

    assert [(f.read_model, f.position, f.attempts) for f in store.read_models().failures()
            ] == [("audit", bad, 2)]
