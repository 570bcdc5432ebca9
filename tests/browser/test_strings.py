"""The dashboard's words: every string in Swedish and English, every state with a label.

No browser needed: these run wherever the suite runs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

import pytest

from api.dashboard.strings import EN, SV, SYMBOLS
from api.dashboard.views import CellState
from ledger import commands
from projections.adoption import Outcome
from projections.agreement_status import AgreementState, ChangeState
from projections.assignments import AssignmentState
from projections.consultations import RoundState
from projections.derivations import PRIMARY_DATE, AppealStatus

TEMPLATES = Path(__file__).resolve().parents[2] / "api" / "dashboard" / "templates"


def test_both_languages_have_the_same_keys() -> None:
    assert sorted(set(SV) ^ set(EN)) == []


def test_every_key_the_templates_name_exists() -> None:
    named = {m for path in TEMPLATES.glob("*.html")
             for m in re.findall(r"\bt\('([a-z_]+\.[A-Za-z_.]+)'", path.read_text("utf-8"))}
    assert named, "the templates name their strings as t('key')"
    assert sorted(named - set(SV)) == []


@pytest.mark.parametrize(("prefix", "values"), [
    ("outcome", get_args(Outcome) + get_args(CellState)),
    ("outcome_short", tuple(v for v in get_args(CellState) if v != "not_addressed")),
    ("agreement_state", get_args(AgreementState)),
    ("change_state", get_args(ChangeState)),
    ("assignment_state", get_args(AssignmentState)),
    ("round_state", get_args(RoundState)),
    ("appeal_state", get_args(AppealStatus)),
    ("stance", get_args(commands.RecordConsultationResponse.model_fields["stance"].annotation)),
    ("relation", get_args(commands.LinkMatters.model_fields["relation"].annotation)),
    ("decision_outcome", get_args(commands.RecordDecision.model_fields["outcome"].annotation)),
    ("event", tuple(PRIMARY_DATE)),
])
def test_every_state_of_the_read_models_has_a_label(prefix: str, values: tuple[Any, ...]) -> None:
    for table in (SV, EN):
        assert sorted(v for v in values if f"{prefix}.{v}" not in table) == []


def test_every_state_in_the_matrix_has_a_symbol_besides_its_colour() -> None:
    assert all(SYMBOLS.get(state) for state in get_args(CellState))
