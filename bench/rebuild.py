"""Benchmark (3): rebuilding every read model, against reading the same entries raw.

Two measurements, each a rebuild followed at once by its baseline over the same entries:

* rebuild: ``projections.rebuilding.rebuild()`` of all seven read models (read, decode,
  file, fold, swap), in entries per second;
* raw: ``SELECT`` of the same notifications in the same pages plus decoding each with the
  library's mapper (``Ledger.mapper.to_domain_event``), and nothing else.

Target: the rebuild at least half as fast as the raw read, and on PostgreSQL at least
10,000 entries/s. In the harness (``python -m bench.run --only rebuild``) it runs over the
harness's synthetic history on SQLite and PostgreSQL. Standalone, it builds N synthetic
entries (default 50,000) in a temporary PostgreSQL schema through the real command
handlers (many commands per transaction, so building is quick), measures three times,
prints the medians and their ratio, and drops the schema:

    .venv/bin/python bench/rebuild.py [--events 50000] [--url postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg

if not __package__:  # run as a script, python bench/rebuild.py: import from the repository
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import Context, MachineLoad, Result, benchmark, log, median
from ledger.application import Ledger
from ledger.commands import parse_command
from ledger.settings import Settings
from ledger.storage import persistence_env
from projections.rebuilding import REBUILD_PAGE, rebuild

#: Target on PostgreSQL, entries per second, whatever the raw rate.
POSTGRES_TARGET = 10_000
#: Target as a share of the raw SELECT + decode rate.
RAW_SHARE = 0.5

DEFAULT_URL = os.environ.get("SAMSYN_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PRINCIPALS = ["R", *(f"M{i}" for i in range(1, 9))]


def reference_data() -> Iterator[dict[str, Any]]:
    for p in PRINCIPALS:
        yield {"type": "RegisterOrganisation", "ref": p, "name": f"Principal {p}",
               "kind": "principal", "registered_on": "2017-01-01"}
        yield {"type": "EstablishBody", "organisation": p, "code": "KS", "name": "Board",
               "kind": "board"}
    yield {"type": "EstablishBody", "organisation": "R", "code": "HSN", "name": "Committee",
           "kind": "committee"}
    yield {"type": "RegisterOrganisation", "ref": "J", "name": "Joint body", "kind": "joint_body",
           "registered_on": "2017-01-01"}


def cycle(n: int) -> Iterator[dict[str, Any]]:
    """One matter's worth of entries (about 60): an agreement extended by every party after
    a recommendation, a conditional decision and its endorsement, a meeting, a consultation,
    an assignment with a revised deadline, and a correction."""
    day = date(2018, 1, 1) + timedelta(days=n % 2000)
    d = day.isoformat

    def on(offset: int) -> str:
        return (day + timedelta(days=offset)).isoformat()

    matter = {"organisation": "R", "dnr": f"RS/{n}/2020"}
    agreement, rec, cons, task = f"A{n}", f"REC{n}", f"C{n}", f"T{n}"
    meeting = f"R/KS/{n}"
    yield {"type": "OpenMatter", "title": f"Matter {n}", "opened_on": d(), "case_numbers": [matter]}
    yield {"type": "RegisterAgreement", "ref": agreement, "title": f"Agreement {n}",
           "parties": PRINCIPALS, "matter": matter, "valid_from": d(), "valid_until": on(365)}
    yield {"type": "IssueRecommendation", "ref": rec, "joint_body": "J", "title": "Extend",
           "matter": matter, "issued_on": d(), "addressees": PRINCIPALS, "respond_by": on(90),
           "points": [{"number": 1, "text": "Extend", "effects": [
               {"effect": "extend_agreement", "agreement": agreement, "until": on(730)}]}]}
    yield {"type": "HoldMeeting", "ref": meeting, "organisation": "R", "body": "KS",
           "held_on": on(10)}
    for i, p in enumerate(PRINCIPALS):
        effects = [{"effect": "adopt_recommendation", "recommendation": rec},
                   {"effect": "extend_agreement", "agreement": agreement, "until": on(730)}]
        command: dict[str, Any] = {
            "type": "RecordDecision", "organisation": p, "body": "KS", "decided_on": on(10 + i),
            "matter": matter, "points": [{"number": 1, "text": "Extend", "effects": effects}],
        }
        if p == "R":
            effects.append({"effect": "give_assignment", "assignment": task, "owner": "Director",
                            "task": "Report back", "due_on": on(120)})
            command.update(meeting=meeting, paragraph=1, conditions=[
                {"text": "Committee endorses", "endorsement_by": {"organisation": "R",
                                                                  "body": "HSN"}}])
        else:
            command["ref"] = f"{p}/{n}"
        yield command
    yield {"type": "VerifyParagraph", "meeting": meeting, "paragraph": 1, "verified_on": on(11),
           "verified_by": ["Chair"]}
    yield {"type": "RecordDecision", "ref": f"HSN/{n}", "organisation": "R", "body": "HSN",
           "decided_on": on(20), "points": [{"number": 1, "text": "Endorse", "effects": [
               {"effect": "endorse_decision", "decision": f"{meeting} §1"},
               {"effect": "set_deadline", "assignment": task, "due_on": on(150)}]}]}
    yield {"type": "OpenConsultation", "ref": cons, "organisation": "J", "subject": "Plan",
           "matter": matter, "addressees": PRINCIPALS, "opens_on": on(30), "closes_on": on(60)}
    for i, p in enumerate(PRINCIPALS[:6]):
        yield {"type": "RecordConsultationResponse", "consultation": cons, "principal": p,
               "received_on": on(40 + i * 5), "stance": "supports"}
    yield {"type": "CloseConsultation", "consultation": cons, "closed_on": on(65)}
    yield {"type": "ReportBack", "assignment": task, "reported_on": on(140)}
    yield {"type": "CorrectEntry", "entry": {"kind": "decision", "ref": f"M1/{n}"},
           "field": "decided_on", "right_value": on(12), "reason": "typo in the minutes"}


def build(ledger: Ledger, events: int) -> int:
    """Append synthetic commands (many per transaction) until about ``events`` entries."""
    total = 0
    n = 0
    commands: Iterator[dict[str, Any]] = reference_data()
    while total < events:
        batch = []
        for _ in range(300):
            command = next(commands, None)
            if command is None:
                commands = cycle(n)
                n += 1
                command = next(commands)
            batch.append(parse_command(command))
        receipts = ledger.execute_many(batch, recorded_by="bench")
        total += sum(len(r.entries) for r in receipts)
    return total


def raw_read(ledger: Ledger, page: int) -> int:
    """SELECT every notification in pages and decode each with the library's mapper."""
    count, after = 0, 0
    while notifications := ledger.recorder.select_notifications(
        start=after, limit=page, inclusive_of_start=False
    ):
        for notification in notifications:
            ledger.mapper.to_domain_event(notification)
        count += len(notifications)
        after = notifications[-1].id
    return count


