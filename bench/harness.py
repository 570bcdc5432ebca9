"""Benchmark harness: the registry, fresh stores with a synthetic history, the service in a
subprocess, HTTP load generators and the statistics every benchmark reports."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from api.accounts import AccountStore
from bench.synthetic import Synthesizer
from ledger.application import Ledger
from ledger.commands import parse_command
from ledger.settings import Settings
from ledger.storage import persistence_env

POSTGRES_URL = os.environ.get("SAMSYN_BENCH_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgres")
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Scale:
    """How big the history is and how long each measurement runs."""

    name: str
    history_events: int
    runs: int = 3
    seconds: float = 5.0
    warmup: float = 1.0


SCALES = {
    "small": Scale("small", history_events=20_000, runs=3, seconds=2.5, warmup=0.5),
    "1m": Scale("1m", history_events=1_000_000, runs=5, seconds=5.0),
}


@dataclass
class Result:
    """One figure of a benchmark, with the baseline measured in the same run.

    ``figure`` and ``baseline`` are medians over the runs; ``ratio`` is the median of the
    per-run ratios figure / baseline (each run measures both back to back, so a noisy
    neighbour slows both alike). ``met`` says whether the target holds.
    """

    benchmark: str
    backend: str
    metric: str
    figure: float
    unit: str
    baseline_name: str
    baseline: float | None
    target: str
    met: bool | None
    runs: list[float] = field(default_factory=list)
    baseline_runs: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def ratio(self) -> float | None:
        pairs = [(f, b) for f, b in zip(self.runs, self.baseline_runs, strict=False) if b]
        if self.runs and len(pairs) == len(self.runs):
            return median([f / b for f, b in pairs])
        if not self.baseline:
            return None
        return self.figure / self.baseline


@dataclass
class Context:
    """A backend with a loaded history and the service running over it."""

    backend: str
    scale: Scale
    settings: Settings
    schema: str | None
    workdir: Path
    base_url: str
    token: str
    history: HistoryFacts
    server_pid: int
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def ledger(self) -> Ledger:
        """A ledger application on the same store (close it after use)."""
        return Ledger(env=persistence_env(self.settings, schema=self.schema))


@dataclass
class HistoryFacts:
    """What benchmarks need to know about the loaded history."""

    events: int
    seconds: float
    #: Each principal's deciding body (organisation, code): where registrars hold meetings.
    bodies: list[tuple[str, str]]
    agreements: list[str]
    median_state_bytes: int


Benchmark = Callable[[Context], list[Result]]


@dataclass(frozen=True)
class Registered:
    name: str
    title: str
    run: Benchmark
    backends: tuple[str, ...] = BACKENDS


REGISTRY: dict[str, Registered] = {}


def benchmark(name: str, title: str, backends: tuple[str, ...] = BACKENDS,
              ) -> Callable[[Benchmark], Benchmark]:
    """Register a benchmark: a function of a :class:`Context` answering its results."""

    def register(run: Benchmark) -> Benchmark:
        REGISTRY[name] = Registered(name, title, run, backends)
        return run

    return register


# Statistics ---------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


class MachineLoad:
    """The 1-minute load average seen during a benchmark: the machine may be shared."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def sample(self) -> None:
        self.seen.append(os.getloadavg()[0])

    def __str__(self) -> str:
        if not self.seen:
            return "load average not sampled"
        low, high = min(self.seen), max(self.seen)
        return f"1-min load average {low:.1f}-{high:.1f} on {os.cpu_count()} CPUs"


# Stores and history ---------------------------------------------------------------------------


@contextmanager
def fresh_store(backend: str) -> Iterator[tuple[Settings, str | None, Path]]:
    """An empty store: an SQLite file in a temporary directory, or a new PostgreSQL schema
    (dropped afterwards). Never the default tables."""
    workdir = Path(tempfile.mkdtemp(prefix=f"samsyn-bench-{backend}-"))
    schema = None
    try:
        if backend == "sqlite":
            yield Settings(database_url=f"sqlite:///{workdir / 'ledger.sqlite3'}",
                           demo_on_empty=False), None, workdir
            return
        schema = f"bench_run_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        yield Settings(database_url=POSTGRES_URL, demo_on_empty=False), schema, workdir
    finally:
        if schema is not None:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        shutil.rmtree(workdir, ignore_errors=True)


