"""The door invariant, as a property: whatever the ledger accepts flows everywhere.

Every command type (from the command registry, through :data:`SCENARIOS`) is sent through
the HTTP API with one of its values made hostile: dates 0001-01-01 and 9999-12-31,
integers beyond 64 bits, NUL and other control characters, bidi overrides, unnormalised
Unicode, huge strings and lists, deep nesting. Each is either refused at the door (a 4xx
problem naming the field, nothing written) or it flows everywhere: every read model applies
it, its entry and dashboard pages answer, and at the end every read route answers, a
rebuild equals the read models kept up incrementally, and the export verifies.

Examples are derandomized (the same ones in every run, on both backends) and bounded per
command type; the figures of each run are printed (``pytest -s``).
"""

from __future__ import annotations

import copy
import itertools
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from random import Random
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ledger.commands import COMMAND_TYPES
from ledger.integrity.verify import verify_export
from ledger.limits import MAX_DATE, MAX_TEXT_LENGTH, MIN_DATE
from projections.db import Database
from projections.pipeline import READ_MODELS, TRACKING_TABLE
from projections.rebuilding import rebuild
from tests.hostile.conftest import Deep, Door
from tests.hostile.scenarios import EFFECTS, SCENARIOS, Scenario

#: Examples tried per command type and backend.
EXAMPLES_PER_TYPE = 15

DATES: list[Any] = [
    "0001-01-01", "9999-12-31", "9999-12-25", "1799-12-31", "1800-01-01", "2999-12-31",
    "3000-01-01", "0000-01-01", "2021-02-29", "2020-02-29", "2021-13-01", "20210101",
    "2021-01-01T00:00:00", "+10000-01-01", 0, 10**12, -(10**12), 2**63, 1e20,
]
NUMBERS: list[Any] = [
    0, -1, 1_000_000, 1_000_001, 2**31, 2**63 - 1, 2**63, 2**64, 10**30, -(2**63) - 1,
    1.5, 1e308, "12", True,
]
STRINGS: list[Any] = [
    "A\u0000B", "\u0000", "A\u0007B", "tab\there", "line\nbreak", "A\u202eB",
    "\u2066isolated\u2069", "A\u200bB", "A\u00adB", "\ufeffA", "A\u00a0B", "A\u030are",
    "\u00c5re", "\u2126", "half \ud800", "\U0001f468\u200d\U0001f469", "\u0645\u0631\u062d",
    "x" * 201, "x" * 301, "x" * MAX_TEXT_LENGTH, "x" * (MAX_TEXT_LENGTH + 1), "x" * 200_000,
    "", "   ", "A\u2028B", "\ue000", "\uffff", "e\u0301", "<script>alert(1)</script>",
    "../../etc/passwd", "%00", "{{ 7*7 }}", 12, None, Deep(3),
]
NESTED: list[Any] = [None, {}, [], Deep(100), Deep(50_000)]
SIZES = [0, 101, 501, 1001, 5_000, 100_000]

#: Keys that choose what a command or effect is: mutating them asks for another route.
FIXED = {"type"}
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Union tags pydantic puts into the location of an error ("...effects.0.extend_agreement.x").
TAGS = set(EFFECTS) | set(COMMAND_TYPES) | {"body", "function-after[_coherent()]"}

Path = tuple[str | int, ...]


