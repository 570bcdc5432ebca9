"""The fault suite's figures, printed at the end of the run whatever pytest's options."""

from __future__ import annotations

import pytest

from tests.faults.harness import FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("fault suite figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