def load_history(settings: Settings, schema: str | None, events: int, seed: int = 0,
                 batch: int = 500) -> HistoryFacts:
    """Record a synthetic history of about ``events`` events, many commands per transaction."""
    ledger = Ledger(env=persistence_env(settings, schema=schema))
    synthesizer = Synthesizer(events, seed)
    bodies: list[tuple[str, str]] = []
    agreements: list[str] = []
    started = time.perf_counter()
    chunk: list[Any] = []
    reported = 0
    for command in synthesizer.commands():
        if command["type"] == "EstablishBody" and command["code"] in ("RS", "KS"):
            bodies.append((command["organisation"], command["code"]))
        elif command["type"] == "RegisterAgreement":
            agreements.append(command["ref"])
        chunk.append(parse_command(command))
        if len(chunk) == batch:
            ledger.execute_many(chunk, recorded_by="bench-history")
            chunk = []
            if synthesizer.emitted - reported >= 100_000:
                reported = synthesizer.emitted
                log(f"history: {reported:,} events ({time.perf_counter() - started:.0f} s)")
    if chunk:
        ledger.execute_many(chunk, recorded_by="bench-history")
    seconds = time.perf_counter() - started
    sample = ledger.recorder.select_notifications(start=1, limit=2000)
    state = int(median([len(n.state) for n in sample]))
    head = ledger.max_position()
    ledger.close()
    return HistoryFacts(head, seconds, bodies, agreements, state)


# The service --------------------------------------------------------------------------------


#: How long the service may take to be ready: it projects the whole history first (20,000
#: events took over a minute on the shared machine under load).
READY_SECONDS = 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def service(settings: Settings, schema: str | None, workdir: Path, *, split: bool = False,
            workers: int = 1) -> Iterator[tuple[str, int]]:
    """``samsyn serve`` (one uvicorn process, or ``workers`` of them) on a free loopback
    port: its URL and process id. ``split``: the service leaves the read models to a
    ``samsyn project`` process and sealing to a ``samsyn seal`` process, started first."""
    port = free_port()
    base = [sys.executable, "-m", "bench.server", "--database-url", settings.database_url,
            "--signing-key-path", str(workdir / "signing.key")]
    if schema:
        base += ["--schema", schema]
    roles = [("project", []), ("seal", [])] if split else []
    roles.append(("serve", ["--port", str(port), "--workers", str(workers)]
                  + (["--split"] if split else [])))
    processes: list[subprocess.Popen[bytes]] = []
    base_url = f"http://127.0.0.1:{port}"
    try:
        for role, extra in roles:
            name = "server.log" if role == "serve" else f"{role}.log"
            with (workdir / name).open("wb") as logfile:
                processes.append(subprocess.Popen([*base, "--role", role, *extra], cwd=ROOT,
                                                  stdout=logfile, stderr=logfile))
        deadline = time.monotonic() + READY_SECONDS
        while True:
            with suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/ready", timeout=2).status_code == 200:
                    break
            if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                tail = (workdir / "server.log").read_text(errors="replace")[-2000:]
                msg = f"the service did not start:\n{tail}"
                raise RuntimeError(msg)
            time.sleep(0.2)
        yield base_url, processes[-1].pid
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True)
class Loaded:
    """A fresh store with a history recorded in it, and an admin token."""

    backend: str
    scale: Scale
    settings: Settings
    schema: str | None
    workdir: Path
    token: str
    history: HistoryFacts


@contextmanager
def loaded(backend: str, scale: Scale) -> Iterator[Loaded]:
    """A fresh store with the scale's history and an admin token."""
    with fresh_store(backend) as (settings, schema, workdir):
        log(f"{backend}: loading a synthetic history of {scale.history_events:,} events")
        facts = load_history(settings, schema, scale.history_events)
        log(f"{backend}: {facts.events:,} events in {facts.seconds:.1f} s "
            f"({facts.events / facts.seconds:,.0f} events/s through execute_many)")
        token = AccountStore(settings, schema).create("bench-admin", "admin", [])
        yield Loaded(backend, scale, settings, schema, workdir, token, facts)


