"""Read benchmarks: (6) the feed, an entity's history and the dashboard's read-model routes,
requests/s and p99 with 16 concurrent readers, against GET /health (the same server and
client doing no work) measured in the same run."""

from __future__ import annotations

import math
import os
import random
import shutil
import subprocess
from collections.abc import Callable, Iterator
from urllib.parse import quote

from bench.harness import (
    Context,
    Load,
    MachineLoad,
    Request,
    Result,
    benchmark,
    closed_loop,
    log,
    median,
)
from bench.queries import Targets, find_targets
from projections.queries import ReadModels

READERS = 16
#: The load generator: wrk when installed (``apt-get install wrk``), else httpx threads.
WRK = shutil.which("wrk")
Plan = Callable[[Context, int], Iterator[Request]]


def feed_pages(ctx: Context, worker: int) -> Iterator[Request]:
    """Pages of 50 entries from anywhere in the feed."""
    rng = random.Random(worker)
    last = max(0, ctx.history.events - 50)
    while True:
        yield "GET", f"/v1/events?limit=50&after={rng.randint(0, last)}", None


def agreement_histories(ctx: Context, worker: int) -> Iterator[Request]:
    """The history of an agreement (each of the history's agreements in turn)."""
    rng = random.Random(worker)
    refs = ctx.history.agreements
    while True:
        yield "GET", f"/v1/history/agreement/{quote(rng.choice(refs), safe='')}", None


def agreements(ctx: Context, worker: int) -> Iterator[Request]:
    """The dashboard's agreement status of one agreement, today."""
    rng = random.Random(worker)
    refs = ctx.history.agreements
    while True:
        yield "GET", f"/v1/agreements/{quote(rng.choice(refs), safe='')}", None


def decision_register(ctx: Context, worker: int) -> Iterator[Request]:
    """A page of 50 of one organisation's decisions, today."""
    rng = random.Random(worker)
    organisations = sorted({organisation for organisation, _ in ctx.history.bodies})
    while True:
        organisation = quote(rng.choice(organisations), safe="")
        yield "GET", f"/v1/decisions?organisation={organisation}&limit=50", None


def matter_timelines(ctx: Context, worker: int) -> Iterator[Request]:
    """The timeline of one matter, found by a case number, today."""
    rng = random.Random(worker)
    matters = _targets(ctx).matters
    while True:
        organisation, dnr = rng.choice(matters)
        yield ("GET", f"/v1/matters/{quote(organisation, safe='')}:{quote(dnr, safe='')}"
               "/timeline", None)


_TARGETS: dict[str, Targets] = {}


def _targets(ctx: Context) -> Targets:
    """Entities of the loaded history the dashboard routes ask about (found once)."""
    if ctx.run_id not in _TARGETS:
        with ReadModels(ctx.settings, schema=ctx.schema) as models:
            _TARGETS[ctx.run_id] = find_targets(models)
    return _TARGETS[ctx.run_id]


def health(ctx: Context, worker: int) -> Iterator[Request]:
    while True:
        yield "GET", "/health", None


ROUTES = {
    "GET /v1/events?limit=50": feed_pages,
    "GET /v1/history/agreement/{ref}": agreement_histories,
    "GET /v1/agreements/{ref}": agreements,
    "GET /v1/decisions?organisation=…&limit=50": decision_register,
    "GET /v1/matters/{case number}/timeline": matter_timelines,
}


#: wrk's script: requests drawn at random from the file named by SAMSYN_WRK_PATHS; the
#: summary on one line for :func:`wrk_load`.
WRK_SCRIPT = """
local paths = {}
for line in io.lines(os.getenv("SAMSYN_WRK_PATHS")) do paths[#paths + 1] = line end
local counter = 0
setup = function(thread) counter = counter + 1; thread:set("seed", counter) end
init = function(args) math.randomseed(seed or 1) end
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("SAMSYN %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout, latency:percentile(99)))
end
"""
PATHS_PER_ROUTE = 2000


