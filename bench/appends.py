"""Append benchmarks: (1) appends/s with 16 concurrent registrars and (2) latency at a steady
pace, both through the HTTP API, with their same-run baselines (raw INSERT, bare library)."""

from __future__ import annotations

import itertools
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from bench.harness import (
    POSTGRES_URL,
    Context,
    MachineLoad,
    Request,
    Result,
    benchmark,
    closed_loop,
    log,
    median,
    open_loop,
)
from ledger.storage import persistence_env

REGISTRARS = 16
PARAGRAPHS_PER_MEETING = 25
STEADY_RATE = 100.0
STEADY_MEETINGS = 32
TOPIC = "ledger.domain.meeting:Meeting.ParagraphRecorded"


def registrar_commands(ctx: Context, tag: str, worker: int) -> Iterator[Request]:
    """One registrar's stream: hold a meeting of its own body, record its paragraphs, repeat."""
    organisation, body = ctx.history.bodies[worker % len(ctx.history.bodies)]
    meeting = 0
    while True:
        meeting += 1
        ref = f"bench {ctx.run_id} {tag} registrar {worker} meeting {meeting}"
        yield "POST", "/v1/meetings", {"type": "HoldMeeting", "ref": ref,
                                       "organisation": organisation, "body": body,
                                       "held_on": "2025-01-15", "title": "Benchmark meeting"}
        for number in range(1, PARAGRAPHS_PER_MEETING + 1):
            yield "POST", "/v1/meetings/paragraphs", {
                "type": "RecordParagraph", "meeting": ref, "number": number,
                "title": f"Paragraph {number} of a benchmark meeting"}