@contextmanager
def served(store: Loaded, *, split: bool = False, workers: int = 1) -> Iterator[Context]:
    """The service over a loaded store (``split``: with the read models and sealing in
    processes of their own; ``workers``: that many service processes)."""
    with service(store.settings, store.schema, store.workdir, split=split,
                 workers=workers) as (base_url, pid):
        yield Context(store.backend, store.scale, store.settings, store.schema, store.workdir,
                      base_url, store.token, store.history, pid)


@contextmanager
def prepared(backend: str, scale: Scale, *, split: bool = False,
             workers: int = 1) -> Iterator[Context]:
    """A fresh store with the scale's history, an admin token, and the service over it."""
    with loaded(backend, scale) as store, served(store, split=split, workers=workers) as ctx:
        yield ctx


# Load generators ------------------------------------------------------------------------------


@dataclass
class Load:
    """What a load run measured: completed requests by outcome, and their latencies (s)."""

    seconds: float
    ok: int = 0
    failed: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)

    def merge(self, other: Load) -> None:
        self.ok += other.ok
        self.failed += other.failed
        self.latencies += other.latencies
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n


Request = tuple[str, str, dict[str, Any] | None]  # method, path, JSON body


def closed_loop(base_url: str, headers: dict[str, str], workers: int, seconds: float,
                warmup: float, requests: Callable[[int], Iterator[Request]],
                ok_status: int = 200) -> Load:
    """``workers`` threads, each sending its own requests back to back for ``warmup`` +
    ``seconds``; only requests completed within the measured window count."""
    start_gate = threading.Barrier(workers + 1)
    results = [Load(seconds) for _ in range(workers)]
    window: list[float] = []

    def work(index: int) -> None:
        load = results[index]
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
            plan = requests(index)
            start_gate.wait()
            while True:
                method, path, body = next(plan)
                begun = time.perf_counter()
                try:
                    status = client.request(method, path, json=body).status_code
                except httpx.HTTPError:
                    status = 0
                ended = time.perf_counter()
                if ended > window[1]:
                    return
                if begun >= window[0]:
                    load.statuses[status] = load.statuses.get(status, 0) + 1
                    if status == ok_status:
                        load.ok += 1
                        load.latencies.append(ended - begun)
                    else:
                        load.failed += 1

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    now = time.perf_counter()
    window[:] = [now + warmup, now + warmup + seconds]
    start_gate.wait()
    for thread in threads:
        thread.join()
    total = Load(seconds)
    for load in results:
        total.merge(load)
    return total


def open_loop(base_url: str, headers: dict[str, str], rate: float, seconds: float,
              request: Callable[[int], Request], ok_status: int = 200,
              warmup_requests: int = 0) -> Load:
    """Send request ``i`` at ``start + i / rate`` whether or not earlier ones have answered;
    latency runs from the scheduled time (so a stalled server cannot hide its queue)."""

    async def run() -> Load:
        load = Load(seconds)
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30,
                                     limits=limits) as client:
            for i in range(warmup_requests):  # open connections, warm caches
                method, path, body = request(-1 - i)
                await client.request(method, path, json=body)

            async def send(i: int, due: float) -> None:
                method, path, body = request(i)
                try:
                    status = (await client.request(method, path, json=body)).status_code
                except httpx.HTTPError:
                    status = 0
                load.statuses[status] = load.statuses.get(status, 0) + 1
                if status == ok_status:
                    load.ok += 1
                    load.latencies.append(loop.time() - due)
                else:
                    load.failed += 1

            loop = asyncio.get_running_loop()
            start = loop.time() + 0.05
            load.seconds = seconds
            tasks = []
            for i in range(int(rate * seconds)):
                due = start + i / rate
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(send(i, due)))
            await asyncio.gather(*tasks)
            load.seconds = loop.time() - start
        return load

    return asyncio.run(run())
