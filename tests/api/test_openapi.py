"""The OpenAPI document is a contract an integrator can use offline and generate from."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from tests.api.conftest import Service


@pytest.fixture
def spec(service: Service) -> dict[str, Any]:
    document: dict[str, Any] = service.client.get("/openapi.json").json()
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in spec["paths"].items()
            for method, op in item.items()]


def test_swagger_ui_is_served_from_the_service_itself(service: Service) -> None:
    page = service.client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    for source in sources:
        assert service.client.get(source).status_code == 200, source


def test_every_operation_has_a_description_and_a_unique_id(spec: dict[str, Any]) -> None:
    ops = operations(spec)
    assert [f"{m} {p}" for p, m, op in ops if not op.get("description")] == []
    ids = Counter(op["operationId"] for _, _, op in ops)
    assert [i for i, n in ids.items() if n > 1] == []


def test_a_bearer_scheme_guards_recording_and_is_optional_for_reading(
    spec: dict[str, Any],
) -> None:
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearer"]["description"]}
    paths = spec["paths"]
    assert paths["/v1/decisions"]["post"]["security"] == [{"bearer": []}]
    assert paths["/v1/audit-trail"]["get"]["security"] == [{"bearer": []}]
    assert paths["/v1/decisions"]["get"]["security"] == [{}, {"bearer": []}]
    assert "security" not in paths["/health"]["get"]


def test_each_operation_lists_the_problems_it_can_answer(spec: dict[str, Any]) -> None:
    paths = spec["paths"]

    def errors(path: str, method: str) -> set[str]:
        return {s for s in paths[path][method]["responses"] if s[0] in "45"}

    assert errors("/health", "get") == {"500"}
    assert errors("/v1/decisions", "post") >= {"401", "403", "409", "413", "415", "422", "503"}
    assert errors("/v1/agreements", "get") == {"401", "422", "500", "503"}
    assert "404" in errors("/v1/agreements/{ref}", "get")
    assert "409" not in errors("/v1/agreements/{ref}", "get")
    for path, method, op in operations(spec):
        for status, answer in op["responses"].items():
            if status[0] in "45":
                schema = answer["content"]["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (path, method)


def test_every_schema_has_a_name_of_its_own(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert [name for name in schemas if "__" in name or name.endswith(("-Input", "-Output"))] \
        == []
    titles = Counter(schema.get("title", name) for name, schema in schemas.items())
    assert [t for t, n in titles.items() if n > 1] == []


@pytest.mark.parametrize("path", ["/v1/corrections", "/v1/voidings", "/v1/decisions"])
def test_recording_routes_carry_an_example(spec: dict[str, Any], path: str) -> None:
    content = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    (example,) = content["examples"].values()
    assert example["value"]["type"]


def test_the_import_route_carries_an_example_file(spec: dict[str, Any]) -> None:
    content = spec["paths"]["/v1/import"]["post"]["requestBody"]["content"]
    lines = content["application/x-ndjson"]["example"].splitlines()
    assert len(lines) == 2 and all(line.startswith('{"type": ') for line in lines)
