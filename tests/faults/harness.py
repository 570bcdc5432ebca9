"""What the fault suite drives: a scratch PostgreSQL cluster, Samsyn's processes, and
registrars writing through HTTP while things break.

Each registrar (a thread) records operations, each carrying a tag of its own in its text:
a matter opened (its title), or a correction of a shared matter's title (its reason)
guarded by ``If-Match``, which concurrent registrars make conflict. A registrar retries
an operation with the same ``Idempotency-Key`` on a lost connection or a 503 (what a
client does during an outage), re-reads the version on a 409, and counts every other 5xx.
At the end the feed is read whole: an operation acknowledged (201) and absent from it is
*lost*; one present more than once is *duplicated*.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backends import REQUIRE_POSTGRES

#: The figures of every fault test run, printed at the end of the session (conftest.py).
FIGURES: list[str] = []

#: How long a registrar keeps retrying one operation before it counts as failed.
GIVE_UP_AFTER = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Any, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.1)


# A scratch PostgreSQL cluster ---------------------------------------------------------------


def postgres_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class ScratchCluster:
    """A PostgreSQL cluster of its own, in a temporary directory, on a free port: stopped and
    started at will, removed afterwards. (As root, its server runs as ``postgres``.)"""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="samsyn-faults-pg-"))
        self.data = self.directory / "data"
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--no-sync", "-E", "UTF8")
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.binaries / tool), *args]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.directory / "log"),
                  "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
                  " -c fsync=off", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "immediate", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)


@contextlib.contextmanager
def scratch_cluster() -> Iterator[ScratchCluster]:
    """A scratch cluster; skipped with the reason where PostgreSQL's server programs are not
    installed, failed instead under SAMSYN_REQUIRE_POSTGRES."""
    binaries = postgres_binaries()
    if binaries is None:
        reason = "PostgreSQL's server programs (/usr/lib/postgresql/*/bin/initdb) are absent"
        if REQUIRE_POSTGRES:
            pytest.fail(f"SAMSYN_REQUIRE_POSTGRES is set but {reason}")
        pytest.skip(reason)
    cluster = ScratchCluster(binaries)
    try:
        yield cluster
    finally:
        cluster.remove()


# Samsyn's processes ---------------------------------------------------------------------------


class Processes:
    """``samsyn serve``, ``samsyn project`` and ``samsyn seal`` on one store, each its own
    process, killed and started again at will."""

    def __init__(self, database_url: str, directory: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.directory = directory
        self.env = os.environ | {
            "SAMSYN_DATABASE_URL": database_url,
            "SAMSYN_DEMO_ON_EMPTY": "false",
            "SAMSYN_PROJECTIONS_IN_PROCESS": "false",
            "SAMSYN_SEAL_IN_PROCESS": "false",
            "SAMSYN_SIGNING_KEY_PATH": str(directory / "signing.key"),
            "SAMSYN_CHECKPOINT_INTERVAL": "2",
            "SAMSYN_LOG_LEVEL": "WARNING",
            "SAMSYN_LOG_FORMAT": "json",
        }
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.kills = 0

    def samsyn(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "api.cli", *args], env=self.env,
                              capture_output=True, text=True, timeout=300, check=False)

    def start(self, name: str) -> None:
        args = ["serve", "--port", str(self.port)] if name == "serve" else [name]
        log = (self.directory / f"{name}.log").open("ab")
        self.running[name] = subprocess.Popen(
            [sys.executable, "-m", "api.cli", *args], env=self.env, stdout=log, stderr=log)
        if name == "serve":
            wait_for(self._healthy, "the service's start")

    def _healthy(self) -> bool:
        process = self.running["serve"]
        if process.poll() is not None:
            log = (self.directory / "serve.log").read_text(errors="replace")[-2000:]
            raise AssertionError(f"samsyn serve exited {process.returncode}: {log}")
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def start_all(self) -> None:
        for name in ("serve", "project", "seal"):
            self.start(name)

    def kill(self, name: str) -> None:
        """kill -9, then start it again."""
        process = self.running.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        self.kills += 1
        self.start(name)

    def stop_all(self) -> None:
        for process in self.running.values():
            process.terminate()
        for process in self.running.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=60)
        self.running.clear()


# Registrars ---------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the registrars saw."""

    operations: int = 0
    acknowledged: dict[str, int] = field(default_factory=dict)  # tag -> position
    answers: Counter[int] = field(default_factory=Counter)  # status -> count, retries too
    unreachable: int = 0  # attempts that found no service (connection refused or cut)
    slowest_503: float = 0.0  # seconds the slowest 503 took to come
    failed: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int) -> None:
        with self.lock:
            self.answers[status] += 1

    @property
    def server_errors(self) -> int:
        """5xx answers other than 503 (a 503 says: retry later; nothing was written)."""
        return sum(n for status, n in self.answers.items() if status >= 500 and status != 503)


