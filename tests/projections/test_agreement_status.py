"""Agreement status: given these entries, the agreement is in force (or not) until this date."""

from __future__ import annotations

from datetime import UTC, date, datetime

from projections.queries import ReadModels
from tests.projections import scenario as s
from tests.projections.conftest import Registrar, Store


def project(store: Store) -> ReadModels:
    store.runner().run_once()
    return store.read_models()


def at(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=UTC)


def test_the_real_history_extends_the_agreement_twice(store: Store, registrar: Registrar) -> None:
    s.real_history(registrar)
    models = project(store)

    june_2021 = models.agreement_status(s.AGREEMENT, as_of=date(2021, 6, 30))
    june_2022 = models.agreement_status(s.AGREEMENT, as_of=date(2022, 6, 30))

    assert june_2021 is not None and june_2022 is not None
    assert (june_2021.status, june_2021.valid_until, june_2021.extended) == (
        "in_force",
        date(2021, 12, 31),
        True,
    )
    assert (june_2022.status, june_2022.valid_until) == ("in_force", date(2022, 12, 31))
    assert june_2022.registered_valid_until == date(2020, 12, 31)
    assert [(c.kind, c.until, c.state) for c in june_2022.history] == [
        ("extend", date(2021, 12, 31), "in_force"),
        ("extend", date(2022, 12, 31), "in_force"),
    ]
    assert june_2022.history[1].in_force_from == date(2022, 5, 10)
    assert june_2022.history[1].recommended_by == (s.RECOMMENDATION,)


def test_a_change_is_pending_until_every_party_has_decided(
    store: Store, registrar: Registrar
) -> None:
    s.real_history(registrar)
    models = project(store)

    status = models.agreement_status(s.AGREEMENT, as_of=date(2021, 5, 1))

    assert status is not None
    assert (status.status, status.valid_until) == ("expired", date(2020, 12, 31))
    [pending] = status.pending_changes
    assert (pending.kind, pending.until, pending.state) == ("extend", date(2021, 12, 31), "pending")
    assert [d.party for d in pending.decided] == ["RJH", "Berg", "Bräcke", "Härjedalen"]
    assert pending.not_decided == ("Krokom", "Ragunda", "Strömsund", "Åre", "Östersund")


def test_a_party_decision_counts_only_once_its_condition_is_met(
    store: Store, registrar: Registrar
) -> None:
    s.reference_data(registrar)
    s.agreement(registrar)
    s.board_decision(registrar)
    for municipality, day in s.FIRST_EXTENSION_DAYS.items():
        s.municipal_extension(registrar, municipality, day)
    models = project(store)

    before = models.agreement_status(s.AGREEMENT, as_of=date(2021, 6, 30))
    assert before is not None
    assert before.valid_until == date(2020, 12, 31)
    [pending] = before.pending_changes
    assert [d.party for d in pending.awaiting_conditions] == ["RJH"]
    assert pending.not_decided == ()

    s.endorsement(registrar, at="2021-07-01T09:00:00")
    after = project(store).agreement_status(s.AGREEMENT, as_of=date(2021, 6, 30))
    assert after is not None
    assert (after.valid_until, after.history[0].in_force_from) == (
        date(2021, 12, 31),
        date(2021, 6, 15),
    )


def test_known_at_leaves_out_what_was_recorded_later(store: Store, registrar: Registrar) -> None:
    """An extension decided in June but recorded in August is unknown in July."""
    s.reference_data(registrar)
    s.agreement(registrar)
    s.board_decision(registrar)
    s.endorsement(registrar)
    for municipality, day in s.FIRST_EXTENSION_DAYS.items():
        late = municipality == "Östersund"
        s.municipal_extension(
            registrar, municipality, day, at="2021-08-16T10:00:00" if late else None
        )
    models = project(store)
    june = date(2021, 6, 30)

    july = models.agreement_status(s.AGREEMENT, as_of=june, known_at=at("2021-07-15T12:00"))
    september = models.agreement_status(s.AGREEMENT, as_of=june, known_at=at("2021-09-01T12:00"))
    now = models.agreement_status(s.AGREEMENT, as_of=june)

    assert july is not None and september is not None and now is not None
    assert (july.valid_until, july.pending_changes[0].not_decided) == (
        date(2020, 12, 31),
        ("Östersund",),
    )
    assert september.valid_until == date(2021, 12, 31)
    assert now == september


def test_termination_cuts_the_validity_and_ends_the_agreement(
    store: Store, registrar: Registrar
) -> None:
    s.reference_data(registrar)
    s.agreement(registrar)
    for party in s.PRINCIPALS:
        registrar.record(
            {
                "type": "RecordDecision",
                "ref": f"{party} avslut",
                "organisation": party,
                "body": "RS" if party == s.REGION else "KS",
                "decided_on": "2019-05-01",
                "points": [
                    {
                        "number": 1,
                        "text": "Avtalet upphör 2019-09-01.",
                        "effects": [
                            {
                                "effect": "terminate_agreement",
                                "agreement": s.AGREEMENT,
                                "effective_on": "2019-09-01",
                            }
                        ],
                    }
                ],
            }
        )
    models = project(store)

    summer = models.agreement_status(s.AGREEMENT, as_of=date(2019, 6, 1))
    autumn = models.agreement_status(s.AGREEMENT, as_of=date(2019, 10, 1))

    assert summer is not None and autumn is not None
    assert (summer.status, summer.valid_until, summer.ends_on) == (
        "in_force",
        date(2019, 8, 31),
        date(2019, 9, 1),
    )
    assert (autumn.status, autumn.in_force) == ("terminated", False)


