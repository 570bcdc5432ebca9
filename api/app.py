"""The FastAPI application: wiring of settings, the ledger, logging and the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from api import problems
from api.accounts import AccountStore
from api.routes import entries, feed, registrar
from ledger.application import Ledger
from ledger.importing import load_demo
from ledger.logs import configure_logging
from ledger.settings import Settings, get_settings
from ledger.storage import persistence_env

log = structlog.get_logger("samsyn.api")


def open_ledger(settings: Settings, schema: str | None = None) -> Ledger:
    """The ledger on the configured store, with the demo history if it is empty and wanted."""
    ledger = Ledger(env=persistence_env(settings, schema=schema))
    if settings.demo_on_empty and ledger.max_position() == 0:
        receipts = load_demo(ledger)
        log.info("demo history loaded", commands=len(receipts), head=ledger.max_position())
    return ledger


def create_app(
    settings: Settings | None = None,
    ledger: Ledger | None = None,
    schema: str | None = None,
) -> FastAPI:
    """The service. Tests pass their own ``ledger`` (and PostgreSQL ``schema``)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = ledger is None
        app.state.ledger = ledger or open_ledger(settings, schema)
        app.state.accounts = AccountStore(settings, schema)
        log.info("samsyn ready", database="postgresql" if settings.is_postgres else "sqlite",
                 head=app.state.ledger.max_position())
        yield
        if owned:
            app.state.ledger.close()

    app = FastAPI(
        title="Samsyn",
        summary="An event-sourced decision ledger for public bodies that govern together.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    problems.install(app)

    @app.get("/health", tags=["operations"], summary="The process is up")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(feed.router)
    app.include_router(entries.router)
    app.include_router(registrar.router)
    return app


def configure(settings: Settings) -> None:
    configure_logging(settings.log_format, settings.log_level)