def wrk_load(ctx: Context, plan: Plan, seconds: float, warmup: float) -> Load:
    """``READERS`` connections of wrk (two threads, in C: the client costs the shared CPUs
    little) sending the plan's requests back to back, for whole seconds; the warm-up (the
    first run of each route only) is a run of its own."""
    workdir = ctx.workdir / "wrk"
    workdir.mkdir(exist_ok=True)
    script, paths = workdir / "reads.lua", workdir / "paths.txt"
    script.write_text(WRK_SCRIPT)
    per_worker = PATHS_PER_ROUTE // READERS
    paths.write_text("".join(f"{path}\n" for worker in range(READERS) for _, (_, path, _) in
                             zip(range(per_worker), plan(ctx, worker), strict=False)))
    env = {**os.environ, "SAMSYN_WRK_PATHS": str(paths)}

    def run(duration: float) -> str:
        return subprocess.run(
            [WRK or "wrk", "-t2", f"-c{READERS}", f"-d{max(1, math.ceil(duration))}s",
             "--timeout", "30s", "-s", str(script), ctx.base_url],
            env=env, capture_output=True, text=True, check=True).stdout.strip()

    if warmup > 0:
        run(warmup)
    line = next(x for x in run(seconds).splitlines() if x.startswith("SAMSYN "))
    requests, micros, bad_status, failed, p99 = (int(x) for x in line.split()[1:])
    load = Load(micros / 1e6, ok=requests - bad_status, failed=bad_status + failed)
    load.latencies = [p99 / 1e6]  # wrk keeps the distribution; p(99) answers its p99
    load.statuses = {200: load.ok, 0: load.failed} if load.failed else {200: load.ok}
    return load


def thread_load(ctx: Context, plan: Plan, seconds: float, warmup: float) -> Load:
    """``READERS`` threads of httpx clients in this process (when wrk is not installed)."""
    return closed_loop(ctx.base_url, {}, READERS, seconds, warmup,
                       lambda worker: plan(ctx, worker))


@benchmark("reads", "(6) read routes: requests/s and p99, 16 concurrent readers")
def reads(ctx: Context) -> list[Result]:
    scale = ctx.scale
    generator = wrk_load if WRK else thread_load
    clients = (f"wrk, {READERS} connections on 2 threads" if WRK
               else f"{READERS} httpx client threads (wrk not installed)")
    rates: dict[str, list[float]] = {name: [] for name in [*ROUTES, "health"]}
    p99s: dict[str, list[float]] = {name: [] for name in [*ROUTES, "health"]}
    failures: dict[str, int] = dict.fromkeys(ROUTES, 0)
    machine = MachineLoad()
    for run in range(scale.runs):
        machine.sample()
        for name, plan in [*ROUTES.items(), ("health", health)]:
            load = generator(ctx, plan, scale.seconds, scale.warmup if run == 0 else 0.0)
            rates[name].append(load.rate)
            p99s[name].append(load.p(99) * 1000)
            if name in failures:
                failures[name] += load.failed
            log(f"reads run {run + 1}: {name}: {load.rate:,.0f} req/s, "
                f"p99 {p99s[name][-1]:.1f} ms, statuses {load.statuses}")
    machine.sample()
    results = []
    for name in ROUTES:
        note = (f"{clients}, anonymous reader; history of "
                f"{ctx.history.events:,} events; non-200 answers: {failures[name]}; {machine}")
        rate, p99 = median(rates[name]), median(p99s[name])
        results += [
            Result("reads", ctx.backend, f"{name} req/s", rate, "req/s",
                   "GET /health, same clients", median(rates["health"]), "≥ 2,000 req/s",
                   rate >= 2000, rates[name], rates["health"], note),
            Result("reads", ctx.backend, f"{name} p99", p99, "ms",
                   "GET /health, same clients", median(p99s["health"]), "≤ 20 ms",
                   p99 <= 20.0, p99s[name], p99s["health"], note),
        ]
    return results