def test_a_replacement_without_a_date_ends_it_when_the_joint_plan_takes_effect(
    store: Store, registrar: Registrar
) -> None:
    s.reference_data(registrar)
    s.agreement(registrar)
    registrar.record(
        {
            "type": "RegisterAgreement",
            "ref": "Gemensam plan",
            "kind": "joint_plan",
            "title": "Gemensam plan",
            "parties": s.PRINCIPALS,
            "valid_from": "2023-10-01",
            "concluded": False,
        }
    )
    for n, party in enumerate(s.PRINCIPALS):
        registrar.record(
            {
                "type": "RecordDecision",
                "ref": f"{party} plan",
                "organisation": party,
                "body": "RS" if party == s.REGION else "KS",
                "decided_on": f"2023-11-{10 + n}",
                "points": [
                    {
                        "number": 1,
                        "text": "Planen antas och ersätter avtalet.",
                        "effects": [
                            {"effect": "adopt_agreement", "agreement": "Gemensam plan"},
                            {
                                "effect": "replace_agreement",
                                "agreement": s.AGREEMENT,
                                "replaced_by": "Gemensam plan",
                            },
                        ],
                    }
                ],
            }
        )
    models = project(store)

    halfway = models.agreement_status(s.AGREEMENT, as_of=date(2023, 11, 15))
    done = models.agreement_status(s.AGREEMENT, as_of=date(2023, 12, 1))
    plan = models.agreement_status("Gemensam plan", as_of=date(2023, 12, 1))
    plan_before = models.agreement_status("Gemensam plan", as_of=date(2023, 11, 15))

    assert halfway is not None and done is not None and plan is not None
    assert plan_before is not None and plan_before.status == "awaiting_adoption"
    assert halfway.status == "expired"
    assert [c.state for c in halfway.pending_changes] == ["pending"]
    assert (done.status, done.superseded_by, done.ends_on) == (
        "superseded",
        "Gemensam plan",
        date(2023, 11, 18),
    )
    assert (plan.status, plan.valid_from) == ("in_force", date(2023, 11, 18))


def test_a_voided_decision_no_longer_counts_and_a_corrected_date_is_shown_with_its_link(
    store: Store, registrar: Registrar
) -> None:
    s.real_history(registrar)
    registrar.record(
        {
            "type": "VoidEntry",
            "entry": {"kind": "decision", "ref": "Åre KS 2022-02-15"},
            "reason": "registrerat på fel avtal",
        }
    )
    correction = registrar.record(
        {
            "type": "CorrectEntry",
            "entry": {"kind": "agreement", "ref": s.AGREEMENT},
            "field": "valid_from",
            "right_value": "2017-02-01",
            "reason": "avtalet undertecknades i februari",
        }
    )
    models = project(store)

    status = models.agreement_status(s.AGREEMENT, as_of=date(2022, 6, 30))

    assert status is not None
    assert (status.valid_until, status.valid_from) == (date(2021, 12, 31), date(2017, 2, 1))
    [pending] = status.pending_changes
    assert pending.not_decided == ("Åre",)
    [fix] = status.corrections
    assert (fix.field, fix.wrong_value, fix.right_value, fix.position) == (
        "valid_from",
        "2017-01-01",
        "2017-02-01",
        correction.positions[0],
    )


def test_a_voided_agreement_drops_out(store: Store, registrar: Registrar) -> None:
    s.reference_data(registrar)
    s.agreement(registrar)
    registrar.record(
        {
            "type": "VoidEntry",
            "entry": {"kind": "agreement", "ref": s.AGREEMENT},
            "reason": "dubbelregistrering",
        }
    )
    models = project(store)

    assert models.agreement_status(s.AGREEMENT, as_of=date(2018, 1, 1)) is None
    assert models.list_agreements(as_of=date(2018, 1, 1)) == []
    assert models.agreement_status("Okänt avtal") is None


def test_agreements_are_listed_by_party_and_status(store: Store, registrar: Registrar) -> None:
    s.real_history(registrar)
    models = project(store)

    in_force = models.list_agreements(party="östersund", status="in_force", as_of=date(2022, 6, 1))
    lapsed = models.list_agreements(status="expired", as_of=date(2022, 1, 1))
    expired = models.list_agreements(status="in_force", as_of=date(2023, 6, 1))

    assert [a.ref for a in in_force] == [s.AGREEMENT]
    assert [a.ref for a in lapsed] == [s.AGREEMENT]
    assert expired == []
