"""The blind fault catalogue (``blind_faults.py``) is well formed and every patch applies.

Cheap: no scenario is run here (``scripts/blind_mutants.py`` does that).
"""

from __future__ import annotations

import importlib
import re
import sys
import types
from pathlib import Path

import blind_faults
import pytest

REPORT = Path(__file__).resolve().parents[2] / "docs" / "mutants-blind.md"
"The report of batch 1; batch N's is docs/mutants-blind-N.md (``blind_mutants.report_path``)."


def test_catalogue_size_and_spread() -> None:
    """Batch 1 spans every node and clause; every later batch is smaller, and still has a fault
    of every node; every fault is of a batch the catalogue describes, and no batch is empty."""
    faults = blind_faults.FAULTS
    first = [f for f in faults.values() if f.batch == 1]
    assert 20 <= len(first) <= 30
    assert {f.node for f in first} == set(blind_faults.NODES)
    assert {f.clause for f in first} == set(blind_faults.CLAUSES)
    assert {f.batch for f in faults.values()} == set(blind_faults.BATCHES)
    for batch in set(blind_faults.BATCHES) - {1}:
        later = [f for f in faults.values() if f.batch == batch]
        assert 5 <= len(later) <= 30, (batch, len(later))
        assert {f.node for f in later} == set(blind_faults.NODES), batch


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


@pytest.mark.parametrize("batch", sorted(blind_faults.BATCHES))
def test_every_fault_in_the_report(batch: int) -> None:
    """Each batch's faults are in that batch's report (a fault added without a run is not measured)."""
    report = _script().report_path(batch)
    command = "python3 scripts/blind_mutants.py" + (f" --batch {batch}" if batch != 1 else "")
    assert report.exists(), f"{report} is missing: generate it with {command}"
    text = report.read_text()
    missing = [n for n, f in blind_faults.FAULTS.items() if f.batch == batch and f"`{n}`" not in text]
    assert not missing, f"faults of batch {batch} not in {report.name}: {missing}"


def test_a_batch_has_its_own_report_and_an_unknown_batch_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    script = _script()
    assert script.report_path(1) == REPORT
    assert script.report_path(2) == REPORT.with_name("mutants-blind-2.md")
    with pytest.raises(SystemExit) as exit_:
        script.main(["--batch", "99"])
    assert exit_.value.code == 2
    assert "no batch 99" in capsys.readouterr().err
    first = next(iter(blind_faults.FAULTS))
    with pytest.raises(SystemExit) as exit_:  # a selection would overwrite the batch's report
        script.main([first])
    assert exit_.value.code == 2
    assert "needs --out" in capsys.readouterr().err


def test_unknown_fault_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(blind_faults.ENV, "no_such_fault")
    with pytest.raises(pytest.UsageError):
        blind_faults.pytest_configure(None)  # type: ignore[arg-type]


def _script() -> types.ModuleType:
    """``scripts/blind_mutants.py`` as a module (scripts are not a package)."""
    scripts = str(REPORT.parents[1] / "scripts")
    if scripts not in sys.path:
        sys.path.append(scripts)
    return importlib.import_module("blind_mutants")


JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="steps.test_a" name="test_fails"><failure message="AssertionError"/></testcase>
<testcase classname="steps.test_a" name="test_passes"/>
<testcase classname="steps.test_b" name="test_deviates"><skipped type="pytest.skip"
 message="profile deviation: PROFILE_TERM_CANCEL_REASON: the CANCEL carries no Reason"/></testcase>
<testcase classname="steps.test_b" name="test_deviates_twice"><properties>
<property name="profile.deviation" value="PROFILE_BLK_NO_PER_WIC: a block REGISTER per WIC"/>
<property name="profile.deviation" value="PROFILE_TERM_CANCEL_REASON: the CANCEL carries no Reason"/>
<property name="profile.deviation" value="PROFILE_BLK_NO_PER_WIC: again"/></properties>
<skipped type="pytest.skip"
 message="profile deviation: PROFILE_BLK_NO_PER_WIC: a block REGISTER per WIC"/></testcase>
<testcase classname="steps.test_b" name="test_inconclusive"><skipped type="pytest.skip"
 message="inconclusive: no capture"/></testcase>
</testsuite></testsuites>"""


def test_a_fault_ending_in_profile_deviation_only_is_reported_apart(tmp_path: Path) -> None:
    """A scenario's PROFILE DEVIATION (its JUnit skip) is not a catch: the blind report lists such a
    fault apart, and counts it as not caught in the rate (the deviation is the suite's own reading)."""
    script = _script()
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)
    failed, passed, deviated = script.read_junit(junit)
    assert failed == ["steps.test_a::test_fails"] and passed == 1
    assert deviated == [  # every choice a scenario deviated from, from its properties, once each
        "steps.test_b::test_deviates (PROFILE_TERM_CANCEL_REASON)",
        "steps.test_b::test_deviates_twice (PROFILE_BLK_NO_PER_WIC, PROFILE_TERM_CANCEL_REASON)",
    ]
    caught = script.Run("a", failed, passed, 1.0)
    profile = script.Run("b", [], passed, 1.0, None, deviated[:1])
    missed = script.Run("c", [], passed, 1.0)
    assert [r.status for r in (caught, profile, missed)] == ["caught", "profile deviation", "missed"]
    rate = script.rate([caught, profile, missed])
    assert rate.startswith("1/3 faults caught (33 %); 1 of the others ended in PROFILE DEVIATION only"), rate
    row = script.table([profile], {"b": ("P-CSCF", "5.2.2.5.4", "x")})[-1]
    assert "| profile deviation | deviates (PROFILE_TERM_CANCEL_REASON) |" in row, row


def test_harness_errors_are_listed_beside_a_catch(tmp_path: Path) -> None:
    """A run that caught the fault in one scenario and ended on a harness error in another lists the
    harness error too (review point 12 of stop 39): a defect of the test system is never hidden by a
    catch, and never counted as one."""
    script = _script()
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT.replace(
        '<testcase classname="steps.test_a" name="test_passes"/>',
        '<testcase classname="steps.test_a" name="test_broke"><properties><property '
        'name="harness.error" value="no capture of the S-CSCF leg"/></properties>'
        '<failure message="HarnessError"/></testcase>',
    ))  # fmt: skip
    failed, passed, deviated = script.read_junit(junit)
    harness = script.harness_errors(junit)
    assert failed == ["steps.test_a::test_fails"] and harness == [
        "steps.test_a::test_broke: no capture of the S-CSCF leg"
    ]
    run = script.Run("a", failed, passed, 1.0, None, deviated, harness)
    row = script.table([run], {"a": ("P-CSCF", "5.2.2.5.4", "x")})[-1]
    assert row.startswith("| `a` | P-CSCF | 5.2.2.5.4 | caught | fails; and 1 harness error(s)"), row
    assert "broke: no capture of the S-CSCF leg" in row, row