class Registrars:
    """``count`` registrar threads writing through ``client`` until :meth:`stop`."""

    def __init__(self, base_url: str, token: str, count: int, shared: list[str],
                 per_registrar: int | None = None) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.shared = shared
        self.per_registrar = per_registrar
        self.tally = Tally()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work, args=(n,), daemon=True)
                         for n in range(count)]

    def __enter__(self) -> Registrars:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=GIVE_UP_AFTER + 30)

    def wait(self) -> None:
        """Until each registrar has done its ``per_registrar`` operations."""
        for thread in self._threads:
            thread.join(timeout=GIVE_UP_AFTER * 5)

    def _work(self, registrar: int) -> None:
        with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=30) as client:
            n = 0
            while not self._stop.is_set() and (self.per_registrar is None
                                               or n < self.per_registrar):
                tag = f"r{registrar}-op{n}"
                if n % 3 == 2 and self.shared:
                    self._operation(client, tag, self.shared[n % len(self.shared)])
                else:
                    self._operation(client, tag, None)
                n += 1

    def _operation(self, client: httpx.Client, tag: str, shared: str | None) -> None:
        with self.tally.lock:
            self.tally.operations += 1
        deadline = time.monotonic() + GIVE_UP_AFTER
        version: str | None = None
        while time.monotonic() < deadline:
            try:
                if shared is not None and version is None:
                    version = self._version(client, shared)
                started = time.monotonic()
                response = self._send(client, tag, shared, version)
            except (httpx.TransportError, _Unavailable):
                with self.tally.lock:
                    self.tally.unreachable += 1
                time.sleep(0.2)
                continue
            self.tally.count(response.status_code)
            if response.status_code == 201:
                with self.tally.lock:
                    self.tally.acknowledged[tag] = response.json()["entries"][0]["position"]
                return
            if response.status_code == 409 and shared is not None:
                version = None  # someone corrected it first: read again and retry
                continue
            if response.status_code == 503:
                with self.tally.lock:
                    self.tally.slowest_503 = max(self.tally.slowest_503,
                                                 time.monotonic() - started)
                time.sleep(0.2)
                continue
            with self.tally.lock:
                self.tally.failed.append(f"{tag}: {response.status_code} {response.text[:300]}")
            return
        with self.tally.lock:
            self.tally.failed.append(f"{tag}: no answer within {GIVE_UP_AFTER:.0f} s")

    def _version(self, client: httpx.Client, shared: str) -> str:
        response = client.get(f"/v1/history/matter/{shared}")
        self.tally.count(response.status_code)
        if response.status_code != 200:
            raise _Unavailable
        return response.headers["etag"]

    def _send(self, client: httpx.Client, tag: str, shared: str | None,
              version: str | None) -> httpx.Response:
        headers = {"Idempotency-Key": tag}
        if shared is None:
            return client.post("/v1/matters", headers=headers, json={
                "title": f"Matter {tag}", "opened_on": "2024-01-02",
                "case_numbers": [{"organisation": "Alfa", "dnr": f"F/{tag}/2024"}]})
        assert version is not None
        return client.post("/v1/corrections", headers={**headers, "If-Match": version}, json={
            "entry": {"kind": "matter", "ref": shared}, "field": "title",
            "right_value": f"Shared title {tag}", "reason": f"correction {tag}"})


class _Unavailable(Exception):
    """The service answered a read with something other than 200: try again."""


def reference_data(base_url: str, token: str, shared: int = 3) -> list[str]:
    """An organisation, its board, and ``shared`` matters the registrars correct; answers the
    shared matters' references."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        for path, body in (
            ("/v1/organisations", {"ref": "Alfa", "name": "Alfa kommun", "kind": "principal",
                                   "registered_on": "2020-01-01"}),
            ("/v1/bodies", {"organisation": "Alfa", "code": "KS", "name": "Board",
                            "kind": "board"}),
        ):
            response = client.post(path, json=body)
            assert response.status_code == 201, response.text
        refs = []
        for n in range(shared):
            dnr = f"S/{n}/2024"
            response = client.post("/v1/matters", json={
                "title": f"Shared {n}", "opened_on": "2024-01-01",
                "case_numbers": [{"organisation": "Alfa", "dnr": dnr}]})
            assert response.status_code == 201, response.text
            refs.append(f"Alfa:{dnr}")
        return refs


#: Where an operation's tag is in its entry: a matter's title, a correction's reason.
TAGGED = re.compile(r"(?:Matter|correction) (r\d+-op\d+)")


@dataclass
class Findings:
    lost: list[str]
    duplicated: list[str]
    head: int


def read_feed(base_url: str, token: str, tally: Tally) -> Findings:
    """Every entry of the feed: which acknowledged operations are missing or there twice."""
    seen: Counter[str] = Counter()
    headers = {"Authorization": f"Bearer {token}"}
    after = 0
    head = 0
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        while True:
            page = client.get("/v1/events", params={"after": after, "limit": 1000})
            assert page.status_code == 200, page.text
            body = page.json()
            head = body["head"]
            for item in body["items"]:
                seen.update(set(TAGGED.findall(str(item["data"]))))
            if not body["items"]:
                break
            after = body["next_after"]
    lost = sorted(tag for tag in tally.acknowledged if seen[tag] == 0)
    duplicated = sorted(tag for tag, n in seen.items() if n > 1)
    return Findings(lost, duplicated, head)


def report(what: str, tally: Tally, findings: Findings, **figures: Any) -> None:
    """Print the figures (pytest shows them with -s, and in the log of a failure)."""
    line = (f"[faults] {what}: operations={tally.operations}"
            f" acknowledged={len(tally.acknowledged)} lost={len(findings.lost)}"
            f" duplicated={len(findings.duplicated)} 5xx={tally.server_errors}"
            f" 503={tally.answers.get(503, 0)} 409={tally.answers.get(409, 0)}"
            f" unreachable={tally.unreachable} failed={len(tally.failed)}"
            f" slowest_503={tally.slowest_503:.1f}s"
            + "".join(f" {k}={v}" for k, v in figures.items()))
    FIGURES.append(line)
    print(line)


def assert_nothing_lost(tally: Tally, findings: Findings) -> None:
    assert tally.failed == []
    assert findings.lost == []
    assert findings.duplicated == []
    assert tally.server_errors == 0, dict(tally.answers)
    assert len(tally.acknowledged) == tally.operations
