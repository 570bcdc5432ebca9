"""Profile of the append path: py-spy samples the service while 16 registrars append.

    python -m bench.profile_append [--backend postgres] [--seconds 15] [--history 20000]

Needs py-spy (``pip install py-spy``; not a project dependency). Records two profiles of the
service process under the load of benchmark (1): on-CPU samples (where the CPU goes) and
wall-clock samples of the group committer's thread (where a batch's time goes, waits on
the database included; the routes await the committer on the event loop, holding no
thread). Prints the top functions of each, by own ("self") and by inclusive samples, and
leaves the raw collapsed stacks in ``--out`` for flame graphs.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from bench.appends import REGISTRARS, registrar_commands
from bench.harness import BACKENDS, Scale, closed_loop, log, prepared

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def short(frame: str) -> str:
    """``function (file)`` with the file relative to site-packages or the repository."""
    match = FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['function']} ({path})"


def summarise(path: Path, keep: str | None, top: int) -> str:
    """Top functions by own and inclusive samples of the collapsed stacks in ``path``."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        if keep and keep not in stack:
            continue
        count = int(count_text)
        frames = [short(f) for f in stack.split(";")[1:]]  # the first is the thread
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "(no samples)"
    lines = [f"{total} samples", "", "by own samples:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines += ["", "by inclusive samples:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top + 10)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_append",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backend", choices=BACKENDS, default="postgres")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--history", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("profile-append"))
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        parser.error("py-spy is not installed: pip install py-spy")
    args.out.mkdir(parents=True, exist_ok=True)
    scale = Scale("profile", history_events=args.history, runs=1, seconds=args.seconds)
    with prepared(args.backend, scale) as ctx:
        for kind, extra in (("cpu", []), ("wall", ["--idle"])):
            raw = args.out / f"append-{args.backend}-{kind}.txt"
            command = [spy, "record", "--pid", str(ctx.server_pid), "--rate", str(args.rate),
                       "--duration", str(int(args.seconds)), "--format", "raw",
                       "--nonblocking", "--output", str(raw), *extra]
            recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
            load = threading.Thread(target=closed_loop, args=(
                ctx.base_url, ctx.auth, REGISTRARS, args.seconds - 1, 0.5,
                lambda worker, kind=kind: registrar_commands(ctx, f"p{kind}", worker), 201))
            load.start()
            load.join()
            _, errors = recorder.communicate(timeout=args.seconds + 60)
            if recorder.returncode != 0:
                log(f"py-spy failed: {errors.decode(errors='replace')[-500:]}")
                return 1
            print(f"\n## {kind}: {args.backend}, {REGISTRARS} registrars appending"
                  + (" (the group committer's thread only)" if kind == "wall" else ""))
            print(summarise(raw, "GroupCommitter._run" if kind == "wall" else None,
                            args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
