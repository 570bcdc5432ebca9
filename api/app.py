"""The FastAPI application: wiring of settings, the ledger, logging and the routes."""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any

import structlog
from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import __version__, openapi, problems
from api import dashboard as dashboard_page
from api.accounts import AccountStore
from api.oparl import router as oparl_router
from api.reading import ReadSources
from api.routes import dashboard, entries, feed, imports, integrity, registrar
from ledger.application import Ledger
from ledger.errors import StoreUnavailable
from ledger.group_commit import GroupCommitter
from ledger.importing import load_demo
from ledger.integrity.log import IntegrityLog
from ledger.integrity.sealer import Sealer
from ledger.integrity.witnessing import Witnessing
from ledger.leadership import Leadership, process_name
from ledger.logs import configure_logging
from ledger.settings import Settings, get_settings
from ledger.storage import persistence_env
from projections.failures import ReadModelFailed
from projections.queries import ReadModels
from projections.runner import ProjectionRunner

log = structlog.get_logger("samsyn.api")

#: Seconds the sealer's last round may take when the service stops (the rest is sealed later).
STOP_SECONDS = 1.5

#: How far (in entries) the read models may trail the ledger for the service to be ready.
READY_LAG = 1000


def open_ledger(settings: Settings, schema: str | None = None) -> Ledger:
    """The ledger on the configured store, with the demo history if it is empty and wanted."""
    ledger = Ledger(env=persistence_env(settings, schema=schema))
    if settings.demo_on_empty and ledger.max_position() == 0:
        receipts = load_demo(ledger)
        log.info("demo history loaded", commands=len(receipts), head=ledger.max_position())
    return ledger


class RequestContext:
    """Carry X-Request-ID (given or made) through every log line and back; log each request
    once (``samsyn serve`` turns uvicorn's own access log off).

    Plain ASGI rather than ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware``
    runs every request in a task group of its own and re-streams the response (18 % of the
    service's profile under load on ``GET /health``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = next((value.decode("latin-1") for name, value in scope["headers"]
                           if name == b"x-request-id"), None) or uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)
        client = scope.get("client")
        log.info("request", method=scope["method"], path=scope["path"], status=status,
                 client=client[0] if client else None,
                 account=scope.get("state", {}).get("account", "anonymous"),
                 ms=round((time.perf_counter() - started) * 1000, 1))


class BodyTooLarge(HTTPException):
    """A request body grew past its limit while it was being received."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body is larger than {limit} bytes")


class BodyLimit:
    """Refuse a request body larger than its limit before a byte of it is parsed, and before
    authentication: at once when ``Content-Length`` says so, and as soon as a body streamed
    without one grows past it. Imports (``/v1/import``) have a larger limit of their own.

    Without it, 100 MB posted by anyone were read and parsed whole (1.1 GB at the peak)
    before the request was found unauthenticated.
    """

    def __init__(self, app: ASGIApp, limit: int, limits: dict[str, int]) -> None:
        self.app = app
        self.limit = limit
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.limit)
        declared = next((value for name, value in scope["headers"]
                         if name == b"content-length"), None)
        if declared is not None and (not declared.strip().isdigit() or int(declared) > limit):
            response = problems.problem(
                413, "http-413", "Content Too Large", f"the body is larger than {limit} bytes",
                [{"field": "body", "reason": f"at most {limit} bytes"}])
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)


def ready(request: Request) -> dict[str, Any] | JSONResponse:
    """Ready when the database answers, no read model has set aside an entry it failed
    on, and the read models are within ``READY_LAG`` entries of the ledger's head.
    ``roles`` says what this process (``process``) is for the projector and the sealer:
    leader, standby, or off (run elsewhere).

    Not ready (503) names each read model and the position of each entry it failed on,
    also as ``failures`` (read model, position, error, since, attempts)."""
    ledger: Ledger = request.app.state.ledger
    read_models: ReadModels = request.app.state.read_models
    try:
        head = ledger.max_position()
        projected = read_models.position()
        failing = read_models.failures()
    except PersistenceError as e:
        raise StoreUnavailable(f"the ledger store is unavailable: {e}") from e
    regressed = request.app.state.integrity.regressed
    if regressed is not None:
        raise HTTPException(503, f"the ledger's history moved backwards: {regressed}")
    if failing:
        return problems.problem(
            503, ReadModelFailed.kind, ReadModelFailed.title,
            "; ".join(f.line() for f in failing[:10]),
            [{"field": f"read_models.{f.read_model}",
              "reason": f"failed on the entry at position {f.position}: {f.error}"}
             for f in failing[:100]],
            headers={"Retry-After": "30"},
            extensions={"head": head, "read_models": projected,
                        "failures": [asdict(f) for f in failing[:100]]},
        )
    if head - projected > READY_LAG:
        raise HTTPException(503, f"the read models are {head - projected} entries behind",
                            headers={"Retry-After": "2"})
    return {"status": "ready", "head": head, "read_models": projected,
            "process": process_name(), "roles": roles(request.app)}


def start_projector(settings: Settings, schema: str | None,
                    ledger: Ledger) -> ProjectionRunner | None:
    """The read models' runner of this process, competing to lead the projector role; None
    when the read models are kept by another process (``samsyn project``)."""
    if not settings.projections_in_process:
        return None
    runner = ProjectionRunner(settings, schema=schema, ledger=ledger,
                              leadership=Leadership(settings, "projector", schema=schema))
    runner.start()
    return runner


