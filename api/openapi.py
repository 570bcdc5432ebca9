"""The OpenAPI contract: security, the errors each operation can answer, and offline docs.

FastAPI derives the paths and models from the routes; this module adds what an integrator
needs to generate a working client and to read the contract without the internet:

- a bearer ``securitySchemes`` entry, required on the operations whose dependencies demand
  an account (recording, auditing) and optional elsewhere (anonymous reading may be on);
- per operation, only the problem answers it can give: 401/403 where an account is asked
  for, 404 where a path names something, 409/413/415 where a body is written, 422 where
  anything is parsed, 503 where the database is touched, 500 everywhere;
- Swagger UI at ``/docs``, served from the ``swagger-ui-bundle`` package: no CDN.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import swagger_ui_bundle
from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from api.auth import auditor, current_account, writer
from api.problems import PROBLEM_JSON, PROBLEM_SCHEMA

SCHEME = "bearer"
DOCS_ASSETS = "/static/swagger-ui"

#: What each problem status means, in the words the contract uses for it.
MEANING = {
    "400": "The request cannot be read",
    "401": "No valid bearer token, where one is needed",
    "403": "The account may not do this (role or organisation)",
    "404": "Nothing with that name or id (on the date asked about)",
    "409": "Conflicts with what is recorded (already recorded, If-Match version moved)",
    "413": "The body is larger than the service accepts",
    "415": "The body is not of a media type this operation reads",
    "422": "A field or parameter is invalid; `errors` names each one",
    "500": "The service failed; nothing you sent was wrong",
    "503": "The database is unavailable or catching up; retry after Retry-After",
}


def operation_id(route: APIRoute) -> str:
    """An operation's id is its route's name (``RecordDecision``, ``agreement``): short,
    stable, and what generated clients name their functions after."""
    return route.name


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _statuses(route: Any) -> set[str]:
    """The problem statuses ``route`` can answer with."""
    calls = set(_calls(route.dependant))
    statuses = {"500"}
    if route.path not in ("/health",):
        statuses.add("503")
    if current_account in calls:
        statuses.add("401")
    if calls & {writer, auditor}:
        statuses.add("403")
    if route.dependant.path_params:
        statuses.add("404")
    if route.dependant.path_params or route.dependant.query_params or \
            route.dependant.header_params or route.dependant.body_params:
        statuses.add("422")
    if route.dependant.body_params or "POST" in route.methods:
        statuses |= {"400", "409", "413", "415", "422"} if writer in calls else {"422"}
    statuses |= {str(code) for code in route.responses if str(code)[0] in "45"}
    return statuses


def _security(route: Any) -> list[dict[str, list[str]]] | None:
    calls = set(_calls(route.dependant))
    if calls & {writer, auditor}:
        return [{SCHEME: []}]
    if current_account in calls:
        return [{}, {SCHEME: []}]
    return None


def _operations(app: FastAPI) -> dict[tuple[str, str], Any]:
    """Each documented (path, method) and its route, routers' prefixes and dependencies
    included, as FastAPI itself walks them for the document."""
    found: dict[tuple[str, str], Any] = {}
    for context in routing.iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and context.include_in_schema:
            for method in context.methods:
                found[(context.path_format, method.lower())] = context
    return found


def _plain_names(spec: dict[str, Any]) -> dict[str, Any]:
    """Give every schema a name of its own: two classes of one name (a command's
    ``DecisionPoint`` and the register's) come out of FastAPI as ``module__Class`` with the
    same title, which client generators refuse as duplicates. The command keeps the plain
    name (it is what clients send); another gets its module's name in front."""
    schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})
    renamed: dict[str, str] = {}
    for name in list(schemas):
        if "__" not in name:
            continue
        *modules, cls = name.split("__")
        plain = cls if modules[:2] == ["ledger", "commands"] else \
            "".join(part.title() for part in modules[-1].split("_")) + cls
        renamed[name] = plain
        schemas[plain] = {**schemas.pop(name), "title": plain}
    if not renamed:
        return spec
    text = json.dumps(spec)
    for old, new in renamed.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    result: dict[str, Any] = json.loads(text)
    return result


def build(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of ``app``, with security and per-operation problems."""
    spec = get_openapi(title=app.title, version=app.version, summary=app.summary,
                       description=app.description, routes=app.routes,
                       separate_input_output_schemas=app.separate_input_output_schemas)
    components = spec.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = {SCHEME: {
        "type": "http", "scheme": "bearer",
        "description": "An account's token from `samsyn token create`. Reading is open to "
                       "anonymous callers unless the service turns it off."}}
    routes = _operations(app)
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            route = routes.get((path, method))
            if route is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in list(responses):
                if status[0] in "45":
                    del responses[status]
            for status in sorted(_statuses(route)):
                responses[status] = {
                    "description": MEANING.get(status, f"Problem ({status})"),
                    "content": {PROBLEM_JSON: {
                        "schema": {"$ref": "#/components/schemas/Problem"}}},
                }
            security = _security(route)
            if security is not None:
                operation["security"] = security
    return _plain_names(spec)


def document(app: FastAPI) -> None:
    """Serve the contract built by :func:`build` at ``/openapi.json``."""

    def openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Samsyn API</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""

DOCS_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
});
"""


def mount_docs(app: FastAPI) -> None:
    """Swagger UI at ``/docs`` from the installed package, nothing from another origin."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
              name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE.format(assets=DOCS_ASSETS))

    @app.get("/docs/init.js", include_in_schema=False)
    def docs_init() -> HTMLResponse:
        return HTMLResponse(DOCS_INIT, media_type="text/javascript")
