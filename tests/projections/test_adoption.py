"""Adoption per principal: given these decisions, where each addressee stands."""

from __future__ import annotations

from datetime import UTC, date, datetime

from projections.queries import ReadModels
from tests.projections import scenario as s
from tests.projections.conftest import Registrar, Store


def project(store: Store) -> ReadModels:
    store.runner().run_once()
    return store.read_models()


def test_every_principal_adopted_the_extension_by_the_respond_by_date(
    store: Store, registrar: Registrar
) -> None:
    s.real_history(registrar)
    models = project(store)

    adoption = models.adoption(s.RECOMMENDATION, as_of=date(2022, 6, 30))

    assert adoption is not None
    assert (adoption.adopted, adoption.addressed, adoption.overdue) == (9, 9, ())
    region = adoption.principals[0]
    assert (region.principal, region.outcome, region.body, region.decided_on, region.paragraph) == (
        "RJH",
        "adopted",
        "RS",
        date(2021, 9, 28),
        170,
    )
    assert (region.verified, region.verified_on, region.conditions_state) == (
        True,
        date(2021, 9, 28),
        "none",
    )
    assert adoption.principals[1].verified is False


def test_count_and_who_is_overdue_on_a_date(store: Store, registrar: Registrar) -> None:
    s.real_history(registrar)
    models = project(store)

    before = models.adoption(s.RECOMMENDATION, as_of=date(2021, 12, 31))
    late = models.adoption(s.RECOMMENDATION, as_of=date(2022, 7, 1))

    assert before is not None and late is not None
    assert (before.adopted, before.addressed) == (6, 9)
    assert before.not_decided == ("Strömsund", "Åre", "Östersund")
    assert before.overdue == ()
    assert late.overdue == ()
    registrar.record(
        {
            "type": "VoidEntry",
            "entry": {"kind": "decision", "ref": "Åre KS 2022-02-15"},
            "reason": "fel ärende",
        }
    )
    after_void = project(store).adoption(s.RECOMMENDATION, as_of=date(2022, 7, 1))
    assert after_void is not None
    assert (after_void.adopted, after_void.overdue) == (8, ("Åre",))
    assert after_void.principals[7].outcome == "no_decision"


def test_a_later_decision_supersedes_an_earlier_one(store: Store, registrar: Registrar) -> None:
    s.reference_data(registrar)
    s.agreement(registrar)
    s.recommendation(registrar)
    registrar.record(
        {
            "type": "RecordDecision",
            "ref": "Berg KS 1",
            "organisation": "Berg",
            "body": "KS",
            "decided_on": "2021-08-01",
            "points": [
                {
                    "number": 1,
                    "text": "Avslås.",
                    "effects": [
                        {"effect": "reject_recommendation", "recommendation": s.RECOMMENDATION}
                    ],
                }
            ],
        }
    )
    registrar.record(
        {
            "type": "RecordDecision",
            "ref": "Berg KS 2",
            "organisation": "Berg",
            "body": "KS",
            "decided_on": "2021-10-01",
            "points": [
                {
                    "number": 1,
                    "text": "Antas med ändringar.",
                    "effects": [
                        {
                            "effect": "adopt_recommendation",
                            "recommendation": s.RECOMMENDATION,
                            "with_amendments": True,
                        }
                    ],
                }
            ],
        }
    )
    models = project(store)

    september = models.adoption(s.RECOMMENDATION, as_of=date(2021, 9, 1))
    november = models.adoption(s.RECOMMENDATION, as_of=date(2021, 11, 1))

    assert september is not None and november is not None
    assert (september.principals[1].outcome, september.rejected) == ("rejected", 1)
    berg = november.principals[1]
    assert (berg.outcome, berg.decision) == ("adopted_with_amendments", "Berg KS 2")
    assert [(e.decision, e.outcome) for e in berg.earlier] == [("Berg KS 1", "rejected")]
    assert (november.adopted, november.rejected) == (1, 0)


def test_a_conditional_adoption_holds_only_once_endorsed(
    store: Store, registrar: Registrar
) -> None:
    s.reference_data(registrar)
    s.agreement(registrar)
    s.recommendation(registrar)
    registrar.record(
        {
            "type": "RecordDecision",
            "ref": "RS villkorat",
            "organisation": "RJH",
            "body": "RS",
            "decided_on": "2021-09-01",
            "points": [
                {
                    "number": 1,
                    "text": "Antas.",
                    "effects": [
                        {"effect": "adopt_recommendation", "recommendation": s.RECOMMENDATION}
                    ],
                }
            ],
            "conditions": [
                {
                    "text": "om HSN ställer sig bakom",
                    "endorsement_by": {"organisation": "RJH", "body": "HSN"},
                }
            ],
        }
    )
    registrar.record(
        {
            "type": "RecordDecision",
            "ref": "HSN bakom",
            "organisation": "RJH",
            "body": "HSN",
            "decided_on": "2021-10-01",
            "points": [
                {
                    "number": 1,
                    "text": "Ställer sig bakom.",
                    "effects": [{"effect": "endorse_decision", "decision": "RS villkorat"}],
                }
            ],
        },
        at="2021-10-02T09:00:00",
    )
    models = project(store)

    waiting = models.adoption(s.RECOMMENDATION, as_of=date(2021, 9, 15))
    holding = models.adoption(s.RECOMMENDATION, as_of=date(2021, 10, 15))
    not_yet_known = models.adoption(
        s.RECOMMENDATION,
        as_of=date(2021, 10, 15),
        known_at=datetime(2021, 10, 1, 12, tzinfo=UTC),
    )

    assert waiting is not None and holding is not None and not_yet_known is not None
    region = waiting.principals[0]
    assert (region.outcome, region.conditions_state, region.conditions_hold) == (
        "adopted",
        "pending",
        False,
    )
    assert waiting.adopted == 0
    assert (holding.principals[0].conditions_state, holding.adopted) == ("met", 1)
    assert holding.principals[0].conditions[0].endorsed_by == ("HSN bakom",)
    assert not_yet_known.adopted == 0


def test_recommendations_are_listed_by_joint_body_and_addressee(
    store: Store, registrar: Registrar
) -> None:
    s.real_history(registrar)
    models = project(store)

    assert [a.ref for a in models.list_adoption(joint_body="svom")] == [s.RECOMMENDATION]
    assert [a.ref for a in models.list_adoption(addressee="Åre")] == [s.RECOMMENDATION]
    assert models.list_adoption(joint_body="RJH") == []
    assert models.list_adoption(as_of=date(2021, 6, 1)) == []
