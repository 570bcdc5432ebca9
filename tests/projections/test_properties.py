"""Properties over random histories: read models agree, incremental equals rebuilt, known-at
equals a prefix.

Commands are drawn over a small world (three principals, an agreement, a joint plan, a
recommendation, a consultation) so that they often touch the same records; the ledger
refuses the incoherent ones, as it would a registrar's. Histories hold corrections of
decision dates, voidings, endorsements, appeals and late registrations (recorded long
after the date they speak of). On every such history:

* every read model reports the same date, outcome and status for the same act (the
  register's decision, a principal's decision on the recommendation, a party's decision on
  an agreement, an assignment it gave, their entries in the matter timeline and the audit
  trail) — checked on the ledger as it is and as it was known at a past moment;
* read models kept up to date page by page equal read models rebuilt from scratch;
* the answers *as known at* a moment equal those of a ledger holding only the entries
  recorded by then.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.domain.agreement import Agreement
from ledger.domain.assignment import Assignment
from ledger.domain.decision import Decision
from ledger.domain.recommendation import Recommendation
from projections.decision_register import DecisionEntry
from projections.events import event_name
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


#: Entries about an act that a decision made, dated by that decision.
DATED_BY_A_DECISION = {
    event_name(e) for e in (Recommendation.PrincipalDecided, Agreement.PartyDecided,
                            Assignment.Given, Assignment.DeadlineRevised)
}
RECORDED = event_name(Decision.Recorded)


def principal_outcome(decision: DecisionEntry) -> str | None:
    """What the decision's effects say it decided on the recommendation (the last one)."""
    said = None
    for point in decision.points:
        for effect in point.effects:
            if effect.startswith("adopt_recommendation(recommendation=R,"):
                amended = "with_amendments=True" in effect
                said = "adopted_with_amendments" if amended else "adopted"
            elif effect.startswith("reject_recommendation(recommendation=R"):
                said = "rejected"
    return said


def assert_coherent(models: ReadModels, refs: list[str], known_at: datetime | None) -> None:
    """Every read model reports the same date, outcome and status for the same act."""
    for day in AS_OF:
        ask = {"as_of": day, "known_at": known_at}
        register = {
            d.ref.casefold(): d for r in refs if (d := models.decision(r, **ask)) is not None
        }
        assert {d.ref.casefold() for d in models.decisions(**ask)} == set(register)

        adoption = models.adoption("R", **ask)
        shown = set()
        for p in adoption.principals if adoption else ():
            if p.decision is None:
                continue
            d = register[p.decision.casefold()]
            shown.add(d.ref.casefold())
            assert (p.decided_on, p.body, p.verified_on) == (d.decided_on, d.body, d.verified_on)
            assert p.outcome == principal_outcome(d)
            assert p.conditions_hold == d.in_effect
            assert all(register[e.decision.casefold()].organisation == p.principal
                       for e in p.earlier)
        if adoption is not None:
            deciding = {k for k, d in register.items() if principal_outcome(d)}
            assert shown <= deciding
            assert {d.organisation for k, d in register.items() if k in deciding} == {
                p.principal for p in adoption.principals if p.decision is not None}

        for ref in ("AG", "JP"):
            status = models.agreement_status(ref, **ask)
            for change in (status.history + status.pending_changes) if status else ():
                for pd in change.decided + change.awaiting_conditions:
                    d = register[pd.decision.casefold()]
                    assert (pd.party, pd.decided_on) == (d.organisation, d.decided_on)
                    assert pd.effective_on == d.effective_on
                    assert (pd in change.decided) == d.in_effect

        given: dict[str, DecisionEntry] = {}
        for a in models.assignments(**ask):
            d = register[a.decision.casefold()]
            given[a.ref.casefold()] = d
            assert (a.given_on, a.organisation) == (d.decided_on, d.organisation)
            assert (a.status == "pending") == (not d.in_effect)
            for revision in a.revisions:
                assert revision.revised_on == register[revision.decision.casefold()].decided_on

        trail = {e.position: e for e in models.audit_trail(as_of=day, known_at=known_at,
                                                           limit=10_000)}
        listed = set()
        voided = {e.ref.casefold() for e in trail.values()
                  if e.event_type == RECORDED and e.entity_voided}
        for e in trail.values():
            if e.entity_voided or e.adjustment is not None:
                continue
            if e.event_type == RECORDED:
                listed.add(e.ref.casefold())
                assert e.on == register[e.ref.casefold()].decided_on
            elif e.event_type in DATED_BY_A_DECISION:
                decision = register.get(e.data["decision"].casefold())
                if decision is None:  # the trail keeps what a voided decision did
                    assert e.data["decision"].casefold() in voided
                else:
                    assert e.on == decision.decided_on
        assert listed == set(register)

        timeline = models.matter_timeline("A", "1", **ask)
        on_matter = set()
        for t in timeline.entries if timeline else ():
            if trail[t.position].on is not None:  # (the timeline places undated registry
                assert t.on == trail[t.position].on  # acts at their entity's date)
            if t.event_type == RECORDED:
                on_matter.add(t.ref.casefold())
            if t.event_type in DATED_BY_A_DECISION:
                assert t.on == register[trail[t.position].data["decision"].casefold()].decided_on
        assert on_matter == {k for k, d in register.items() if d.matter is not None}


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
        assert_coherent(store.read_models(), refs, None)
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


