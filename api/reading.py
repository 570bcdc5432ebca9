"""Where reads are served from (the primary or its replicas), and reading one's own writes.

The read models and the feed are read from the primary, or, with
``SAMSYN_READ_DATABASE_URL``, from PostgreSQL streaming replicas, one after the other
(round robin); writes, the entries' histories, leadership and sealing stay on the primary.

A replica, like the read models themselves, trails the ledger. Every 201 therefore names
the ledger position its command reached (``X-Samsyn-Position``, and ``ledger_position`` in
the body), and a read given that position (``min_position``, or the
``X-Samsyn-Min-Position`` header) answers only once what serves it has reached it: the read
models, for the dashboard's routes; the replicated ledger, for the feed. It waits at most
``read_wait`` seconds, then answers 503 (``not-caught-up``) with ``Retry-After``. A
position beyond the ledger's last one (on the primary) is no position a 201 named: 422.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from starlette.concurrency import run_in_threadpool

from api.routes import MAX_POSITION
from ledger.application import Ledger
from ledger.errors import InvalidCommand, NotCaughtUp, Problem
from ledger.settings import Settings
from ledger.storage import persistence_env
from projections.queries import ReadModels

POSITION_HEADER = "X-Samsyn-Position"
"""Response header of a 201: the ledger position the command reached."""

MIN_POSITION_HEADER = "X-Samsyn-Min-Position"
"""Request header of a read: answer only from data that has reached this position."""

POLL_SECONDS = 0.02
"""How often a waiting read looks again at the position reached."""


@dataclass
class ReadSource:
    """One database the read routes can be served from."""

    name: str
    read_models: ReadModels
    ledger: Ledger
    owned: bool = False

    def close(self) -> None:
        if self.owned:
            self.read_models.close()
            self.ledger.close()


def open_replica(settings: Settings, url: str, schema: str | None, name: str) -> ReadSource:
    """The read models and the ledger on the replica at ``url``: nothing is created there,
    the primary's tables arrive by replication."""
    replica = settings.model_copy(update={"database_url": url})
    env = persistence_env(replica, schema=schema) | {"CREATE_TABLE": "n"}
    return ReadSource(name, ReadModels(replica, schema=schema, create=False),
                      Ledger(env=env), owned=True)


class ReadSources:
    """The primary and the configured replicas; :meth:`pick` answers the next to read from."""

    def __init__(self, primary: ReadSource, replicas: list[ReadSource]) -> None:
        self.primary = primary
        self.replicas = replicas
        self._turn = itertools.cycle(replicas or [primary])

    @classmethod
    def open(cls, settings: Settings, schema: str | None, read_models: ReadModels,
             ledger: Ledger) -> ReadSources:
        replicas: list[ReadSource] = []
        try:
            for number, url in enumerate(settings.read_database_urls, start=1):
                replicas.append(open_replica(settings, url, schema, f"replica {number}"))
        except Exception:
            for opened in replicas:
                opened.close()
            raise
        return cls(ReadSource("primary", read_models, ledger), replicas)

    def pick(self) -> ReadSource:
        return next(self._turn)

    def close(self) -> None:
        for source in self.replicas:
            source.close()


async def min_position(
    request: Request,
    position: Annotated[int | None, Query(
        alias="min_position", ge=0, le=MAX_POSITION,
        description="Answer only once the data read has reached this ledger position (the "
        "`ledger_position` of a 201); wait at most a few seconds, else 503.")] = None,
    header: Annotated[str | None, Header(
        alias=MIN_POSITION_HEADER, description="As `min_position`.")] = None,
) -> int | None:
    """The position a read must reach, from the query or the header (the larger)."""
    if header is not None:
        text = header.strip()
        if not text.isdigit() or int(text) > MAX_POSITION:
            raise InvalidCommand(f"{MIN_POSITION_HEADER} must be a ledger position",
                                 [Problem(MIN_POSITION_HEADER, f"{header!r} is not one")])
        position = max(position or 0, int(text))
    return position


MinPosition = Annotated[int | None, Depends(min_position)]


async def wait_for(reached: Callable[[], int], head: Callable[[], int], position: int,
                   timeout: float, what: str) -> int:
    """Wait until ``reached()`` is at least ``position`` (at most ``timeout`` seconds) and
    answer it. A position beyond the ledger's ``head()`` (the primary's) is no position a
    201 named: refused at once. Raises :class:`~ledger.errors.NotCaughtUp` if the position
    is not reached in time."""
    deadline = time.monotonic() + timeout
    now = await run_in_threadpool(reached)
    if now < position:
        last = await run_in_threadpool(head)
        if position > last:
            raise InvalidCommand(
                f"min_position {position} is beyond the ledger's last position {last}",
                [Problem("min_position", f"at most {last}, the position of the last entry")])
    while now < position:
        if time.monotonic() >= deadline:
            raise NotCaughtUp(
                f"{what} had reached position {now}, not {position}, after {timeout:g} s; "
                "retry shortly", [Problem("min_position", f"not reached yet (at {now})")])
        await asyncio.sleep(POLL_SECONDS)
        now = await run_in_threadpool(reached)
    return now


def primary_head(request: Request) -> Callable[[], int]:
    """The ledger's last position, as the primary knows it."""
    sources: ReadSources = request.app.state.read_sources
    return sources.primary.ledger.max_position


def _source(request: Request) -> ReadSource:
    sources: ReadSources = request.app.state.read_sources
    source = sources.pick()
    request.state.read_source = source
    return source


async def read_models(request: Request, position: MinPosition) -> ReadModels:
    """The read models to answer from, once they have reached ``min_position``."""
    source = _source(request)
    if position is not None:
        settings: Settings = request.app.state.settings
        await wait_for(source.read_models.position, primary_head(request), position,
                       settings.read_wait, f"the read models ({source.name})")
    return source.read_models


async def feed_ledger(request: Request, position: MinPosition) -> Ledger:
    """The ledger to read the feed from, once it has reached ``min_position``."""
    source = _source(request)
    if position is not None:
        settings: Settings = request.app.state.settings
        await wait_for(source.ledger.max_position, primary_head(request), position,
                       settings.read_wait, f"the ledger ({source.name})")
    return source.ledger


async def reached(request: Request) -> int:
    """The position the read models answering this request have reached: the runner's own
    (no query) when it leads in this process and the primary answers."""
    source: ReadSource = getattr(request.state, "read_source", None) or _source(request)
    runner = request.app.state.runner
    if source.name == "primary" and runner is not None and runner.leading:
        return int(runner.position)
    return await run_in_threadpool(source.read_models.position)