def raw_insert_rate(ctx: Context, seconds: float, tag: str) -> float:
    """Single-row INSERTs in autocommit on one connection into a scratch table shaped like
    the ledger's (uuid, version, topic, state of the history's median size)."""
    state = os.urandom(ctx.history.median_state_bytes)
    count = 0
    if ctx.backend == "postgres":
        table = f'"{ctx.schema}"."raw_{tag}"'
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE {table} (originator_id uuid NOT NULL, "
                         "originator_version bigint NOT NULL, topic text, state bytea, "
                         "notification_id bigserial, "
                         "PRIMARY KEY (originator_id, originator_version))")
            conn.execute(f'CREATE UNIQUE INDEX "raw_{tag}_nid" ON {table} (notification_id)')
            statement = (f"INSERT INTO {table} (originator_id, originator_version, topic, state)"
                         " VALUES (%s, %s, %s, %s)")
            started = time.perf_counter()
            deadline = started + seconds
            while time.perf_counter() < deadline:
                conn.execute(statement, (uuid.uuid4(), 1, TOPIC, state), prepare=True)
                count += 1
            return count / (time.perf_counter() - started)
    conn = sqlite3.connect(ctx.workdir / f"raw_{tag}.sqlite3", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE stored_events (originator_id TEXT, originator_version "
                     "INTEGER, topic TEXT, state BLOB, "
                     "PRIMARY KEY (originator_id, originator_version))")
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            conn.execute("INSERT INTO stored_events VALUES (?, ?, ?, ?)",
                         (uuid.uuid4().hex, 1, TOPIC, state))
            count += 1
        return count / (time.perf_counter() - started)
    finally:
        conn.close()


class Trivial(Aggregate):
    """An aggregate with nothing but its creation event."""


class BareLibrary(Application[uuid.UUID]):
    """The eventsourcing library's Application, with nothing of Samsyn's on top."""

    name = "BenchBare"
    env: ClassVar[dict[str, str]] = {"IS_SNAPSHOTTING_ENABLED": "n"}


def bare_library_rate(ctx: Context, seconds: float, tag: str) -> float:
    """``Application.save()`` of one new trivial aggregate (one event) per call, one thread,
    on the same store settings as the ledger (the library's own recorders)."""
    env: dict[str, Any] = dict(persistence_env(ctx.settings, schema=ctx.schema))
    if ctx.backend == "postgres":
        from eventsourcing.postgres import PostgresFactory

        env["PERSISTENCE_MODULE"] = get_topic(PostgresFactory)
    else:
        from eventsourcing.sqlite import SQLiteFactory

        env["PERSISTENCE_MODULE"] = get_topic(SQLiteFactory)
        env["SQLITE_DBNAME"] = str(ctx.workdir / f"bare_{tag}.sqlite3")
    app = BareLibrary(env=env)
    try:
        app.save(Trivial())
        count = 0
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            app.save(Trivial())
            count += 1
        return count / (time.perf_counter() - started)
    finally:
        app.close()


@benchmark("appends", "(1) appends/s through the HTTP API, 16 concurrent registrars")
def appends(ctx: Context) -> list[Result]:
    scale = ctx.scale
    api, raw, bare, health = [], [], [], []
    statuses: dict[int, int] = {}
    machine = MachineLoad()
    for run in range(scale.runs):
        machine.sample()
        tag = f"a{run}"
        load = closed_loop(ctx.base_url, ctx.auth, REGISTRARS, scale.seconds, scale.warmup,
                           lambda worker, tag=tag: registrar_commands(ctx, tag, worker),
                           ok_status=201)
        for status, n in load.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
        api.append(load.rate)
        raw.append(raw_insert_rate(ctx, scale.seconds / 2, tag))
        bare.append(bare_library_rate(ctx, scale.seconds / 2, tag))
        health.append(closed_loop(ctx.base_url, ctx.auth, REGISTRARS, scale.seconds / 2,
                                  scale.warmup,
                                  lambda worker: itertools.repeat(("GET", "/health", None))
                                  ).rate)
        log(f"appends run {run + 1}: API {api[-1]:,.0f}/s, raw INSERT {raw[-1]:,.0f}/s, "
            f"bare library {bare[-1]:,.0f}/s, GET /health {health[-1]:,.0f}/s, "
            f"statuses {load.statuses}")
    failures = sum(n for s, n in statuses.items() if s != 201)
    machine.sample()
    note = f"{REGISTRARS} client threads; non-201 answers: {failures}; {machine}"
    figure = median(api)
    vs_raw = Result("appends", ctx.backend, "appends/s vs raw INSERT", figure, "appends/s",
                    "raw single-row INSERT, autocommit, 1 connection", median(raw),
                    "≥ 0.6 x raw", None, api, raw, note)
    vs_bare = Result("appends", ctx.backend, "appends/s vs bare library", figure, "appends/s",
                     "eventsourcing Application.save(), 1 event per call", median(bare),
                     "≥ 2.5 x bare library", None, api, bare, note)
    vs_raw.met = (vs_raw.ratio or 0.0) >= 0.6
    vs_bare.met = (vs_bare.ratio or 0.0) >= 2.5
    vs_http = Result("appends", ctx.backend, "appends/s vs GET /health", figure, "requests/s",
                     "GET /health, same 16 client threads (what HTTP alone allows here)",
                     median(health), "(none)", None, api, health, note)
    return [vs_raw, vs_bare, vs_http]


def steady_request(ctx: Context, tag: str, i: int) -> Request:
    """Append ``i`` of a steady stream: 32 meetings held first, then their paragraphs in
    turn (the same meeting comes round every 0.32 s at 100/s, so no conflicts);
    ``i < 0`` is a warm-up ``GET /health``."""
    if i < 0:
        return "GET", "/health", None
    organisation, body = ctx.history.bodies[0]
    ref = f"bench {ctx.run_id} {tag} meeting {i % STEADY_MEETINGS}"
    if i < STEADY_MEETINGS:
        return "POST", "/v1/meetings", {
            "type": "HoldMeeting", "ref": ref, "organisation": organisation,
            "body": body, "held_on": "2025-02-12"}
    number = i // STEADY_MEETINGS
    return "POST", "/v1/meetings/paragraphs", {
        "type": "RecordParagraph", "meeting": ref, "number": number,
        "title": f"Paragraph {number}"}


@benchmark("append-latency", "(2) append latency at a steady 100 appends/s (open loop)")
def append_latency(ctx: Context) -> list[Result]:
    scale = ctx.scale
    p50, p99, health50, health99, sustained = [], [], [], [], []
    statuses: dict[int, int] = {}
    machine = MachineLoad()
    seconds = max(scale.seconds, 4.0)
    for run in range(scale.runs):
        machine.sample()
        tag = f"l{run}"
        load = open_loop(ctx.base_url, ctx.auth, STEADY_RATE, seconds,
                         lambda i, tag=tag: steady_request(ctx, tag, i),
                         ok_status=201, warmup_requests=20)
        health = open_loop(ctx.base_url, ctx.auth, STEADY_RATE, seconds,
                           lambda i: ("GET", "/health", None), warmup_requests=20)
        sustained.append(load.rate)
        for status, n in load.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
        p50.append(load.p(50) * 1000)
        p99.append(load.p(99) * 1000)
        health50.append(health.p(50) * 1000)
        health99.append(health.p(99) * 1000)
        log(f"append latency run {run + 1}: p50 {p50[-1]:.1f} ms, p99 {p99[-1]:.1f} ms "
            f"(GET /health p50 {health50[-1]:.1f} ms, p99 {health99[-1]:.1f} ms), "
            f"statuses {load.statuses}, answered at {load.rate:.0f}/s")
    machine.sample()
    failures = sum(n for s, n in statuses.items() if s != 201)
    note = (f"{STEADY_RATE:.0f} requests/s offered for {seconds:.0f} s, answered at "
            f"{median(sustained):.0f}/s (median); non-201 answers: {failures}; {machine}")
    baseline = "GET /health at the same pace"
    return [
        Result("append-latency", ctx.backend, "append latency p50", median(p50), "ms",
               baseline, median(health50), "(none)", None, p50, health50, note),
        Result("append-latency", ctx.backend, "append latency p99", median(p99), "ms",
               baseline, median(health99), "≤ 25 ms", median(p99) <= 25.0, p99, health99,
               note),
    ]
