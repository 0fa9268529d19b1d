"""The blind fault catalogue (``blind_faults.py``) is well formed and every patch applies.

Cheap: no scenario is run here (``scripts/blind_mutants.py`` does that).
"""

from __future__ import annotations

import re
from pathlib import Path

import blind_faults
import pytest

REPORT = Path(__file__).resolve().parents[2] / "docs" / "mutants-blind.md"


def test_catalogue_size_and_spread() -> None:
    faults = blind_faults.FAULTS
    assert 20 <= len(faults) <= 30
    assert {f.node for f in faults.values()} == set(blind_faults.NODES)
    assert {f.clause for f in faults.values()} == set(blind_faults.CLAUSES)


@pytest.mark.parametrize("name", sorted(blind_faults.FAULTS))
def test_fault_is_well_formed(name: str) -> None:
    fault = blind_faults.FAULTS[name]
    assert re.fullmatch(r"[a-z][a-z0-9_]*", name)
    assert fault.description.strip() and "\n" not in fault.description
    assert "test" not in fault.description.lower()
    assert fault.clause in blind_faults.CLAUSES
    assert fault.node in blind_faults.NODES


@pytest.mark.parametrize("name", sorted(blind_faults.FAULTS))
def test_fault_applies(name: str) -> None:
    """The patch finds its target (and is undone on leaving the context)."""
    with pytest.MonkeyPatch.context() as mp:
        blind_faults.FAULTS[name].apply(mp)


def test_every_fault_in_the_report() -> None:
    assert REPORT.exists(), f"{REPORT} is missing: generate it with python3 scripts/blind_mutants.py"
    text = REPORT.read_text()
    missing = [name for name in blind_faults.FAULTS if f"`{name}`" not in text]
    assert not missing, f"faults not in {REPORT.name}: {missing}"


def test_unknown_fault_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(blind_faults.ENV, "no_such_fault")
    with pytest.raises(pytest.UsageError):
        blind_faults.pytest_configure(None)  # type: ignore[arg-type]
