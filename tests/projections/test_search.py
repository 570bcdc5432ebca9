"""Search: given these entries, these words find these acts, as of a date, on both backends."""

from __future__ import annotations

from datetime import UTC, date

from projections.queries import ReadModels
from tests.projections import scenario as s
from tests.projections.conftest import Registrar, Store


def project(store: Store) -> ReadModels:
    store.runner().run_once()
    return store.read_models()


def given(registrar: Registrar) -> None:
    s.reference_data(registrar)
    s.agreement(registrar)
    s.board_decision(registrar)


def found(models: ReadModels, query: str, **when: object) -> list[tuple[str, str]]:
    return [(hit.kind, hit.ref) for hit in models.search(query, **when)]  # type: ignore[arg-type]


def test_a_decision_is_found_by_the_words_of_its_points_in_another_inflection(
    store: Store, registrar: Registrar
) -> None:
    given(registrar)
    models = project(store)
    assert ("decision", s.BOARD_DECISION) in found(models, "förlänga hemsjukvårdsavtalets")
    assert ("decision", s.BOARD_DECISION) in found(models, "statsbidragets finansiering")
    hit = next(h for h in models.search("statsbidraget") if h.ref == s.BOARD_DECISION)
    assert "statsbidraget" in hit.snippet and hit.on == date(2021, 3, 25)


def test_every_word_must_match_and_nothing_is_found_for_no_words(
    store: Store, registrar: Registrar
) -> None:
    given(registrar)
    models = project(store)
    assert found(models, "statsbidraget tandvård") == []
    assert found(models, "  ,;!  ") == []


def test_as_of_a_date_before_the_act_it_is_not_found(store: Store, registrar: Registrar) -> None:
    given(registrar)
    models = project(store)
    assert ("decision", s.BOARD_DECISION) not in found(models, "statsbidraget",
                                                       as_of=date(2021, 3, 24))


def test_a_voided_entity_is_not_found_and_a_corrected_title_is(
    store: Store, registrar: Registrar
) -> None:
    given(registrar)
    registrar.record({"type": "OpenMatter", "title": "Felregistrerat ärende om ambulansflyg",
                      "opened_on": "2021-05-01",
                      "case_numbers": [{"organisation": s.REGION, "dnr": "RS/999/2021"}]})
    registrar.record({"type": "VoidEntry",
                      "entry": {"kind": "matter", "ref": f"{s.REGION}:RS/999/2021"},
                      "reason": "Dubblett."})
    before = registrar.clock.now
    registrar.record({"type": "CorrectEntry", "entry": {"kind": "agreement", "ref": s.AGREEMENT},
                      "field": "title", "right_value": "Avtal om hemsjukvård och läkemedel",
                      "reason": "Titeln var ofullständig."})
    models = project(store)
    assert found(models, "ambulansflyg") == []
    assert ("agreement", s.AGREEMENT) in found(models, "läkemedels")
    hit = next(h for h in models.search("läkemedel") if h.ref == s.AGREEMENT)
    assert hit.title == "Avtal om hemsjukvård och läkemedel"
    assert found(models, "läkemedel", known_at=before.astimezone(UTC)) == [
        ("agreement", s.AGREEMENT)]


def test_what_was_recorded_later_is_not_found_as_known_before(
    store: Store, registrar: Registrar
) -> None:
    s.reference_data(registrar)
    s.agreement(registrar)
    before = registrar.clock.now
    s.board_decision(registrar)
    models = project(store)
    assert found(models, "statsbidraget", known_at=before.astimezone(UTC)) == []
    assert found(models, "statsbidraget") != []
