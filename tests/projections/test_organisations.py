"""Organisations: given these registrations, who takes part, with which bodies and roles."""

from __future__ import annotations

from datetime import UTC, date

from projections.queries import ReadModels
from tests.projections import scenario as s
from tests.projections.conftest import Registrar, Store


def project(store: Store) -> ReadModels:
    store.runner().run_once()
    return store.read_models()


def test_each_organisation_has_its_full_name_kind_and_bodies(
    store: Store, registrar: Registrar
) -> None:
    s.reference_data(registrar)
    models = project(store)
    region = models.organisation(s.REGION)
    assert region is not None
    assert (region.name, region.kind) == ("Region Jämtland Härjedalen", "principal")
    assert [(b.code, b.name, b.kind) for b in region.bodies] == [
        ("RS", "Regionstyrelsen", "board"), ("HSN", "Hälso- och sjukvårdsnämnden", "committee")]
    listed = models.organisations()
    assert [o.name for o in listed] == sorted((o.name for o in listed), key=str.casefold)
    assert {o.ref for o in listed} >= {s.REGION, *s.MUNICIPALITIES}
    assert all(o.kind == "principal" for o in models.organisations(kind="principal"))


def test_an_organisation_does_not_exist_before_it_was_registered(
    store: Store, registrar: Registrar
) -> None:
    s.reference_data(registrar)
    models = project(store)
    assert models.organisation(s.REGION, as_of=date(2016, 12, 31)) is None
    assert models.organisations(as_of=date(2016, 12, 31)) == []


def test_a_role_counts_from_its_first_to_its_last_day(store: Store, registrar: Registrar) -> None:
    s.reference_data(registrar)
    registrar.record({"type": "AssignRole", "organisation": s.REGION, "person": "Anna Ek",
                      "role": "ordförande", "body": "RS", "valid_from": "2019-01-01"})
    registrar.record({"type": "EndRole", "organisation": s.REGION, "person": "Anna Ek",
                      "role": "ordförande", "valid_until": "2022-12-31"})
    models = project(store)

    def chairs(day: date) -> list[str]:
        found = models.organisation(s.REGION, as_of=day)
        return [r.person for r in found.roles] if found else []

    assert chairs(date(2018, 12, 31)) == []
    assert chairs(date(2019, 1, 1)) == ["Anna Ek"]
    assert chairs(date(2022, 12, 31)) == ["Anna Ek"]
    assert chairs(date(2023, 1, 1)) == []


def test_a_corrected_name_is_read_as_corrected_and_as_known_before(
    store: Store, registrar: Registrar
) -> None:
    s.reference_data(registrar)
    before = registrar.clock.now
    registrar.record({"type": "CorrectEntry", "entry": {"kind": "organisation", "ref": s.REGION},
                      "field": "name", "right_value": "Region Jämtland Härjedalen (RJH)",
                      "reason": "Förkortningen saknades."}, at="2030-01-01T00:00:00")
    models = project(store)
    now = models.organisation(s.REGION)
    then = models.organisation(s.REGION, known_at=before.astimezone(UTC))
    assert now is not None and now.name == "Region Jämtland Härjedalen (RJH)"
    assert [c.field for c in now.corrections] == ["name"]
    assert then is not None and then.name == "Region Jämtland Härjedalen"
