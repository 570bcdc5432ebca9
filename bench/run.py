"""Run every registered benchmark on SQLite and on PostgreSQL and print figures, baselines
measured in the same run, their ratios and the targets (medians of several runs).

    python -m bench.run [--scale small|1m] [--only NAME[,NAME]] [--backend sqlite|postgres]

Benchmarks live in the modules of ``MODULES``; each registers itself with
``bench.harness.benchmark`` and answers a list of ``Result``. A backend's store is prepared
once (a synthetic history of the scale's size, the service over it) and every selected
benchmark runs against it in turn.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import psycopg

from bench.harness import BACKENDS, POSTGRES_URL, REGISTRY, SCALES, Result, loaded, log, served

#: Modules whose import registers benchmarks (add yours here).
MODULES = [
    "bench.appends",
    "bench.reads",
    "bench.lag",
    "bench.queries",
    "bench.verify",
    "bench.rebuild",
    "bench.imports",
]


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            postgres = str(row[0]) if row else "unknown"
    except psycopg.Error:
        postgres = "unreachable"
    return {"cpus": str(os.cpu_count()), "cpu": cpu, "memory": memory,
            "python": platform.python_version(), "postgresql": postgres}


def _number(value: float | None, unit: str = "") -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
    return f"{text} {unit}".strip()


def table(results: list[Result]) -> str:
    """A Markdown table of the results."""
    lines = ["| benchmark | backend | metric | figure | baseline | ratio | target | met |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "-"
        met = {True: "yes", False: "**no**", None: "-"}[r.met]
        lines.append(f"| {r.benchmark} | {r.backend} | {r.metric} | {_number(r.figure, r.unit)} "
                     f"| {_number(r.baseline, r.unit)} ({r.baseline_name}) | {ratio} "
                     f"| {r.target} | {met} |")
    return "\n".join(lines)


#: How results measured with ``--split`` say so.
SPLIT = "service, samsyn project and samsyn seal in three processes"


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        msg = f"{text!r} is not a comma-separated list of process counts such as 1,2,4"
        raise argparse.ArgumentTypeError(msg)
    return counts


def noted(measured: list[Result], split: bool, workers: int) -> list[Result]:
    """The results, their notes saying how the service ran."""
    how = [SPLIT] if split else []
    if workers > 1:
        how.append(f"{workers} service processes (samsyn serve --workers {workers})")
    return [dataclasses.replace(r, note="; ".join([r.note, *how]).strip("; "))
            for r in measured]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small",
                        help="small: 20,000-event history (minutes); 1m: 1,000,000 (long)")
    parser.add_argument("--only", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--backend", choices=BACKENDS, action="append",
                        help="run on this backend only (repeat for both; default: both)")
    parser.add_argument("--runs", type=int, help="runs per figure (default: the scale's)")
    parser.add_argument("--seconds", type=float, help="seconds per measurement")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--split", action="store_true",
                        help="run the read models (samsyn project) and sealing (samsyn seal) "
                        "in processes of their own beside the service")
    parser.add_argument("--workers", type=_counts, default=[1],
                        help="service processes (samsyn serve --workers N; PostgreSQL only); "
                        "several, comma-separated (1,2,4), measure each over one history")
    args = parser.parse_args(argv)

    for module in MODULES:
        importlib.import_module(module)
    names = [n.strip() for n in args.only.split(",")] if args.only else list(REGISTRY)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; "
                     f"known: {', '.join(REGISTRY)}")
    scale = SCALES[args.scale]
    if args.runs or args.seconds:
        scale = dataclasses.replace(scale, runs=args.runs or scale.runs,
                                    seconds=args.seconds or scale.seconds)
    about = machine()
    print(f"# Samsyn benchmarks, scale {scale.name} ({scale.history_events:,}-event history, "
          f"median of {scale.runs} runs of {scale.seconds:g} s)")
    print("machine: " + ", ".join(f"{k} {v}" for k, v in about.items()))
    started = time.perf_counter()
    results: list[Result] = []
    for backend in args.backend or BACKENDS:
        selected = [REGISTRY[n] for n in names if backend in REGISTRY[n].backends]
        if not selected:
            continue
        if args.workers != [1] and backend != "postgres":
            log(f"{backend}: skipped, several service processes need PostgreSQL")
            continue
        with loaded(backend, scale) as store:
            for workers in args.workers:
                with served(store, split=args.split, workers=workers) as ctx:
                    for bench in selected:
                        log(f"{backend}: {bench.title}"
                            + (f", {workers} service processes" if workers > 1 else ""))
                        results += noted(bench.run(ctx), args.split, workers)
    print()
    print(table(results))
    notes = dict.fromkeys((r.benchmark, r.backend, r.note) for r in results if r.note)
    for benchmark, backend, note in notes:
        print(f"- {benchmark} on {backend}: {note}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({
            "scale": dataclasses.asdict(scale), "machine": about,
            "results": [dict(dataclasses.asdict(r), ratio=r.ratio) for r in results],
        }, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
