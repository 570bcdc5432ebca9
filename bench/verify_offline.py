"""Benchmark: offline export verification speed against the raw SHA-256 rate of the same leaves.

Builds an export of synthetic but realistic entries (JSON payloads of 300-600 bytes, a
signed checkpoint every 1,000 entries) in a temporary directory, then measures:

* the verifier: ``verify_export(path)`` end to end — reading, JSON parsing, base64,
  canonical encoding, leaf and node hashing, checkpoint signatures;
* the floor: one ``hashlib.sha256`` call per leaf over the same leaf bytes
  (0x00 || canonical leaf data), already in memory — the least any verifier must do.

Each is the median of several runs. Run: ``python bench/verify_offline.py [--entries N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger.integrity.canonical import LedgerEntry
from ledger.integrity.checkpoint import sign_checkpoint
from ledger.integrity.keys import generate_signing_key
from ledger.integrity.merkle import MerkleAccumulator
from ledger.integrity.verify import default_workers, verify_export, write_export

ORIGIN = "bench.samsyn.example/ledger"
CHECKPOINT_EVERY = 1000
TOPICS = [
    "ledger.domain.matter:Matter.Opened",
    "ledger.domain.matter:Matter.Assigned",
    "ledger.domain.decision:Decision.Proposed",
    "ledger.domain.decision:Decision.Adopted",
    "ledger.domain.meeting:Meeting.Minuted",
]
WORDS = [
    "budget", "road", "maintenance", "district", "council", "committee", "school", "housing",
    "permit", "appeal", "water", "heritage", "transport", "climate", "grant", "tender",
    "audit", "hearing", "consultation", "plan",
]  # fmt: skip


def synthetic_entries(count: int, seed: int = 20240501) -> list[LedgerEntry]:
    """Entries with gapped positions and JSON payloads of roughly 300-600 bytes."""
    rng = random.Random(seed)
    aggregates = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(2000)]
    versions = dict.fromkeys(aggregates, 0)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    entries = []
    position = 0
    for i in range(count):
        position += 1 if rng.random() < 0.97 else 2  # notification ids may have gaps
        aggregate = rng.choice(aggregates)
        versions[aggregate] += 1
        payload = {
            "matter_id": aggregate,
            "title": " ".join(rng.choices(WORDS, k=rng.randint(4, 10))).capitalize(),
            "body": " ".join(rng.choices(WORDS, k=rng.randint(22, 48))),
            "decided_by": [f"member-{rng.randint(1, 60)}" for _ in range(rng.randint(1, 4))],
            "reference": f"KS {2025}/{i:06d}",
        }
        state = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        recorded = start + timedelta(seconds=i * 7, microseconds=rng.randrange(1_000_000))
        entries.append(
            LedgerEntry(
                position=position,
                originator_id=aggregate,
                originator_version=versions[aggregate],
                topic=rng.choice(TOPICS),
                state=state,
                recorded_at=recorded.isoformat(),
            )
        )
    return entries


def build_export(directory: Path, entries: list[LedgerEntry]) -> tuple[Path, str]:
    key = generate_signing_key(ORIGIN)
    acc = MerkleAccumulator()
    notes = []
    for i, entry in enumerate(entries, start=1):
        acc.append(entry.leaf_hash())
        if i % CHECKPOINT_EVERY == 0 or i == len(entries):
            notes.append(sign_checkpoint(key, ORIGIN, i, acc.root()))
    path = directory / "export.jsonl"
    write_export(path, entries, notes, key.vkey, ORIGIN)
    return path, key.vkey


def timed(work: Callable[[], None]) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    entries = synthetic_entries(args.entries)
    leaves = [b"\x00" + e.leaf_data() for e in entries]
    leaf_bytes = sum(len(b) for b in leaves)
    sizes = [len(e.state) for e in entries]
    n = args.entries
    runs: dict[str, list[tuple[float, float]]] = {"default": [], "single": [], "raw": []}
    loads = []

    with tempfile.TemporaryDirectory() as tmp:
        path, vkey = build_export(Path(tmp), entries)
        file_bytes = path.stat().st_size
        workers = default_workers(file_bytes)

        def verify(workers: int | None) -> None:
            report = verify_export(path, trusted_vkey=vkey, workers=workers)
            assert report.entries == n

        def raw_hash() -> None:
            sha256 = hashlib.sha256
            for leaf in leaves:
                sha256(leaf).digest()

        verify(0)  # warm the page cache and the interpreter once
        for _ in range(args.runs):  # back to back, so a busy neighbour slows all three
            loads.append(os.getloadavg()[0])
            runs["default"].append(timed(lambda: verify(None)))
            runs["single"].append(timed(lambda: verify(0)))
            runs["raw"].append(timed(raw_hash))

    def ratio(label: str, cpu: bool = False) -> float:
        k = 1 if cpu else 0
        return statistics.median(raw[k] / run[k] for run, raw in zip(runs[label], runs["raw"],
                                                                      strict=True))

    def rate(label: str) -> float:
        return n / statistics.median(wall for wall, _ in runs[label])

    print(
        f"entries:             {n:,} (payloads {min(sizes)}-{max(sizes)} bytes, "
        f"mean {statistics.mean(sizes):.0f}; a checkpoint every {CHECKPOINT_EVERY:,})"
    )
    print(f"export file:         {file_bytes / 1e6:.1f} MB; leaf bytes {leaf_bytes / 1e6:.1f} MB")
    print(f"CPUs:                {os.cpu_count()}; default verifier workers: {workers or 'none'}")
    print(f"load average:        {min(loads):.1f}-{max(loads):.1f} (1 min)")
    for label, name in (("default", "verifier, default"), ("single", "verifier, 1 process")):
        print(f"{name + ':':21s}{rate(label):,.0f} entries/s  ratio to raw: {ratio(label):.3f}")
    print(f"raw SHA-256 per leaf:{rate('raw'):,.0f} entries/s  "
          f"({leaf_bytes / statistics.median(w for w, _ in runs['raw']) / 1e6:.0f} MB/s)")
    print(f"CPU time, 1 process: ratio to raw {ratio('single', cpu=True):.3f} "
          "(this process's CPU seconds, which a busy neighbour does not inflate)")
    print(f"(medians of {args.runs} runs; ratios are medians of per-run ratios)")


if __name__ == "__main__":
    main()