def leaves(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every value of a command (lists and objects too), with where it stands."""
    if path:
        yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in FIXED:
                yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))


def kind_of(value: Any) -> str:
    """Which hostile values fit where ``value`` stands."""
    if isinstance(value, bool):
        return "flag"
    if isinstance(value, int):
        return "number"
    if isinstance(value, str) and DAY.match(value):
        return "date"
    if isinstance(value, str) or value is None:
        return "string"
    return "list" if isinstance(value, list) else "object"


@dataclass(frozen=True)
class Resize:
    """The list standing there, its first item repeated ``size`` times."""

    size: int

    def of(self, value: list[Any]) -> list[Any]:
        return [value[0]] * self.size if value else []


def hostile(value: Any) -> list[Any]:
    """The hostile values to try in place of ``value``."""
    return {
        "flag": ["yes", 2, *NESTED],
        "number": NUMBERS + NESTED,
        "date": DATES + STRINGS[:6] + NESTED,
        "string": STRINGS + DATES[:3] + NESTED,
        "list": [Resize(size) for size in SIZES] + NESTED,
        "object": NESTED,
    }[kind_of(value)]


def tour() -> Iterator[tuple[str, Path, Any]]:
    """Every hostile value once, each in another command type's field of its kind: the
    examples every run tries besides those hypothesis draws."""
    fields: dict[str, dict[str, list[Path]]] = {}
    for type_name, scenarios in sorted(SCENARIOS.items()):
        _, command = scenarios[0](0)
        for path, value in leaves(command):
            fields.setdefault(kind_of(value), {}).setdefault(type_name, []).append(path)
    plan = [("date", v) for v in DATES] + [("number", v) for v in NUMBERS] + [
        ("string", v) for v in STRINGS] + [("list", Resize(size)) for size in SIZES] + [
        ("object", v) for v in NESTED]
    turns = itertools.count()
    for kind, value in plan:
        turn = next(turns)
        types = sorted(fields[kind])
        type_name = types[turn % len(types)]
        paths = fields[kind][type_name]
        yield type_name, paths[turn % len(paths)], value


def replaced(command: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(command)
    target: Any = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


def names(field_path: str, path: Path) -> bool:
    """Whether an error's field names the value at ``path`` (or an object holding it, or the
    whole body)."""
    given = [p for p in field_path.split(".") if p not in TAGS]
    wanted = [str(p) for p in path]
    return (not given or given == wanted[:len(given)] or wanted == given[:len(wanted)]
            or given[-1] == wanted[-1])


@dataclass
class Tally:
    tried: int = 0
    flowed: int = 0
    refused: Counter[int] = field(default_factory=Counter)
    flowed_by_type: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    case_numbers: set[str] = field(default_factory=set)

    def report(self, backend: str) -> str:
        refused = sum(self.refused.values())
        return (f"hostile door [{backend}]: {self.tried} examples, {refused} refused "
                f"({dict(sorted(self.refused.items()))}), {self.flowed} flowed "
                f"({len(self.flowed_by_type)} command types), "
                f"{time.monotonic() - self.started:.1f} s")


def at_the_door(response: httpx.Response) -> bool:
    """Refused before the ledger was asked: the command itself is malformed, or too large."""
    return response.status_code in (400, 413) or (
        response.status_code == 422 and response.json()["type"].endswith("invalid-request"))


def assert_refused(door: Door, response: httpx.Response, path: Path, before: int) -> None:
    """A 4xx problem document naming the field (door checks) or giving the rule broken, and
    nothing written."""
    assert 400 <= response.status_code < 500, (path, response.status_code, response.text[:500])
    assert response.headers["content-type"] == "application/problem+json", response.text[:300]
    problem = response.json()
    errors = problem.get("errors") or []
    assert errors and all(e["field"] and e["reason"] for e in errors), problem
    if at_the_door(response):
        assert any(names(e["field"], path) for e in errors), (path, errors)
    assert door.head() == before, f"refused with {response.status_code}, yet written"


def pages_of(door: Door, entry: dict[str, Any]) -> list[str]:
    """The read routes and dashboard pages showing one entry."""
    ref = quote(str(entry["ref"]), safe="")
    return {
        "agreement": [f"/v1/agreements/{ref}"],
        "recommendation": [f"/v1/recommendations/{ref}/adoption"],
        "consultation": [f"/v1/consultations/{ref}"],
        "decision": [f"/v1/decisions/{ref}", f"/decisions/{ref}"],
        "assignment": [f"/v1/assignments/{ref}"],
    }.get(entry["kind"], [])


def matter_pages(case_number: str) -> list[str]:
    quoted = quote(case_number, safe="")
    return [f"/v1/matters/{quoted}/timeline", f"/matters/{quoted}"]


def read(door: Door, route: str, **params: Any) -> httpx.Response:
    response = door.client.get(route, params=params, headers=door.auth("auditor"))
    assert response.status_code in (200, 404), (route, response.status_code,
                                                response.text[-1500:])
    return response


def assert_flows(door: Door, response: httpx.Response, command: dict[str, Any],
                 tally: Tally) -> None:
    """Every read model applied it; its entries and pages, and the dashboard, answer."""
    door.caught_up()
    for entry in response.json()["entries"]:
        history = read(door, f"/v1/entries/{entry['aggregate_id']}")
        if entry["event_type"].startswith("CaseNumber."):  # an index, not an entry of its own
            continue
        assert history.status_code == 200, entry
        for route in pages_of(door, history.json()):
            read(door, route)
    for item in (command.get("matter"), command.get("case_number"),
                 *command.get("case_numbers", [])):
        if isinstance(item, dict):
            tally.case_numbers.add(f"{item['organisation']}:{item['dnr']}")
    assert read(door, "/").status_code == 200


def snapshot(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    result: dict[str, list[tuple[Any, ...]]] = {}
    with database.transaction(write=False) as tx:
        for table in [t for model in READ_MODELS for t in model.tables()] + [TRACKING_TABLE]:
            result[table] = sorted(tuple(r) for r in tx.query(f"SELECT * FROM {tx.table(table)}"))
    return result


def sweep(door: Door, tally: Tally) -> None:
    """Every read route over everything that flowed, the feed to its end, the export."""
    door.caught_up()
    listings = {"/v1/agreements": "agreement", "/v1/recommendations": "recommendation",
                "/v1/consultations": "consultation", "/v1/decisions": "decision",
                "/v1/assignments": "assignment"}
    for day in (None, MIN_DATE.isoformat(), MAX_DATE.isoformat()):
        when = {"as_of": day} if day else {}
        assert read(door, "/", **when).status_code == 200
        for route, kind in listings.items():
            body = read(door, route, limit=500, **when).json()
            for item in body["items"]:
                for page in pages_of(door, {"kind": kind, "ref": item["ref"]}):
                    read(door, page, **when)
        for case_number in sorted(tally.case_numbers):
            for page in matter_pages(case_number):
                read(door, page, **when)
    assert read(door, "/v1/audit-trail", limit=500).status_code == 200
    after = 0
    while True:
        items = read(door, "/v1/events", after=after, limit=1000).json()["items"]
        if not items:
            break
        after = items[-1]["position"]
    assert after == door.head()

    auditor = door.auth("auditor")
    assert door.client.post("/v1/integrity/checkpoints", headers=auditor).status_code in (
        200, 201)
    export = door.client.get("/v1/integrity/export", headers=auditor)
    assert export.status_code == 200
    report = verify_export([export.content], trusted_vkey=door.app.state.integrity.public_key)
    assert report.entries == door.head()
    assert door.app.state.integrity.verify_live(door.ledger).ok


@dataclass
class Attempts:
    """Sends commands with one value made hostile, and checks what becomes of each."""

    door: Door
    tally: Tally = field(default_factory=Tally)
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def attempt(self, type_name: str, scenario: Callable[[int], Scenario], path: Path,
                value: Any) -> None:
        """Send the command with ``value`` at ``path``: first alone, then (unless the door
        refused it outright) after the entries it needs. Refusals must name the field and
        write nothing; what is accepted must flow everywhere."""
        door, tally = self.door, self.tally
        prerequisites, command = scenario(next(self.numbers))
        if isinstance(value, Resize):
            value = value.of(_at(command, path))
        sent = replaced(command, path, value)
        tally.tried += 1
        response = self.send(path, sent)
        if response.status_code != 201 and not at_the_door(response):
            for step in prerequisites:
                door.record(step)
            response = self.send(path, sent)
        if response.status_code == 201:
            tally.flowed += 1
            tally.flowed_by_type[type_name] += 1
            assert_flows(door, response, sent, tally)
        else:
            tally.refused[response.status_code] += 1

    def send(self, path: Path, command: dict[str, Any]) -> httpx.Response:
        before = self.door.head()
        response = self.door.post(command)
        if response.status_code != 201:
            assert_refused(self.door, response, path, before)
        return response

    def explore(self, type_name: str) -> None:
        """Hypothesis draws a scenario, a field and a hostile value for it, uniformly."""
        scenarios = SCENARIOS[type_name]

        @settings(max_examples=EXAMPLES_PER_TYPE, derandomize=True, database=None,
                  deadline=None, phases=(Phase.explicit, Phase.generate),
                  suppress_health_check=list(HealthCheck))
        @given(choose=st.randoms(use_true_random=False))
        def explore(choose: Random) -> None:
            scenario = choose.choice(scenarios)
            _, command = scenario(0)
            path, original = choose.choice(list(leaves(command)))
            self.attempt(type_name, scenario, path, choose.choice(hostile(original)))

        explore()


def _at(command: dict[str, Any], path: Path) -> Any:
    value: Any = command
    for step in path:
        value = value[step]
    return value


def test_whatever_the_door_accepts_flows_everywhere(door: Door, backend: str) -> None:
    attempts = Attempts(door)
    for type_name, path, value in tour():
        attempts.attempt(type_name, SCENARIOS[type_name][0], path, value)
    for type_name in sorted(COMMAND_TYPES):
        attempts.explore(type_name)
    sweep(door, attempts.tally)

    database = Database(door.settings, schema=door.schema)
    try:
        door.runner.stop()
        incremental = snapshot(database)
        rebuild(door.settings, schema=door.schema)
        assert snapshot(database) == incremental
    finally:
        database.close()
    print(attempts.tally.report(backend))
    assert sum(attempts.tally.refused.values()) > 0
