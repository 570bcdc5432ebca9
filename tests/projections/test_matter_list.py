"""The list of matters: given these matters, which are listed on a date, newest first."""

from __future__ import annotations

from datetime import date

from projections.queries import ReadModels
from tests.projections import scenario as s
from tests.projections.conftest import Registrar, Store


def project(store: Store) -> ReadModels:
    store.runner().run_once()
    return store.read_models()


def test_matters_are_listed_from_their_opening_newest_first_and_voided_ones_never(
    store: Store, registrar: Registrar
) -> None:
    s.reference_data(registrar)
    for dnr, day in (("RS/1/2021", "2021-01-10"), ("RS/2/2021", "2021-02-10"),
                     ("RS/3/2021", "2021-03-10")):
        registrar.record({"type": "OpenMatter", "title": f"Ärende {dnr}", "opened_on": day,
                          "case_numbers": [{"organisation": s.REGION, "dnr": dnr}]})
    registrar.record({"type": "VoidEntry",
                      "entry": {"kind": "matter", "ref": f"{s.REGION}:RS/2/2021"},
                      "reason": "Felregistrerat."})
    models = project(store)
    assert [m.title for m in models.matters()] == ["Ärende RS/3/2021", "Ärende RS/1/2021"]
    assert [m.title for m in models.matters(as_of=date(2021, 2, 1))] == ["Ärende RS/1/2021"]
    assert models.matters(organisation="Berg") == []
    assert [c.dnr for c in models.matters(organisation="rjh")[0].case_numbers] == ["RS/3/2021"]
