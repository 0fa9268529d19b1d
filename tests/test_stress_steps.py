"""The logic of ``scripts/stress_steps.py`` (issue 14): JUnit reading, the lines and the table it
prints, its exit status; on a hand-written JUnit XML, without running pytest or the stress."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "stress_steps.py"

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="4">
<testcase classname="steps.test_registration" name="test_ok[alice]" time="1.0" />
<testcase classname="steps.test_termination" name="test_not_registered[bob]" time="2.0">
  <failure message="AssertionError: hop list ends in the remote party&#10;assert 'remote' == 'ep-cscf1'">
  traceback here</failure>
</testcase>
<testcase classname="steps.test_security" name="test_token[in a header]" time="0.1">
  <error message="failed on setup with &quot;TimeoutError: no 200 OK&quot;">setup traceback</error>
</testcase>
<testcase classname="steps.test_lifecycle" name="test_na" time="0.0">
  <skipped type="pytest.skip" message="not applicable: PICS">skipped</skipped>
</testcase>
</testsuite></testsuites>
"""


@pytest.fixture(scope="module")
def stress() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stress_steps", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def junit(tmp_path: Path) -> Path:
    path = tmp_path / "n2-1.xml"
    path.write_text(JUNIT, encoding="utf-8")
    return path


def test_junit_cases_with_outcome_and_first_message_line(stress: ModuleType, junit: Path) -> None:
    cases = stress.read_junit(junit)
    assert [(c.name, c.outcome, c.message) for c in cases] == [
        ("steps.test_registration::test_ok[alice]", "passed", ""),
        ("steps.test_termination::test_not_registered[bob]", "failure",
         "AssertionError: hop list ends in the remote party"),
        ("steps.test_security::test_token[in a header]", "error",
         'failed on setup with "TimeoutError: no 200 OK"'),
        ("steps.test_lifecycle::test_na", "skipped", "not applicable: PICS"),
    ]  # fmt: skip


def test_a_long_message_line_is_cut(stress: ModuleType) -> None:
    line = stress.first_line("\n  " + "x" * 1000 + "\nsecond")
    assert len(line) == stress.MESSAGE_CHARS and line.endswith("...")


def test_the_line_after_each_run(stress: ModuleType, junit: Path) -> None:
    run = stress.Run("n2", 2, 61.24, 1, cases=stress.read_junit(junit))
    assert stress.run_line(run, 3) == "n2 run 2/3: 1 passed, 1 failed, 1 errors, 1 skipped in 61.2 s"
    killed = stress.Run("n0", 1, 900.4, None, problem="timed out after 900 s and was killed", left_behind=0)
    assert stress.run_line(killed, 3) == (
        "n0 run 1/3: 0 passed, 0 failed, 0 errors in 900.4 s (timed out after 900 s and was killed)"
    )


def test_the_table_per_scenario_and_mode_then_totals(stress: ModuleType, junit: Path) -> None:
    cases = stress.read_junit(junit)
    passing = [stress.Case(c.name, "passed") for c in cases]
    runs = [
        stress.Run("n2", 1, 60.0, 0, cases=passing),
        stress.Run("n0", 1, 100.0, 1, cases=cases),
        stress.Run("n2", 2, 80.0, 1, cases=cases),
        stress.Run("n0", 2, 900.0, None, problem="timed out after 900 s and was killed"),
    ]
    assert stress.summary(runs, ["n2", "n0"]).splitlines() == [
        "Scenarios that failed (runs failed / runs, per mode):",
        "scenario                                          n2   n0",
        "steps.test_security::test_token[in a header]      1/2  1/2",
        '    n2 run 2 error: failed on setup with "TimeoutError: no 200 OK"',
        '    n0 run 1 error: failed on setup with "TimeoutError: no 200 OK"',
        "steps.test_termination::test_not_registered[bob]  1/2  1/2",
        "    n2 run 2 failure: AssertionError: hop list ends in the remote party",
        "    n0 run 1 failure: AssertionError: hop list ends in the remote party",
        "(run)                                             0/2  1/2",
        "    n0 run 2 problem: timed out after 900 s and was killed",
        "",
        "mode  runs  runs failed  mean s  max s",
        "n2    2     1            70.0    80.0",
        "n0    2     2            500.0   900.0",
    ]
    assert stress.exit_status(runs) == 1
    assert stress.exit_status(runs[:1]) == 0


def test_no_failure(stress: ModuleType) -> None:
    runs = [stress.Run("n2", 1, 10.0, 0, cases=[stress.Case("steps.t::a", "passed")])]
    assert stress.summary(runs, ["n2"]).splitlines() == [
        "No scenario failed.",
        "",
        "mode  runs  runs failed  mean s  max s",
        "n2    1     0            10.0    10.0",
    ]


def test_modes_and_the_child_environment(stress: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    assert stress.mode_arguments("n2") == ["-n", "2"]
    assert stress.mode_arguments("n0") == ["-n0"]
    with pytest.raises(ValueError):
        stress.mode_arguments("2")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "x (call)")
    env = stress.child_environment(Path("/tmp/captures-n2-1"))
    assert not any(k.startswith(("PYTEST_XDIST_", "PYTEST_CURRENT_TEST")) for k in env)
    assert env["WIMPU_CAPTURES_DIR"] == "/tmp/captures-n2-1"
    command = stress.pytest_command(Path("/tmp/n0-1.xml"), "n0")
    assert command[1:] == ["-m", "pytest", "steps", "-p", "no:cacheprovider", "--no-reports", "-q",
                           "--junitxml=/tmp/n0-1.xml", "-n0"]  # fmt: skip
