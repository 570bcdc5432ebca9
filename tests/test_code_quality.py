"""The code stays ruff clean, strictly typed where it matters, and layered one way."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)


def test_ruff_finds_nothing() -> None:
    result = _run("ruff", "check", "ledger", "projections", "api", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


#: The most branches a function may take (McCabe's cyclomatic complexity, as ruff counts it).
MAX_COMPLEXITY = 15


@pytest.mark.parametrize("package", ["projections", "api"])
def test_no_function_is_too_complex_to_read(package: str) -> None:
    result = _run("ruff", "check", "--select", "C901", "--config",
                  f"lint.mccabe.max-complexity={MAX_COMPLEXITY}", package)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes_on_ledger_and_projections() -> None:
    result = _run("mypy", "--strict", "ledger", "projections")
    assert result.returncode == 0, result.stdout + result.stderr


def _imports(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize(("package", "forbidden"), [
    ("ledger", {"api", "projections", "fastapi"}),
    ("projections", {"api", "fastapi"}),
])
def test_dependencies_point_one_way(package: str, forbidden: set[str]) -> None:
    assert not (_imports(package) & forbidden)