def acts_of_one_decision(org: str, on: str, conditional: bool, in_meeting: bool) -> list[Any]:
    """A decision (``D99``, or § 1 of meeting ``M99``) that makes an act in every read model."""
    effects = [
        {"effect": "adopt_recommendation", "recommendation": "R"},
        {"effect": "extend_agreement", "agreement": "AG", "until": "2022-06-30"},
        {"effect": "give_assignment", "assignment": "T99", "owner": "O", "task": "Gör",
         "due_on": "2023-06-30"},
        {"effect": "set_deadline", "assignment": "T99", "due_on": "2023-09-30"},
    ]
    return decision(99, org, on, effects, conditional, in_meeting)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    made=st.tuples(principals, st.dates(date(2020, 3, 1), date(2022, 12, 31)).map(date.isoformat),
                   st.booleans(), st.booleans()),
    late_by=st.integers(0, 3 * 365 * 86400),
    steps=st.lists(
        st.tuples(st.one_of(command, st.builds(lambda on: ("correct-it", on), days)),
                  st.integers(0, 30 * 86400)),
        max_size=6,
    ),
    cut=st.integers(0, 100),
)
def test_every_read_model_dates_the_acts_of_a_corrected_decision_alike(
    backend: str, tmp_path: Path, made: Any, late_by: int, steps: list[Any], cut: int
) -> None:
    """One decision adopting the recommendation, extending the agreement, giving and
    rescheduling an assignment; registered late, then corrected (and perhaps voided,
    endorsed, appealed) among other acts: every read model agrees on it, now and as known
    at any moment between."""
    clock = Clock(datetime(2020, 1, 1, tzinfo=UTC))
    with fresh_store(backend, tmp_path) as store:
        registrar = Registrar(store.ledger(clock), clock)
        for c in world():
            registrar.record(c)
        clock.advance(late_by)
        refs: list[str] = []
        for c in acts_of_one_decision(*made):
            registrar.record(c)
            if c["type"] == "RecordDecision":
                refs.append(c.get("ref") or f"{c['meeting']} §1")
        for n, (step, pause) in enumerate(steps):
            clock.advance(pause)
            if isinstance(step, tuple) and step[0] == "correct-it":
                step = ("correct", (0, step[1]))
            for c in expand(step, n, refs):
                if registrar.attempt(c) and c["type"] == "RecordDecision":
                    refs.append(c.get("ref") or f"{c['meeting']} §1")
        store.runner().run_once()
        models = store.read_models()
        assert_coherent(models, refs, None)
        times = sorted({t for t, _ in registrar.log})
        assert_coherent(models, refs, times[cut % len(times)])
