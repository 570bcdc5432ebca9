"""Benchmark: the standalone verifier (``samsyn verifier``, standard library only) next to
``samsyn verify`` on the same export, each as an auditor runs it (a process of its own).

Builds a synthetic export (``bench.verify_offline``: payloads of 300-600 bytes, a signed
checkpoint every 1,000 entries), writes ``verify_samsyn.py``, and times
``samsyn verify FILE --key K`` and ``python3 -I -S verify_samsyn.py export FILE --key K``
(wall clock, start-up included; one worker process and then the default). The standalone
file's only extra cost is pure-Python Ed25519 for the checkpoints' signatures.
Run: ``python bench/verify_standalone.py [--entries N]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.verify_offline import build_export, synthetic_entries
from ledger.integrity.standalone import bundle


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env={})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50_000)
    args = parser.parse_args()
    samsyn = str(Path(sys.executable).with_name("samsyn"))
    with tempfile.TemporaryDirectory() as tmp:
        path, vkey = build_export(Path(tmp), synthetic_entries(args.entries))
        standalone = Path(tmp) / "verify_samsyn.py"
        standalone.write_text(bundle(), encoding="utf-8")
        size = path.stat().st_size / 1e6
        print(f"{args.entries:,} entries, {size:.1f} MB, a checkpoint every 1,000 entries")
        for workers in ("0", None):
            extra = ["--workers", workers] if workers else []
            label = "1 process" if workers else "default workers"
            own = timed([samsyn, "verify", str(path), "--key", vkey, *extra])
            alone = timed([sys.executable, "-I", "-S", str(standalone), "export", str(path),
                           "--key", vkey, *extra])
            print(f"{label:>16}: samsyn verify {own:.2f} s ({args.entries / own:,.0f}/s); "
                  f"verify_samsyn.py {alone:.2f} s ({args.entries / alone:,.0f}/s)")


if __name__ == "__main__":
    main()
