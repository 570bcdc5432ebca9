"""GET /v1/organisations: who takes part, by name, as of any date."""

from __future__ import annotations

from tests.api.conftest import Service


def _caught_up(service: Service) -> None:
    service.client.app.state.runner.wait_until(  # type: ignore[attr-defined]
        service.ledger.max_position(), timeout=30)


def test_the_organisations_are_listed_with_names_and_bodies(service: Service) -> None:
    _caught_up(service)
    page = service.client.get("/v1/organisations").json()
    refs = [o["ref"] for o in page["items"]]
    assert {"REG", "Alfa", "Beta", "Gamma"} <= set(refs)
    assert page["total"] == len(refs)
    alfa = service.client.get("/v1/organisations/Alfa").json()
    assert alfa["kind"] == "principal"
    assert "KS" in [b["code"] for b in alfa["bodies"]]


def test_an_unknown_organisation_or_a_date_before_it_is_a_404(service: Service) -> None:
    _caught_up(service)
    assert service.client.get("/v1/organisations/Nowhere").status_code == 404
    early = service.client.get("/v1/organisations/Alfa", params={"as_of": "1900-01-01"})
    assert early.status_code == 404


def test_search_finds_what_registrars_wrote_and_refuses_an_empty_query(
    service: Service,
) -> None:
    _caught_up(service)
    assert service.client.get("/v1/search", params={"q": ""}).status_code == 422
    assert service.client.get("/v1/search", params={"q": "x" * 201}).status_code == 422
    hits = service.client.get("/v1/search", params={"q": "care agreement"}).json()
    assert [(h["kind"], h["title"]) for h in hits] == [("agreement", "Home care agreement")]
    assert set(hits[0]) == {"kind", "ref", "title", "on", "matter", "snippet"}
