"""Read benchmarks: (6) dashboard-ish routes, requests/s and p99 with 16 concurrent readers,
against GET /health (the same server and client doing no work) measured in the same run."""

from __future__ import annotations

import random
from collections.abc import Iterator
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

READERS = 16


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


def health(ctx: Context, worker: int) -> Iterator[Request]:
    while True:
        yield "GET", "/health", None


ROUTES = {
    "GET /v1/events?limit=50": feed_pages,
    "GET /v1/history/agreement/{ref}": agreement_histories,
}


@benchmark("reads", "(6) dashboard-ish read routes: requests/s and p99, 16 concurrent readers")
def reads(ctx: Context) -> list[Result]:
    scale = ctx.scale
    rates: dict[str, list[float]] = {name: [] for name in [*ROUTES, "health"]}
    p99s: dict[str, list[float]] = {name: [] for name in [*ROUTES, "health"]}
    failures: dict[str, int] = dict.fromkeys(ROUTES, 0)
    machine = MachineLoad()
    for run in range(scale.runs):
        machine.sample()
        for name, plan in [*ROUTES.items(), ("health", health)]:
            load: Load = closed_loop(ctx.base_url, {}, READERS, scale.seconds, scale.warmup,
                                     lambda worker, plan=plan: plan(ctx, worker))
            rates[name].append(load.rate)
            p99s[name].append(load.p(99) * 1000)
            if name in failures:
                failures[name] += load.failed
            log(f"reads run {run + 1}: {name}: {load.rate:,.0f} req/s, "
                f"p99 {p99s[name][-1]:.1f} ms, statuses {load.statuses}")
    machine.sample()
    results = []
    for name in ROUTES:
        note = (f"{READERS} client threads, anonymous reader; history of "
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