def measure(ledger: Ledger, settings: Settings, schema: str | None,
            page: int = REBUILD_PAGE) -> tuple[int, float, float]:
    """One rebuild and then its raw baseline: (entries, rebuild seconds, raw seconds)."""
    started = time.perf_counter()
    position = rebuild(settings, schema=schema, page_size=page)
    rebuilt = time.perf_counter() - started
    started = time.perf_counter()
    count = raw_read(ledger, page)
    raw = time.perf_counter() - started
    if count != position:
        msg = f"the rebuild reached {position}, the raw read {count} entries"
        raise RuntimeError(msg)
    return count, rebuilt, raw


@benchmark("rebuild", "(3) rebuild of all read models, events/s")
def rebuild_benchmark(ctx: Context) -> list[Result]:
    rebuilds, raws = [], []
    machine = MachineLoad()
    ledger = ctx.ledger()
    try:
        for run in range(ctx.scale.runs):
            machine.sample()
            count, rebuilt, raw = measure(ledger, ctx.settings, ctx.schema)
            rebuilds.append(count / rebuilt)
            raws.append(count / raw)
            log(f"rebuild run {run + 1}: {count:,} entries, rebuild {rebuilds[-1]:,.0f}/s "
                f"({rebuilt:.1f} s), raw SELECT + decode {raws[-1]:,.0f}/s ({raw:.1f} s)")
    finally:
        ledger.close()
    machine.sample()
    note = f"{count:,} entries, pages of {REBUILD_PAGE:,}, one process; {machine}"
    baseline = "raw SELECT + library decode of the same entries"
    figure = median(rebuilds)
    vs_raw = Result("rebuild", ctx.backend, "rebuild of all 7 read models, events/s vs raw",
                    figure, "events/s", baseline, median(raws), f"≥ {RAW_SHARE} x raw", None,
                    rebuilds, raws, note)
    vs_raw.met = (vs_raw.ratio or 0.0) >= RAW_SHARE
    results = [vs_raw]
    if ctx.backend == "postgres":
        results.append(Result("rebuild", ctx.backend, "rebuild of all 7 read models, events/s",
                              figure, "events/s", baseline, median(raws),
                              f"≥ {POSTGRES_TARGET:,} events/s", figure >= POSTGRES_TARGET,
                              rebuilds, raws, note))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--page", type=int, default=REBUILD_PAGE)
    args = parser.parse_args()
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    settings = Settings(database_url=args.url)
    with psycopg.connect(args.url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        ledger = Ledger(env=persistence_env(settings, schema=schema))
        started = time.perf_counter()
        total = build(ledger, args.events)
        print(f"built {total} entries in {time.perf_counter() - started:.1f}s (schema {schema})")
        rebuilds, raws, ratios = [], [], []
        for run in range(1, args.runs + 1):
            load = os.getloadavg()[0]
            count, rebuilt, raw = measure(ledger, settings, schema, args.page)
            rebuilds.append(rebuilt)
            raws.append(raw)
            ratios.append(raw / rebuilt)
            print(f"run {run}: rebuild {rebuilt:.2f}s, raw select+decode {raw:.2f}s, "
                  f"ratio {raw / rebuilt:.2f}, 1-min load average {load:.1f}")
        rebuild_rate = count / statistics.median(rebuilds)
        raw_rate = count / statistics.median(raws)
        print(f"rebuild (all 7 read models): {rebuild_rate:,.0f} entries/s (median of {args.runs})")
        print(f"raw SELECT + decode:        {raw_rate:,.0f} entries/s (median of {args.runs})")
        print(f"ratio rebuild/raw:          {statistics.median(ratios):.2f} (median of the runs')")
        ledger.close()
    finally:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
