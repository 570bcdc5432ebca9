"""Benchmark: rebuilding every read model from a PostgreSQL ledger, against reading it raw.

Builds N synthetic entries (default 50,000) in a temporary PostgreSQL schema through the
real command handlers (many commands per transaction, so building is quick), then, three
times each, measures

* rebuild: ``projections.rebuild()`` of all seven read models (read, decode, file, fold, swap);
* raw: SELECT of the same notifications in the same pages plus decoding each with the
  library's mapper, and nothing else;

and prints the medians in entries per second and their ratio. The schema is dropped at the end.

    .venv/bin/python bench/rebuild.py [--events 50000] [--url postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import psycopg

from ledger.application import Ledger
from ledger.commands import parse_command
from ledger.settings import Settings
from ledger.storage import persistence_env
from projections.rebuilding import REBUILD_PAGE, rebuild

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
        rebuilds, raws = [], []
        for run in range(1, args.runs + 1):
            started = time.perf_counter()
            position = rebuild(settings, schema=schema, page_size=args.page)
            rebuilds.append(time.perf_counter() - started)
            started = time.perf_counter()
            count = raw_read(ledger, args.page)
            raws.append(time.perf_counter() - started)
            assert count == total and position == ledger.max_position(), (count, position)
            print(f"run {run}: rebuild {rebuilds[-1]:.2f}s, raw select+decode {raws[-1]:.2f}s")
        rebuild_rate = total / statistics.median(rebuilds)
        raw_rate = total / statistics.median(raws)
        print(f"rebuild (all 7 read models): {rebuild_rate:,.0f} entries/s (median of {args.runs})")
        print(f"raw SELECT + decode:        {raw_rate:,.0f} entries/s (median of {args.runs})")
        print(f"ratio rebuild/raw:          {rebuild_rate / raw_rate:.2f}")
        ledger.close()
    finally:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
