"""Benchmark (7): offline verification of an export of the benchmark's store, entries/s,
against one SHA-256 per leaf over the same leaf bytes, measured in the same run.

The export is what an auditor gets: the service seals what is stored and signs a
checkpoint (``POST /v1/integrity/checkpoints``), the export is downloaded from
``GET /v1/integrity/export`` and the public key from ``GET /v1/integrity/public-key``. Then,
per run and back to back:

* the verifier: ``verify_export(file, trusted_vkey=key)`` end to end, as ``samsyn verify``
  runs it (worker processes by default), and once more in one process;
* the floor: ``hashlib.sha256(0x00 || leaf)`` for each leaf of the file, already in memory,
  which is the least any verifier must do.

``bench/verify_offline.py`` measures the same on a synthetic 100,000-entry export without a
store.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.harness import Context, MachineLoad, Result, benchmark, log, median
from ledger.integrity.verify import default_workers, verify_export

LEAF_MARK = b',"entry":'


def download_export(ctx: Context, path: Path) -> str:
    """Seal and sign now, write the export to ``path``; answer the verifier key."""
    with httpx.Client(base_url=ctx.base_url, headers=ctx.auth, timeout=600) as client:
        client.post("/v1/integrity/checkpoints").raise_for_status()
        vkey = str(client.get("/v1/integrity/public-key").json()["public_key"])
        with client.stream("GET", "/v1/integrity/export") as answer, path.open("wb") as f:
            answer.raise_for_status()
            for chunk in answer.iter_bytes():
                f.write(chunk)
    return vkey


def leaves_of(path: Path) -> list[bytes]:
    """0x00 || leaf data of every entry line, as the verifier must hash them."""
    leaves = []
    with path.open("rb") as f:
        for line in f:
            if line.startswith(b'{"kind":"entry"'):
                at = line.index(LEAF_MARK) + len(LEAF_MARK)
                leaves.append(b"\x00" + line[at:-2])  # without the closing } and newline
    return leaves


def seconds_of(work: Callable[[], None]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


@benchmark("verify", "(7) offline verification of an export, entries/s")
def verify_rate(ctx: Context) -> list[Result]:
    path = ctx.workdir / f"export-{ctx.run_id}.jsonl"
    vkey = download_export(ctx, path)
    leaves = leaves_of(path)
    count = len(leaves)
    size = path.stat().st_size
    workers = default_workers(size)
    log(f"verify: export of {count:,} entries, {size / 1e6:.1f} MB, {workers or 'no'} workers")

    def verify(workers: int | None) -> None:
        report = verify_export(path, trusted_vkey=vkey, workers=workers)
        assert report.entries == count, (report.entries, count)

    def raw() -> None:
        sha256 = hashlib.sha256
        for leaf in leaves:
            sha256(leaf).digest()

    load = MachineLoad()
    verify(None)  # warm the page cache
    default_runs: list[float] = []
    single_runs: list[float] = []
    raw_runs: list[float] = []
    for _ in range(ctx.scale.runs):
        load.sample()
        default_runs.append(count / seconds_of(lambda: verify(None)))
        single_runs.append(count / seconds_of(lambda: verify(0)))
        raw_runs.append(count / seconds_of(raw))
    path.unlink()
    note = (f"{count:,} entries, {size / 1e6:.1f} MB; {workers or 'no'} worker processes; "
            f"{load}")
    results = [
        Result("verify", ctx.backend, metric, median(runs), "entries/s", "raw SHA-256 per leaf",
               median(raw_runs), ">= 0.5 x raw", None, runs, raw_runs, note)
        for metric, runs in (("entries/s, as samsyn verify runs", default_runs),
                             ("entries/s, one process", single_runs))
    ]
    for result in results:
        ratio = result.ratio
        result.met = ratio is not None and ratio >= 0.5
    return results
