"""Properties over random command sequences: incremental equals rebuilt, known-at equals a prefix.

Commands are drawn over a small world (three principals, an agreement, a joint plan, a
recommendation, a consultation) so that they often touch the same records; the ledger
refuses the incoherent ones, as it would a registrar's.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.queries import ReadModels
from projections.rebuilding import rebuild
from tests.backends import BACKENDS
from tests.projections.conftest import Clock, Registrar, fresh_store, snapshot

PRINCIPALS = ["A", "B", "C"]
AS_OF = [date(2020, 6, 30), date(2021, 6, 30), date(2022, 12, 31)]

days = st.dates(date(2020, 1, 1), date(2022, 12, 31)).map(date.isoformat)
principals = st.sampled_from(PRINCIPALS)
numbers = st.integers(0, 5)


def world() -> list[dict[str, Any]]:
    commands: list[dict[str, Any]] = []
    for p in PRINCIPALS:
        commands += [
            {
                "type": "RegisterOrganisation",
                "ref": p,
                "name": p,
                "kind": "principal",
                "registered_on": "2019-01-01",
            },
            {
                "type": "EstablishBody",
                "organisation": p,
                "code": "KS",
                "name": "KS",
                "kind": "board",
            },
        ]
    commands += [
        {
            "type": "EstablishBody",
            "organisation": "A",
            "code": "HSN",
            "name": "HSN",
            "kind": "committee",
        },
        {
            "type": "RegisterOrganisation",
            "ref": "J",
            "name": "J",
            "kind": "joint_body",
            "registered_on": "2019-01-01",
        },
        {
            "type": "OpenMatter",
            "title": "M",
            "opened_on": "2019-06-01",
            "case_numbers": [{"organisation": "A", "dnr": "1"}],
        },
        {
            "type": "RegisterAgreement",
            "ref": "AG",
            "title": "Avtal",
            "parties": PRINCIPALS,
            "matter": {"organisation": "A", "dnr": "1"},
            "valid_from": "2020-01-01",
            "valid_until": "2020-12-31",
        },
        {
            "type": "RegisterAgreement",
            "ref": "JP",
            "title": "Plan",
            "kind": "joint_plan",
            "parties": PRINCIPALS,
            "valid_from": "2021-01-01",
            "concluded": False,
        },
        {
            "type": "IssueRecommendation",
            "ref": "R",
            "joint_body": "J",
            "title": "Förläng",
            "matter": {"organisation": "A", "dnr": "1"},
            "issued_on": "2020-02-01",
            "addressees": PRINCIPALS,
            "respond_by": "2020-09-30",
            "points": [
                {
                    "number": 1,
                    "text": "Förläng",
                    "effects": [
                        {"effect": "extend_agreement", "agreement": "AG", "until": "2021-12-31"}
                    ],
                }
            ],
        },
        {
            "type": "OpenConsultation",
            "ref": "K",
            "organisation": "J",
            "subject": "Plan",
            "matter": {"organisation": "A", "dnr": "1"},
            "addressees": PRINCIPALS,
            "opens_on": "2020-03-01",
            "closes_on": "2020-05-31",
        },
    ]
    return commands


effect = st.one_of(
    st.builds(
        lambda until: {"effect": "extend_agreement", "agreement": "AG", "until": until},
        st.sampled_from(["2021-12-31", "2022-06-30"]),
    ),
    st.builds(
        lambda on: {"effect": "terminate_agreement", "agreement": "AG", "effective_on": on}, days
    ),
    st.just({"effect": "replace_agreement", "agreement": "AG", "replaced_by": "JP"}),
    st.just({"effect": "adopt_agreement", "agreement": "JP"}),
    st.just({"effect": "adopt_recommendation", "recommendation": "R"}),
    st.just({"effect": "reject_recommendation", "recommendation": "R"}),
    st.builds(
        lambda n, due: {
            "effect": "give_assignment",
            "assignment": f"T{n}",
            "owner": "O",
            "task": "Gör",
            "due_on": due,
        },
        numbers,
        days,
    ),
    st.builds(
        lambda n, due: {"effect": "set_deadline", "assignment": f"T{n}", "due_on": due},
        numbers,
        days,
    ),
)


def decision(
    n: int, org: str, on: str, effects: list[Any], conditional: bool, in_meeting: bool
) -> list[dict[str, Any]]:
    command: dict[str, Any] = {
        "type": "RecordDecision",
        "organisation": org,
        "body": "KS",
        "decided_on": on,
        "matter": {"organisation": "A", "dnr": "1"},
        "points": [{"number": 1, "text": "Beslut", "effects": effects}],
    }
    if conditional:
        command["conditions"] = [
            {"text": "om HSN", "endorsement_by": {"organisation": "A", "body": "HSN"}}
        ]
    if not in_meeting:
        return [{**command, "ref": f"D{n}"}]
    meeting = f"M{n}"
    return [
        {"type": "HoldMeeting", "ref": meeting, "organisation": org, "body": "KS", "held_on": on},
        {**command, "meeting": meeting, "paragraph": 1},
    ]


def decision_ref(n: int) -> str:
    return f"D{n}"


command = st.one_of(
    st.builds(
        lambda *a: ("decision", a),
        principals,
        days,
        st.lists(effect, max_size=3),
        st.booleans(),
        st.booleans(),
    ),
    st.builds(lambda n, on: ("endorse", (n, on)), numbers, days),
    st.builds(
        lambda p, on, stance: [
            {
                "type": "RecordConsultationResponse",
                "consultation": "K",
                "principal": p,
                "received_on": on,
                "stance": stance,
            }
        ],
        principals,
        days,
        st.sampled_from(["supports", "objects"]),
    ),
    st.builds(
        lambda on: [{"type": "CloseConsultation", "consultation": "K", "closed_on": on}], days
    ),
    st.builds(
        lambda n, on: [{"type": "ReportBack", "assignment": f"T{n}", "reported_on": on}],
        numbers,
        days,
    ),
    st.builds(lambda n, on: ("verify", (n, on)), numbers, days),
    st.builds(lambda n, on: ("appeal", (n, on)), numbers, days),
    st.builds(
        lambda kind, n, reason: ("void", (kind, n, reason)),
        st.sampled_from(["decision", "assignment"]),
        numbers,
        st.just("fel"),
    ),
    st.builds(lambda n, on: ("correct", (n, on)), numbers, days),
    st.builds(
        lambda on: [
            {
                "type": "CorrectEntry",
                "entry": {"kind": "agreement", "ref": "AG"},
                "field": "valid_until",
                "right_value": on,
                "reason": "rätt datum",
            }
        ],
        days,
    ),
    st.builds(
        lambda on: [
            {
                "type": "CorrectEntry",
                "entry": {"kind": "consultation", "ref": "K"},
                "field": "closes_on",
                "right_value": on,
                "reason": "rätt datum",
            }
        ],
        days,
    ),
)


def expand(step: Any, n: int, refs: list[str]) -> list[dict[str, Any]]:
    """The commands of one drawn step; ``refs`` are the decisions recorded so far."""
    if isinstance(step, list):
        return step
    kind, args = step
    chosen = args[1] if kind == "void" else args[0]
    pick = refs[chosen % len(refs)] if refs and kind != "decision" else None
    if kind == "decision":
        org, on, effects, conditional, in_meeting = args
        return decision(n, org, on, effects, conditional, in_meeting)
    if pick is None:
        return []
    if kind == "endorse":
        return [
            {
                "type": "RecordDecision",
                "ref": f"E{n}",
                "organisation": "A",
                "body": "HSN",
                "decided_on": args[1],
                "points": [
                    {
                        "number": 1,
                        "text": "Bakom",
                        "effects": [{"effect": "endorse_decision", "decision": pick}],
                    }
                ],
            }
        ]
    if kind in ("verify", "appeal"):
        if not pick.startswith("M"):
            return []
        meeting = pick.split(" ")[0]
        if kind == "verify":
            return [
                {
                    "type": "VerifyParagraph",
                    "meeting": meeting,
                    "paragraph": 1,
                    "verified_on": args[1],
                    "verified_by": ["X"],
                }
            ]
        return [
            {
                "type": "LodgeAppeal",
                "meeting": meeting,
                "paragraph": 1,
                "appeal_ref": f"F{n}",
                "lodged_on": args[1],
                "appellant": "Y",
            }
        ]
    if kind == "void":
        target, _, reason = args
        ref = pick if target == "decision" else f"T{args[1]}"
        return [{"type": "VoidEntry", "entry": {"kind": target, "ref": ref}, "reason": reason}]
    return [
        {
            "type": "CorrectEntry",
            "entry": {"kind": "decision", "ref": pick},
            "field": "decided_on",
            "right_value": args[1],
            "reason": "rätt datum",
        }
    ]


def answers(models: ReadModels, known_at: datetime | None, refs: list[str]) -> list[Any]:
    result: list[Any] = []
    for day in AS_OF:
        result += [
            models.agreement_status("AG", as_of=day, known_at=known_at),
            models.agreement_status("JP", as_of=day, known_at=known_at),
            models.list_agreements(as_of=day, known_at=known_at),
            models.adoption("R", as_of=day, known_at=known_at),
            models.consultation("K", as_of=day, known_at=known_at),
            models.decisions(as_of=day, known_at=known_at),
            models.decisions(
                organisation="A",
                from_=date(2020, 6, 1),
                to=date(2021, 6, 1),
                as_of=day,
                known_at=known_at,
            ),
            [models.decision(r, as_of=day, known_at=known_at) for r in refs],
            models.matter_timeline("A", "1", as_of=day, known_at=known_at),
            models.assignments(as_of=day, known_at=known_at),
        ]
    result.append(models.audit_trail(known_at=known_at, limit=10_000))
    return result


@pytest.mark.parametrize("backend", BACKENDS)
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(st.tuples(command, st.booleans(), st.integers(0, 3 * 86400)), max_size=14),
    page_size=st.integers(1, 6),
    cut=st.integers(0, 100),
)
def test_incremental_equals_rebuilt_and_known_at_equals_a_prefix(
    backend: str, tmp_path: Path, steps: list[Any], page_size: int, cut: int
) -> None:
    clock = Clock(datetime(2020, 1, 1, tzinfo=UTC))
    with fresh_store(backend, tmp_path) as store:
        registrar = Registrar(store.ledger(clock), clock)
        runner = store.runner(page_size=page_size)
        for c in world():
            registrar.record(c)
        refs: list[str] = []
        for n, (step, project_now, pause) in enumerate(steps):
            clock.advance(pause)
            for c in expand(step, n, refs):
                if registrar.attempt(c) and c["type"] == "RecordDecision":
                    refs.append(c.get("ref") or f"{c['meeting']} §1")
            if project_now:
                runner.run_once()
        runner.run_once()
        incremental = snapshot(store)
        rebuild(store.settings, schema=store.schema)
        assert snapshot(store) == incremental

        times = sorted({t for t, _ in registrar.log})
        known_at = times[cut % len(times)]
        with fresh_store(backend, tmp_path) as prefix:
            prefix_clock = Clock()
            replay = Registrar(prefix.ledger(prefix_clock), prefix_clock)
            for at, c in itertools.takewhile(lambda e: e[0] <= known_at, registrar.log):
                replay.record(c, at=at)
            prefix.runner().run_once()
            assert answers(store.read_models(), known_at, refs) == answers(
                prefix.read_models(), None, refs
            )
