"""Query benchmark (5): the seven questions asked as of a past date and as known at a past
moment, p99 latency over a history of 10k events and the harness's (20k events at scale
``small``; 100k and 1M at ``1m``), against the same query over the 10k history measured in
the same run.

Each history is recorded through ``Ledger.execute_many`` in batches of 5,000 commands, its
read models built by one rebuild (as after ``samsyn rebuild``), not entry by entry, and its
integrity log sealed before the service starts (else the service's sealer would seal the
whole history while it is measured).
The questions go to :class:`projections.queries.ReadModels` directly and, one request at a
time, to the matching dashboard route of a service over the same store.

    python -m bench.queries --backend postgres --sizes 10000,100000,1000000

runs it alone (without the other benchmarks' store and service).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg

from api.accounts import AccountStore
from bench.harness import (
    BACKENDS,
    POSTGRES_URL,
    SCALES,
    Context,
    MachineLoad,
    Result,
    benchmark,
    fresh_store,
    log,
    median,
    percentile,
    service,
)
from bench.run import table
from bench.synthetic import Synthesizer
from ledger.application import Ledger
from ledger.commands import parse_command
from ledger.errors import InvalidCommand
from ledger.integrity.log import IntegrityLog
from ledger.settings import Settings
from ledger.storage import persistence_env
from projections.facts import fact_tables, from_micros
from projections.pipeline import READ_MODELS, stale
from projections.queries import ReadModels
from projections.rebuilding import rebuild

#: Histories (events) recorded for the benchmark per scale, the first the baseline; the
#: harness's own history (20,000 or 1,000,000 events) is measured last. Recording 100,000
#: events takes minutes here, too long for the default run.
SIZES = {"small": (10_000,), "1m": (10_000, 100_000)}
#: Commands per ``execute_many`` transaction while recording a history.
LOAD_BATCH = 5000
#: Calls per question per run (after a warm-up of a tenth as many), and runs at most: the
#: default harness run stays short.
CALLS = 100
RUNS = 3
TARGET_MS = 20.0
TARGET_GROWTH = 2.0


@dataclass
class Targets:
    """What to ask about: entities recorded in the first half of the history, a domain date
    (``as_of``) and a recorded moment (``known_at``) both in its past."""

    as_of: date
    known_at: datetime
    refs: dict[str, list[str]] = field(default_factory=dict)
    matters: list[tuple[str, str]] = field(default_factory=list)
    organisations: list[str] = field(default_factory=list)


def find_targets(models: ReadModels) -> Targets:
    """Entities created before the middle of the ledger; ``known_at`` at 80 % of it,
    ``as_of`` the latest domain date recorded by 70 %."""
    table = fact_tables().entry
    with models.database.transaction(write=False) as tx:
        t = tx.table(table)
        head = int(tx.query(f"SELECT MAX(position) FROM {t}")[0][0])
        (known,) = tx.query(f"SELECT MIN(recorded_at) FROM {t} WHERE position >= ?",
                            [int(head * 0.8)])[0]
        (on,) = tx.query(f"SELECT MAX(on_date) FROM {t} WHERE position <= ?",
                         [int(head * 0.7)])[0]
        rows = tx.query(
            f"SELECT kind, ref, data, event_type FROM {t} WHERE position <= ? AND (ref IS NOT"
            " NULL OR event_type = 'Matter.Opened') AND kind IN ('agreement', 'recommendation',"
            " 'consultation', 'decision', 'assignment', 'matter') AND entity NOT IN"
            f" (SELECT entity FROM {t} WHERE adjustment = 'voiding') ORDER BY position",
            [head // 2],
        )
    targets = Targets(as_of=date.fromisoformat(str(on)[:10]), known_at=from_micros(int(known)))
    organisations: dict[str, None] = {}
    for kind, ref, data, _ in rows:
        if kind == "matter":
            number = json.loads(data)["case_numbers"][0]
            targets.matters.append((number["organisation"], number["dnr"]))
            organisations[number["organisation"]] = None
        else:
            targets.refs.setdefault(kind, []).append(ref)
    targets.organisations = list(organisations)
    return targets


@dataclass(frozen=True)
class Question:
    """One question: how to ask it of ``ReadModels`` and as an HTTP request (path, query)."""

    name: str
    api: Callable[[ReadModels, random.Random, Targets], Any]
    http: Callable[[random.Random, Targets], tuple[str, dict[str, str]]]


def _ref(rng: random.Random, targets: Targets, kind: str) -> str:
    return rng.choice(targets.refs[kind])


def _q(ref: str) -> str:
    return quote(ref, safe="")


def _at(targets: Targets) -> dict[str, Any]:
    return {"as_of": targets.as_of, "known_at": targets.known_at}


def _params(targets: Targets, **more: str) -> dict[str, str]:
    return {"as_of": targets.as_of.isoformat(), "known_at": targets.known_at.isoformat(), **more}


def _year(targets: Targets) -> tuple[date, date]:
    return date(targets.as_of.year - 1, 1, 1), date(targets.as_of.year - 1, 12, 31)


def _ask_decisions(m: ReadModels, rng: random.Random, t: Targets) -> Any:
    low, high = _year(t)
    return m.decisions(organisation=rng.choice(t.organisations), from_=low, to=high, **_at(t))


def _get_decisions(rng: random.Random, t: Targets) -> tuple[str, dict[str, str]]:
    low, high = _year(t)
    return "/v1/decisions", _params(t, organisation=rng.choice(t.organisations),
                                    **{"from": low.isoformat(), "to": high.isoformat()})


def _ask_matter(m: ReadModels, rng: random.Random, t: Targets) -> Any:
    return m.matter_timeline(*rng.choice(t.matters), **_at(t))


def _get_matter(rng: random.Random, t: Targets) -> tuple[str, dict[str, str]]:
    organisation, dnr = rng.choice(t.matters)
    return f"/v1/matters/{_q(organisation)}:{_q(dnr)}/timeline", _params(t)


QUESTIONS = (
    Question("1 agreement status",
             lambda m, r, t: m.agreement_status(_ref(r, t, "agreement"), **_at(t)),
             lambda r, t: (f"/v1/agreements/{_q(_ref(r, t, 'agreement'))}", _params(t))),
    Question("2 adoption",
             lambda m, r, t: m.adoption(_ref(r, t, "recommendation"), **_at(t)),
             lambda r, t: (f"/v1/recommendations/{_q(_ref(r, t, 'recommendation'))}/adoption",
                           _params(t))),
    Question("3 consultation",
             lambda m, r, t: m.consultation(_ref(r, t, "consultation"), **_at(t)),
             lambda r, t: (f"/v1/consultations/{_q(_ref(r, t, 'consultation'))}", _params(t))),
    Question("4 decision",
             lambda m, r, t: m.decision(_ref(r, t, "decision"), **_at(t)),
             lambda r, t: (f"/v1/decisions/{_q(_ref(r, t, 'decision'))}", _params(t))),
    Question("4 decision register, one organisation, one year", _ask_decisions,
             _get_decisions),
    Question("5 matter timeline", _ask_matter, _get_matter),
    Question("6 assignment",
             lambda m, r, t: m.assignment(_ref(r, t, "assignment"), **_at(t)),
             lambda r, t: (f"/v1/assignments/{_q(_ref(r, t, 'assignment'))}", _params(t))),
    Question("7 audit trail of a decision",
             lambda m, r, t: m.audit_trail(kind="decision", ref=_ref(r, t, "decision"),
                                           **_at(t)),
             lambda r, t: ("/v1/audit-trail", _params(t, kind="decision",
                                                      ref=_ref(r, t, "decision")))),
)


@dataclass
class Store:
    """A history of one size, its read models, and a service over it."""

    events: int
    models: ReadModels
    targets: Targets
    client: httpx.Client | None
    load_seconds: float
    rebuild_seconds: float


@contextmanager
def history_store(backend: str, events: int, keep: Path | None = None, *, http: bool = True,
                  ) -> Iterator[Store]:
    """A store with a synthetic history of ``events`` events, its read models rebuilt, and
    the service over it: a fresh one, or with ``keep`` one kept for later runs (an SQLite
    file in that directory, or the PostgreSQL schema ``bench_queries_<events>``)."""
    with ExitStack() as stack:
        if keep is None:
            settings, schema, workdir = stack.enter_context(fresh_store(backend))
        else:
            settings, schema, workdir = kept_store(backend, events, keep)
        ledger = Ledger(env=persistence_env(settings, schema=schema))
        head = ledger.max_position()
        ledger.close()
        load_seconds = rebuild_seconds = float("nan")
        complete = None if keep is None else keep / f"{backend}-{events}.complete"
        if head > 0 and (complete is None or not complete.exists()):
            msg = f"the kept history of {events:,} events is incomplete ({head:,}); drop it"
            raise RuntimeError(msg)
        if head == 0:
            log(f"queries: {backend}: recording {events:,} events")
            head, load_seconds, refused = record_history(settings, schema, events)
            log(f"queries: {backend}: {head:,} events recorded in {load_seconds:.0f} s "
                f"({head / load_seconds:,.0f}/s); {refused} generated commands refused")
            if complete is not None:
                complete.write_text(f"{head}\n")
        with ReadModels(settings, schema=schema) as models:
            with models.database.transaction(write=False) as tx:
                outdated = stale(tx, READ_MODELS)
            behind = models.position() < head or bool(outdated)
        if behind:
            started = time.perf_counter()
            rebuild(settings, schema=schema)
            rebuild_seconds = time.perf_counter() - started
            log(f"queries: {backend}: read models of {head:,} events rebuilt in "
                f"{rebuild_seconds:.0f} s")
        if http:  # a service over a store whose log is sealed, as in steady operation
            started = time.perf_counter()
            with IntegrityLog(settings, schema, key_path=workdir / "signing.key") as sealing:
                sealed = sealing.seal_all()
            if sealed:
                log(f"queries: {backend}: {sealed:,} entries sealed in "
                    f"{time.perf_counter() - started:.0f} s")
        token = AccountStore(settings, schema).create(f"bench-auditor-{uuid.uuid4().hex[:8]}",
                                                      "auditor", [])
        models = stack.enter_context(ReadModels(settings, schema=schema))
        client = None
        if http:
            base_url, _ = stack.enter_context(service(settings, schema, workdir))
            client = stack.enter_context(httpx.Client(
                base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60))
        yield Store(head, models, find_targets(models), client, load_seconds, rebuild_seconds)


def record_history(settings: Settings, schema: str | None, events: int, seed: int = 0,
                   ) -> tuple[int, float, int]:
    """Record a synthetic history of about ``events`` events in batches of ``LOAD_BATCH``
    commands; answer the head, the seconds it took and how many commands the ledger refused.

    The generator now and then makes a command the ledger refuses (at 1M events, a revision
    effective before its agreement): it is left out, as a registrar's rejected entry would
    be, and counted; the rest of its batch is recorded.
    """
    ledger = Ledger(env=persistence_env(settings, schema=schema))
    synthesizer = Synthesizer(events, seed)
    started = time.perf_counter()
    refused = 0
    chunk: list[Any] = []
    reported = 0

    def flush() -> None:
        nonlocal refused, chunk
        while chunk:
            try:
                ledger.execute_many(chunk, recorded_by="bench-history")
            except InvalidCommand as e:
                bad = {int(m.group(1)) for p in e.problems
                       if (m := re.match(r"\[(\d+)\]", p.field))}
                if not bad:
                    raise
                refused += len(bad)
                for problem in e.problems:
                    log(f"history: refused {problem.field}: {problem.reason}")
                chunk = [c for i, c in enumerate(chunk) if i not in bad]
                continue
            chunk = []

    for command in synthesizer.commands():
        chunk.append(parse_command(command))
        if len(chunk) == LOAD_BATCH:
            flush()
            if synthesizer.emitted - reported >= 100_000:
                reported = synthesizer.emitted
                log(f"history: {reported:,} events ({time.perf_counter() - started:.0f} s)")
    flush()
    head = ledger.max_position()
    ledger.close()
    return head, time.perf_counter() - started, refused


def kept_store(backend: str, events: int, keep: Path) -> tuple[Settings, str | None, Path]:
    """Where a kept history of ``events`` events lives (created empty if new)."""
    keep.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        path = keep / f"ledger-{events}.sqlite3"
        return Settings(database_url=f"sqlite:///{path}", demo_on_empty=False), None, keep
    schema = f"bench_queries_{events}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    return Settings(database_url=POSTGRES_URL, demo_on_empty=False), schema, keep


def p99_ms(call: Callable[[random.Random], object], seed: int) -> float:
    """p99 (ms) of ``CALLS`` sequential calls, after a warm-up."""
    rng = random.Random(seed)
    for _ in range(CALLS // 10):
        call(rng)
    latencies = []
    for _ in range(CALLS):
        begun = time.perf_counter()
        call(rng)
        latencies.append(time.perf_counter() - begun)
    return percentile(latencies, 99) * 1000


def _api_call(store: Store, question: Question) -> Callable[[random.Random], object]:
    def call(rng: random.Random) -> object:
        return question.api(store.models, rng, store.targets)

    return call


def _http_call(store: Store, question: Question) -> Callable[[random.Random], object]:
    def call(rng: random.Random) -> object:
        assert store.client is not None
        path, params = question.http(rng, store.targets)
        response = store.client.get(path, params=params)
        if response.status_code not in (200, 404):
            msg = f"{path}: {response.status_code} {response.text[:200]}"
            raise RuntimeError(msg)
        return response

    return call


def measure(backend: str, sizes: tuple[int, ...], runs: int, keep: Path | None = None,
            ctx: Context | None = None, *, http: bool = True) -> list[Result]:
    """Every question over every size (and the context's history, last), ``runs`` times,
    sizes alternating within a run."""
    machine = MachineLoad()
    with ExitStack() as stack:
        stores = [stack.enter_context(history_store(backend, size, keep, http=http))
                  for size in sizes]
        if ctx is not None:
            stores.append(stack.enter_context(context_store(ctx)))
        # What is alive now lives to the end: out of the collector's sight, as the service
        # puts what it made at start-up (api.app.create_app's freeze_heap).
        gc.collect()
        gc.freeze()
        p99s: dict[tuple[str, str, int], list[float]] = {}
        for run in range(runs):
            machine.sample()
            for question in QUESTIONS:
                for store in stores:
                    seed = run * 1000 + store.events
                    calls = [("ReadModels", _api_call(store, question))]
                    if http:
                        calls.append(("HTTP", _http_call(store, question)))
                    for via, call in calls:
                        p99s.setdefault((question.name, via, store.events), []).append(
                            p99_ms(call, seed))
            log(f"queries run {run + 1}: " + ", ".join(
                f"{name} {via} {events:,}: {values[-1]:.1f} ms"
                for (name, via, events), values in p99s.items() if via == "ReadModels"))
        machine.sample()
        base = stores[0]
        loads = "; ".join(f"{s.events:,} events recorded in {s.load_seconds:.0f} s, rebuilt "
                          f"in {s.rebuild_seconds:.0f} s" for s in stores
                          if s.load_seconds == s.load_seconds)
        note = (f"{CALLS} sequential calls per question and run; as_of {base.targets.as_of}, "
                f"known_at at 80 % of each history; {loads + '; ' if loads else ''}{machine}")
        results = []
        for question in QUESTIONS:
            for via in ("ReadModels", "HTTP") if http else ("ReadModels",):
                baseline = p99s[(question.name, via, base.events)]
                for store in stores[1:]:
                    values = p99s[(question.name, via, store.events)]
                    growth = median([v / b for v, b in zip(values, baseline, strict=True)])
                    figure = median(values)
                    results.append(Result(
                        "queries", backend,
                        f"{question.name} p99 at {store.events // 1000:,}k, {via}",
                        figure, "ms", f"same at {base.events // 1000:,}k", median(baseline),
                        f"≤ {TARGET_MS:g} ms at 1M, ≤ {TARGET_GROWTH:g}x",
                        figure <= TARGET_MS and growth <= TARGET_GROWTH, values, baseline,
                        note))
    return results


@contextmanager
def context_store(ctx: Context, timeout: float = 1800) -> Iterator[Store]:
    """The benchmark context's history and service, once its read models have caught up."""
    with ReadModels(ctx.settings, schema=ctx.schema) as models:
        deadline = time.monotonic() + timeout
        while models.position() < ctx.history.events:
            if time.monotonic() > deadline:
                msg = f"the read models did not reach {ctx.history.events:,} in {timeout} s"
                raise TimeoutError(msg)
            time.sleep(1)
        with httpx.Client(base_url=ctx.base_url, headers=ctx.auth, timeout=60) as client:
            yield Store(ctx.history.events, models, find_targets(models), client,
                        float("nan"), float("nan"))


@benchmark("queries", "(5) as_of / known_at queries: p99 over growing histories")
def queries(ctx: Context) -> list[Result]:
    return measure(ctx.backend, SIZES[ctx.scale.name], min(RUNS, ctx.scale.runs), ctx=ctx)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.queries",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backend", choices=BACKENDS, default="postgres")
    parser.add_argument("--sizes", default="10000,100000",
                        help="comma-separated history sizes; the first is the baseline")
    parser.add_argument("--runs", type=int, default=SCALES["small"].runs)
    parser.add_argument("--keep", type=Path, help="keep the histories (SQLite files in this "
                        "directory, PostgreSQL schemas bench_queries_<size>) and reuse them")
    parser.add_argument("--no-http", action="store_true",
                        help="ask ReadModels only (no service over each history)")
    args = parser.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(","))
    started = time.perf_counter()
    results = measure(args.backend, sizes, args.runs, args.keep, http=not args.no_http)
    print(table(results))
    for note in dict.fromkeys(r.note for r in results):
        print(f"- {note}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s "
          f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")


if __name__ == "__main__":
    main()
