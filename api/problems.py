"""RFC 9457 problem details: every 4xx and 5xx answer says what is wrong and where."""

from __future__ import annotations

import re
from typing import Any

import structlog
from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import (
    AlreadyRecorded,
    ConflictError,
    IdempotencyKeyReused,
    InvalidCommand,
    NotCaughtUp,
    NotPermitted,
    RuleViolation,
    SamsynError,
    StoreUnavailable,
    UnknownReference,
)
from ledger.integrity.errors import HistoryRegressed, KeyIdentityError

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://samsyn.se/problems/"

STATUS: dict[type[SamsynError], int] = {
    InvalidCommand: 422,
    UnknownReference: 422,
    RuleViolation: 422,
    AlreadyRecorded: 409,
    ConflictError: 409,
    IdempotencyKeyReused: 422,
    NotPermitted: 403,
    StoreUnavailable: 503,
    HistoryRegressed: 503,
    KeyIdentityError: 503,
    NotCaughtUp: 503,
}

log = structlog.get_logger("samsyn.api")


def problem(
    status: int, kind: str, title: str, detail: str, errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None, extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    """A problem document; ``extensions`` are further members (RFC 9457, section 3.2)."""
    body: dict[str, Any] = {"type": TYPE_BASE + kind, "title": title, "status": status,
                            "detail": detail, **(extensions or {})}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the API documents at ``path`` (one path may be served by several
    routes, a registrar's POST and a dashboard's GET)."""
    paths: dict[str, dict[str, Any]] = app.openapi().get("paths", {})
    if path in paths:  # a literal path is answered by its own operations only
        return sorted(m.upper() for m in paths[path] if m.isalpha())
    methods: set[str] = set()
    for template, operations in paths.items():
        pattern = re.sub(r"\{[^}:]+(:path)?\}",
                         lambda m: ".+" if m.group(1) else "[^/]+", template)
        if re.fullmatch(pattern, path):
            methods |= {m.upper() for m in operations if m.isalpha()}
    return sorted(methods)


def status_of(error: SamsynError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def install(app: FastAPI) -> None:
    """Answer every error as application/problem+json."""

    @app.exception_handler(SamsynError)
    async def samsyn_error(request: Request, error: SamsynError) -> JSONResponse:
        status = status_of(error)
        retry = "1" if isinstance(error, NotCaughtUp) else "5"
        headers = {"Retry-After": retry} if status == 503 else None
        return problem(status, error.kind, error.title, error.detail,
                       [{"field": p.field, "reason": p.reason} for p in error.problems], headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in item["loc"]), "reason": item["msg"]}
            for item in error.errors()
        ]
        return problem(422, "invalid-request", "Invalid request",
                       f"{len(errors)} problem(s) in the request", errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app, request.url.path))
        detail = str(error.detail)
        if isinstance(error.__cause__, RecursionError):  # FastAPI's JSON parser gave up
            detail = "the body nests too deeply to be parsed"
        errors = ([{"field": "body", "reason": detail}]
                  if error.status_code == 413 or detail != str(error.detail) else None)
        return problem(error.status_code, f"http-{error.status_code}", str(error.detail),
                       detail, errors, headers=headers)

    @app.exception_handler(PersistenceError)
    async def store_error(request: Request, error: PersistenceError) -> JSONResponse:
        log.warning("store unavailable", path=request.url.path, error=str(error))
        return problem(503, StoreUnavailable.kind, StoreUnavailable.title,
                       "the ledger store is unavailable; nothing was written",
                       headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error", path=request.url.path)
        return problem(500, "internal-error", "Internal error",
                       "the service failed unexpectedly; nothing you sent was wrong")


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}
