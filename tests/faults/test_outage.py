"""PostgreSQL stopped and started under write load, on a scratch cluster of the test's
own: writes answer 503 (retried by the registrars) while it is away, never another 5xx;
nothing acknowledged is lost or written twice; the read models catch up."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.faults.harness import (
    Processes,
    Registrars,
    assert_nothing_lost,
    read_feed,
    reference_data,
    report,
    scratch_cluster,
    wait_for,
)

OUTAGES = 2
AWAY = 4.0  # seconds the database stays stopped
REGISTRARS = 6


def ready(url: str) -> bool:
    try:
        response = httpx.get(f"{url}/ready", timeout=5)
    except httpx.TransportError:
        return False
    return response.status_code == 200


def test_postgresql_stopped_and_started_under_load_loses_nothing(tmp_path: Path) -> None:
    with scratch_cluster() as cluster:
        processes = Processes(cluster.url, tmp_path)
        processes.env |= {"SAMSYN_PROJECTIONS_IN_PROCESS": "true",
                          "SAMSYN_SEAL_IN_PROCESS": "true"}
        created = processes.samsyn("token", "create", "registrar", "--role", "admin")
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip()
        processes.start("serve")
        back_within = []
        try:
            shared = reference_data(processes.url, token)
            with Registrars(processes.url, token, REGISTRARS, shared) as registrars:
                for _ in range(OUTAGES):
                    time.sleep(2.0)
                    cluster.stop()
                    time.sleep(AWAY)
                    cluster.start()
                    returned = time.monotonic()
                    wait_for(lambda: ready(processes.url), "readiness after the outage")
                    back_within.append(round(time.monotonic() - returned, 1))
                time.sleep(2.0)
            wait_for(lambda: ready(processes.url), "readiness at the end")
            findings = read_feed(processes.url, token, registrars.tally)
        finally:
            processes.stop_all()

    report("postgresql outage", registrars.tally, findings, outages=OUTAGES,
           ready_again_after_s=back_within, head=findings.head)
    assert registrars.tally.answers[503] + registrars.tally.unreachable > 0  # it was away
    assert_nothing_lost(registrars.tally, findings)
