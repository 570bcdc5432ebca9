"""The bundled real history (ledger/data/demo.jsonl): what the read models say about it."""

from __future__ import annotations

from datetime import date

from ledger.importing import load_demo
from projections.queries import ReadModels
from tests.projections.conftest import Clock, Store

AGREEMENT = "Hemsjukvårdsavtalet"


def loaded(store: Store) -> ReadModels:
    load_demo(store.ledger(Clock()))
    store.runner().run_once()
    return store.read_models()


def test_the_home_care_agreement_is_extended_twice(store: Store) -> None:
    models = loaded(store)

    june_2021 = models.agreement_status(AGREEMENT, as_of=date(2021, 6, 30))
    june_2022 = models.agreement_status(AGREEMENT, as_of=date(2022, 6, 30))

    assert june_2021 is not None and june_2022 is not None
    assert (june_2021.status, june_2021.valid_until) == ("in_force", date(2021, 12, 31))
    assert (june_2022.status, june_2022.valid_until) == ("in_force", date(2022, 12, 31))
    assert len(june_2022.parties) == 9


def test_six_of_nine_answered_the_consultation_on_the_joint_plan(store: Store) -> None:
    models = loaded(store)

    [round_] = [c for c in models.consultations(as_of=date(2023, 9, 30)) if c.addressed == 9]

    assert (round_.answered, round_.addressed) == (6, 9)
    assert set(round_.missing) == {"Bräcke", "Härjedalen", "Åre"}


def test_the_board_decision_waits_for_the_committee(store: Store) -> None:
    models = loaded(store)
    [board] = [d for d in models.decisions(organisation="RJH", body="RS") if d.conditions]
    [condition] = board.conditions
    assert condition.endorsement_by is not None
    endorsed_on = condition.met_on

    assert endorsed_on is not None
    before = models.decision(board.ref, as_of=board.decided_on)
    after = models.decision(board.ref, as_of=endorsed_on)
    assert before is not None and after is not None
    assert board.decided_on < endorsed_on
    assert (before.conditions_state, before.in_effect) == ("pending", False)
    assert (after.conditions_state, after.in_effect) == ("met", True)


def test_every_principal_adopted_the_2021_recommendation_to_extend(store: Store) -> None:
    models = loaded(store)

    extensions = [
        a for a in models.list_adoption(as_of=date(2022, 6, 30)) if a.issued_on == date(2021, 6, 4)
    ]

    assert [(a.adopted, a.addressed, a.overdue) for a in extensions] == [(9, 9, ())]