def create_app(
    settings: Settings | None = None,
    ledger: Ledger | None = None,
    schema: str | None = None,
    *,
    freeze_heap: bool = False,
    on_stop: Callable[[], None] | None = None,
) -> FastAPI:
    """The service. Tests pass their own ``ledger`` (and PostgreSQL ``schema``).

    ``freeze_heap`` (the service's own process, ``samsyn serve``): once started, every
    object alive (modules, the ledger, pools) is moved out of the garbage collector's sight
    with :func:`gc.freeze`, so that its full collections no longer walk them. They ran in
    the middle of answers: p99 of a past agreement's status at 1M entries 46-59 ms with
    them, 28 ms frozen, 22 ms without collections at all.

    ``on_stop`` is called first when the service stops (``samsyn serve`` ends the process
    there if an import abandoned by the graceful shutdown is still being recorded, so that
    it rolls back rather than commit during the stop).
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = ledger is None
        if owned:
            attach(app, open_ledger(settings, schema))
        runner = app.state.runner = start_projector(settings, schema, app.state.ledger)
        integrity_log = IntegrityLog(settings, schema=schema, ledger=app.state.ledger)
        integrity_log.guard(app.state.ledger)
        sealer = None
        if settings.seal_in_process:
            sealer = Sealer(integrity_log, app.state.ledger,
                            checkpoint_every=settings.checkpoint_interval,
                            witnessing=Witnessing.from_settings(integrity_log, settings),
                            leadership=Leadership(settings, "sealer", schema=schema))
            sealer.start()
        app.state.integrity = integrity_log
        app.state.sealer = sealer
        log.info("samsyn ready", database="postgresql" if settings.is_postgres else "sqlite",
                 head=app.state.ledger.max_position(), public_key=integrity_log.public_key)
        if freeze_heap:
            gc.collect()
            gc.freeze()
        yield
        if on_stop is not None:  # first, before stopping what may take its time
            on_stop()
        if sealer is not None:  # its last round bounded, so that a stop ends within 10 s
            sealer.stop(final_seconds=STOP_SECONDS)
        integrity_log.close()
        if runner is not None:
            runner.stop()
        app.state.read_sources.close()
        if owned:
            app.state.read_models.close()
            app.state.accounts.close()
            app.state.ledger.close()

    def attach(app: FastAPI, opened: Ledger) -> None:
        app.state.ledger = opened
        app.state.accounts = AccountStore(settings, schema)
        app.state.committer = GroupCommitter(opened)
        app.state.read_models = ReadModels(settings, schema=schema)
        app.state.read_sources = ReadSources.open(settings, schema, app.state.read_models,
                                                  opened)

    app = FastAPI(
        title="Samsyn",
        summary="An event-sourced decision ledger for public bodies that govern together.",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        separate_input_output_schemas=False,
        generate_unique_id_function=openapi.operation_id,
    )
    app.state.settings = settings
    app.state.runner = app.state.sealer = None
    if ledger is not None:
        attach(app, ledger)
    problems.install(app)
    openapi.document(app)
    openapi.mount_docs(app)

    app.add_middleware(BodyLimit, limit=settings.max_body_bytes,
                       limits={"/v1/import": settings.max_import_bytes})
    app.add_middleware(RequestContext)

    @app.get("/health", tags=["operations"], summary="The process is up")
    def health() -> dict[str, str]:
        """Answers as long as the process runs, without touching the database: for a
        liveness probe. Use ``/ready`` to know whether it can serve."""
        return {"status": "ok"}

    app.add_api_route("/ready", ready, methods=["GET"], tags=["operations"],
                      summary="The database answers", responses={503: {}}, response_model=None)

    app.include_router(feed.router)
    app.include_router(entries.router)
    app.include_router(registrar.router)
    app.include_router(imports.router)
    app.include_router(dashboard.router)
    app.include_router(integrity.router)
    app.include_router(dashboard_page.router)
    app.include_router(oparl_router)
    app.mount(dashboard_page.STATIC_PATH, dashboard_page.static_files(), name="dashboard-static")
    return app


def prepare_store(settings: Settings, schema: str | None = None) -> None:
    """Make what the service processes share, once, before they start: the ledger's tables
    (and the demo, if wanted), the read models' and the integrity log's, the signing key."""
    open_ledger(settings, schema).close()
    ReadModels(settings, schema=schema).close()
    IntegrityLog(settings, schema=schema).close()
    AccountStore(settings, schema)


def served_app() -> FastAPI:
    """The service of one worker of ``samsyn serve --workers N``, configured from the
    environment (uvicorn calls this in each worker process)."""
    settings = get_settings()
    configure(settings)
    return create_app(settings, freeze_heap=True)


def roles(app: FastAPI) -> dict[str, str]:
    """What this process is for each role: leader, standby, or off (not run here)."""
    runner: ProjectionRunner | None = app.state.runner
    sealer: Sealer | None = app.state.sealer

    def state(follower: ProjectionRunner | Sealer | None) -> str:
        if follower is None:
            return "off"
        return "leader" if follower.leading else "standby"

    return {"projector": state(runner), "sealer": state(sealer)}


def configure(settings: Settings) -> None:
    configure_logging(settings.log_format, settings.log_level)
