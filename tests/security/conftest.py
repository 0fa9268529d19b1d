"""Security tests: print every attack family's counts at the end of the run."""

from __future__ import annotations

import pytest
from tally import FAMILIES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FAMILIES:
        return
    terminalreporter.section("security: attacks per family")
    for family in FAMILIES:
        terminalreporter.write_line(family.line())
