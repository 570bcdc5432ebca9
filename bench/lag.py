"""Lag benchmark: (4) how long after its 201 an entry is visible in every read model, at a
steady 100 appends/s through the HTTP API.

Visibility is what ``GET /ready`` reports: ``read_models``, the position every read model
has committed (the least of the positions the projection runner records with the rows).
One poller asks it back to back (``POLL_PAUSE`` apart) while the appends go on; an entry
counts as visible at the answer of the first poll that ends after its 201 and shows its
position. So each lag is an upper bound, too long by at most one poll's round trip plus
the pause; the round trip of those polls is reported as the baseline.
"""

from __future__ import annotations

import asyncio
import bisect

import httpx

from bench.appends import STEADY_RATE, steady_request
from bench.harness import Context, MachineLoad, Result, benchmark, log, median, percentile

#: Pause between two polls of ``GET /ready``.
POLL_PAUSE = 0.005
#: How long to keep polling after the last append for the read models to catch up.
SETTLE_SECONDS = 10.0


async def measure(ctx: Context, tag: str, seconds: float,
                  ) -> tuple[list[float], list[float], dict[int, int], int]:
    """One run: the lags (s) of the answered appends, the polls' round trips (s), the
    appends' statuses, and how many 201s were never seen in the read models."""
    loop = asyncio.get_running_loop()
    answered: list[tuple[float, int]] = []  # (time of the 201, last position it appended)
    polls: list[tuple[float, int]] = []  # (time of the answer, read models' position)
    round_trips: list[float] = []
    statuses: dict[int, int] = {}
    done = asyncio.Event()
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=ctx.base_url, headers=ctx.auth, timeout=30,
                                 limits=limits) as client:
        for _ in range(20):  # open connections, warm caches
            await client.get("/health")
        await client.get("/ready")

        async def append(i: int) -> None:
            method, path, body = steady_request(ctx, tag, i)
            try:
                response = await client.request(method, path, json=body)
            except httpx.HTTPError:
                statuses[0] = statuses.get(0, 0) + 1
                return
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code == 201:
                entries = response.json()["entries"]
                answered.append((loop.time(), max(int(e["position"]) for e in entries)))

        async def poll() -> None:
            while True:
                begun = loop.time()
                try:
                    response = await client.get("/ready")
                except httpx.HTTPError:
                    response = None
                ended = loop.time()
                if response is not None and response.status_code == 200:
                    round_trips.append(ended - begun)
                    polls.append((ended, int(response.json()["read_models"])))
                    if done.is_set() and all(p <= polls[-1][1] for _, p in answered):
                        return
                if done.is_set() and ended > settle_until:
                    return
                await asyncio.sleep(POLL_PAUSE)

        settle_until = float("inf")
        poller = asyncio.create_task(poll())
        start = loop.time() + 0.05
        tasks = []
        for i in range(int(STEADY_RATE * seconds)):
            due = start + i / STEADY_RATE
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(append(i)))
        await asyncio.gather(*tasks)
        settle_until = loop.time() + SETTLE_SECONDS
        done.set()
        await poller
    times = [t for t, _ in polls]
    seen: list[int] = []  # running maximum: a position once shown stays shown
    for _, position in polls:
        seen.append(max(position, seen[-1] if seen else 0))
    lags, unseen = [], 0
    for answered_at, position in answered:
        first = bisect.bisect_left(times, answered_at)
        reached = bisect.bisect_left(seen, position, lo=first)
        if reached == len(seen):
            unseen += 1
        else:
            lags.append(times[reached] - answered_at)
    return lags, round_trips, statuses, unseen


@benchmark("lag", "(4) lag from a 201 to the entry in every read model, at 100 appends/s")
def lag(ctx: Context) -> list[Result]:
    scale = ctx.scale
    p50, p99, poll50, poll99 = [], [], [], []
    statuses: dict[int, int] = {}
    unseen = 0
    machine = MachineLoad()
    seconds = max(scale.seconds, 4.0)
    for run in range(scale.runs):
        machine.sample()
        lags, round_trips, run_statuses, run_unseen = asyncio.run(
            measure(ctx, f"v{run}", seconds))
        for status, n in run_statuses.items():
            statuses[status] = statuses.get(status, 0) + n
        unseen += run_unseen
        p50.append(percentile(lags, 50) * 1000)
        p99.append(percentile(lags, 99) * 1000)
        poll50.append(percentile(round_trips, 50) * 1000)
        poll99.append(percentile(round_trips, 99) * 1000)
        log(f"lag run {run + 1}: p50 {p50[-1]:.1f} ms, p99 {p99[-1]:.1f} ms over {len(lags)} "
            f"entries (GET /ready p50 {poll50[-1]:.1f} ms, p99 {poll99[-1]:.1f} ms, "
            f"{len(round_trips)} polls), statuses {run_statuses}, never seen {run_unseen}")
    machine.sample()
    failures = sum(n for s, n in statuses.items() if s != 201)
    note = (f"{STEADY_RATE:.0f} appends/s offered for {seconds:.0f} s; read models polled "
            f"through GET /ready every {POLL_PAUSE * 1000:.0f} ms plus its round trip (each lag "
            f"is an upper bound); non-201 answers: {failures}; 201s never seen within "
            f"{SETTLE_SECONDS:.0f} s: {unseen}; {machine}")
    baseline = "GET /ready round trip (the measurement's resolution)"
    return [
        Result("lag", ctx.backend, "201 to every read model, p50", median(p50), "ms",
               baseline, median(poll50), "(none)", None, p50, poll50, note),
        Result("lag", ctx.backend, "201 to every read model, p99", median(p99), "ms",
               baseline, median(poll99), "≤ 200 ms", median(p99) <= 200.0 and not unseen,
               p99, poll99, note),
    ]
