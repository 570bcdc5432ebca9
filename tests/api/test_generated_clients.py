"""Integrators generate working clients from the OpenAPI document alone.

The document is written to a file, `openapi-python-client` and `datamodel-code-generator`
make code from it, and that code records a decision against a running service and reads
it back, on both backends. Nothing of Samsyn's own Python is imported by the generated
code.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.conftest import Service
from tests.api.live import live_server

BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is part of the test dependencies (pip install -e '.[test]')"
    return found


@pytest.fixture
def spec_file(service: Service, tmp_path: Path) -> Path:
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(service.client.get("/openapi.json").json()), "utf-8")
    return path


@pytest.fixture
def generated(spec_file: Path, tmp_path: Path) -> Iterator[Any]:
    """The package `openapi-python-client` writes from the document, imported."""
    out = tmp_path / "generated"
    out.mkdir()
    subprocess.run([_tool("openapi-python-client"), "generate", "--path", str(spec_file),
                    "--meta", "none", "--output-path", str(out / "samsyn_client")],
                   check=True, capture_output=True, cwd=out)
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("samsyn_client")
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m.split(".")[0] == "samsyn_client"]:
            del sys.modules[name]


DECISION = {
    "type": "RecordDecision", "organisation": "Alfa", "body": "KS",
    "ref": "Alfa KS 2022-02-02 klient",
    "decided_on": "2022-02-02",
    "points": [{"number": 1, "text": "Ett uppdrag ges.", "effects": [
        {"effect": "give_assignment", "assignment": "Alfa/klient-uppdrag",
         "owner": "Kommundirektören", "task": "Rapportera", "due_on": "2022-06-30"}]}],
}


def _app(service: Service) -> FastAPI:
    app = service.client.app
    assert isinstance(app, FastAPI)
    return app


def test_a_generated_client_records_a_decision_and_reads_it_back(
    service: Service, generated: Any
) -> None:
    record = importlib.import_module(
        "samsyn_client.api.registrar.record_decision")
    read = importlib.import_module("samsyn_client.api.dashboard.decision")
    models = importlib.import_module("samsyn_client.models")
    with live_server(_app(service)) as url:
        client = generated.AuthenticatedClient(base_url=url,
                                               token=service.tokens["registrar-alfa"])
        receipt = record.sync(client=client, body=models.RecordDecision.from_dict(DECISION))
        assert receipt is not None and receipt.entries
        runner = _app(service).state.runner
        runner.wait_until(receipt.entries[-1].position, timeout=30)
        anonymous = generated.Client(base_url=url)
        decision = read.sync(client=anonymous, ref=DECISION["ref"])
    assert decision is not None
    assert decision.ref == DECISION["ref"]
    assert decision.decided_on.isoformat() == "2022-02-02"
    assert [p.text for p in decision.points] == ["Ett uppdrag ges."]


def test_a_generated_client_is_refused_with_a_problem_naming_the_field(
    service: Service, generated: Any
) -> None:
    record = importlib.import_module(
        "samsyn_client.api.registrar.record_decision")
    models = importlib.import_module("samsyn_client.models")
    with live_server(_app(service)) as url:
        client = generated.AuthenticatedClient(base_url=url,
                                               token=service.tokens["registrar-alfa"])
        refused = record.sync_detailed(
            client=client, body=models.RecordDecision.from_dict({**DECISION, "body": "XX"}))
    assert refused.status_code == 422
    problem = json.loads(refused.content)
    assert problem["status"] == 422 and problem["errors"][0]["field"]


def test_generated_pydantic_models_read_what_the_service_answers(
    service: Service, spec_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "samsyn_models.py"
    subprocess.run([_tool("datamodel-codegen"), "--input", str(spec_file),
                    "--input-file-type", "openapi",
                    "--output-model-type", "pydantic_v2.BaseModel", "--output", str(out)],
                   check=True, capture_output=True)
    sys.path.insert(0, str(tmp_path))
    try:
        models = importlib.import_module("samsyn_models")
        client: TestClient = service.client
        sent = client.post("/v1/decisions", json=DECISION,
                           headers=service.auth("registrar-alfa"))
        assert sent.status_code == 201, sent.text
        receipt = models.ReceiptModel.model_validate(sent.json())
        _app(service).state.runner.wait_until(receipt.entries[-1].position, timeout=30)
        answered = client.get(f"/v1/decisions/{DECISION['ref']}")
        decision = models.DecisionEntry.model_validate(answered.json())
        models.RecordDecision.model_validate(DECISION)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("samsyn_models", None)
    assert decision.ref == DECISION["ref"]
