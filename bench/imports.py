"""Benchmark: bulk import (``samsyn import``) against raw ``COPY`` of the same rows.

In a fresh database of its own (an SQLite file, or a new PostgreSQL database), one run:

* import: ``samsyn import FILE`` as its own process, a synthetic history of N lines (parse,
  check every command against the ledger as the lines before it leave it, write all in one
  transaction), timed end to end with the peak memory (RSS) of that process;
* raw: the very rows the import stored (aggregate id, version, topic, state), written again
  into an empty table of the same shape in one transaction, with ``COPY`` on PostgreSQL and
  ``executemany`` on SQLite, and nothing else: the least any import must do.

Figures: lines per second, stored rows per second against the raw rate (target at least 0.5x), and
peak RSS (target at most 500 MB for 1,000,000 lines). In the harness (``python -m bench.run
--only imports``) it imports 20,000 lines at scale small and 1,000,000 at scale 1m;
standalone:

    .venv/bin/python bench/imports.py [--lines 100000] [--backend postgres|sqlite]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

if not __package__:  # run as a script, python bench/imports.py: import from the repository
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import POSTGRES_URL, ROOT, Context, Result, benchmark, log
from bench.synthetic import generate

#: Target: the import's rate of stored rows as a share of raw COPY's.
RAW_SHARE = 0.5
#: Target: peak memory of an import of a million lines.
RSS_TARGET_MB = 500
#: Lines imported per scale of the harness.
LINES = {"small": 20_000, "1m": 1_000_000}
#: Ledger events the synthetic generator makes per line, roughly (to size the history).
EVENTS_PER_LINE = 1.62
#: Where each backend keeps the ledger's events.
TABLES = {"postgres": "samsyn_events", "sqlite": "stored_events"}


@dataclass
class Measured:
    lines: int
    rows: int
    import_seconds: float
    peak_rss_mb: float
    raw_seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.import_seconds

    @property
    def raw_rows_per_second(self) -> float:
        return self.rows / self.raw_seconds


def write_file(path: Path, lines: int, seed: int = 0) -> int:
    """A synthetic history of at least ``lines`` lines; answers how many it has."""
    written = 0
    with path.open("w", encoding="utf-8") as out:
        for command in generate(int(lines * EVENTS_PER_LINE), seed=seed):
            out.write(json.dumps(command, ensure_ascii=False) + "\n")
            written += 1
    return written


@contextmanager
def fresh_database(backend: str, workdir: Path) -> Iterator[str]:
    """The URL of an empty database of its own, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'import.sqlite3'}"
        return
    name = f"samsyn_bench_import_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def run_import(url: str, path: Path, workdir: Path) -> tuple[float, float]:
    """``samsyn import`` as its own process: seconds and peak RSS in MB."""
    env = dict(os.environ, SAMSYN_DATABASE_URL=url, SAMSYN_LOG_FORMAT="json",
               SAMSYN_SIGNING_KEY_PATH=str(workdir / "signing.key"),
               SAMSYN_DB_STATEMENT_TIMEOUT="600")
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "import", str(path)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        msg = f"samsyn import failed with exit {process.returncode}"
        raise RuntimeError(msg)
    return seconds, usage.ru_maxrss / 1024


def raw_postgres(url: str) -> tuple[int, float]:
    """Rows stored, and seconds to COPY the same rows into an empty table of that shape."""
    table = TABLES["postgres"]
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor().copy(
            f"COPY (SELECT originator_id, originator_version, topic, state FROM {table} "
            "ORDER BY notification_id) TO STDOUT (FORMAT BINARY)"
        ) as copy:
            data = b"".join(bytes(block) for block in copy)
        conn.execute(f"CREATE TABLE raw_copy (LIKE {table} INCLUDING ALL)")
        rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        started = time.perf_counter()
        with conn.transaction(), conn.cursor().copy(
            "COPY raw_copy (originator_id, originator_version, topic, state) "
            "FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.write(data)
        seconds = time.perf_counter() - started
    return int(rows[0]) if rows else 0, seconds


def raw_sqlite(url: str) -> tuple[int, float]:
    table = TABLES["sqlite"]
    conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        rows = conn.execute(f"SELECT originator_id, originator_version, topic, state FROM {table} "
                            "ORDER BY rowid").fetchall()
        conn.execute("CREATE TABLE raw_copy (originator_id TEXT, originator_version INTEGER, "
                     "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))")
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO raw_copy VALUES (?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
        return len(rows), time.perf_counter() - started
    finally:
        conn.close()


def measure(backend: str, lines: int) -> Measured:
    workdir = Path(tempfile.mkdtemp(prefix="samsyn-bench-import-"))
    try:
        path = workdir / "history.jsonl"
        count = write_file(path, lines)
        log(f"{backend}: importing {count:,} lines")
        with fresh_database(backend, workdir) as url:
            seconds, rss = run_import(url, path, workdir)
            rows, raw = raw_postgres(url) if backend == "postgres" else raw_sqlite(url)
        return Measured(count, rows, seconds, rss, raw)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def results(backend: str, m: Measured, scale: str) -> list[Result]:
    note = (f"{m.lines:,} lines, {m.rows:,} rows; the raw baseline writes the same rows "
            "in one transaction (COPY on PostgreSQL, executemany on SQLite)")
    rss_target = f"<= {RSS_TARGET_MB} MB at 1,000,000 lines"
    return [
        Result("imports", backend, "rows stored/s", m.rows_per_second, "rows/s",
               "raw COPY", m.raw_rows_per_second, f">= {RAW_SHARE}x raw",
               m.rows_per_second >= RAW_SHARE * m.raw_rows_per_second,
               [m.rows_per_second], [m.raw_rows_per_second], note),
        Result("imports", backend, "lines/s", m.lines / m.import_seconds, "lines/s",
               "-", None, "-", None, note=note),
        Result("imports", backend, "peak RSS", m.peak_rss_mb, "MB", "-", None, rss_target,
               m.peak_rss_mb <= RSS_TARGET_MB if scale == "1m" else None, note=note),
    ]


@benchmark("imports", "bulk import against raw COPY of the same rows")
def run(ctx: Context) -> list[Result]:
    lines = LINES.get(ctx.scale.name, LINES["small"])
    return results(ctx.backend, measure(ctx.backend, lines), ctx.scale.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--backend", choices=["postgres", "sqlite"], action="append")
    args = parser.parse_args(argv)
    for backend in args.backend or ["postgres", "sqlite"]:
        m = measure(backend, args.lines)
        print(f"{backend}: {m.lines:,} lines, {m.rows:,} rows in {m.import_seconds:.1f} s "
              f"({m.lines / m.import_seconds:,.0f} lines/s, {m.rows_per_second:,.0f} rows/s), "
              f"peak RSS {m.peak_rss_mb:,.0f} MB; raw: {m.raw_seconds:.2f} s "
              f"({m.raw_rows_per_second:,.0f} rows/s); ratio "
              f"{m.rows_per_second / m.raw_rows_per_second:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
