"""Proof that the suite is real (issue 6): the same verdicts against the reference in separate processes.

Every feature runs twice, each in its own pytest process: in-process (the default run) and against
``examples/pixit/reference-processes.toml``, where every node is external: the reference stack is
started as a separate operating-system process for each scenario by the PIXIT's ``[sut] start``
command, and the harness knows only the PIXIT (addresses, CA, the WWSF signing key, users, the
shared clock file). The verdicts must be the same, scenario for scenario, and all PASS, with one
declared exception: a scenario that makes a node fail (tag ``fault_injection``) needs a
fault-injection command the PIXIT does not offer yet, so out-of-process it must be INCONCLUSIVE
with that reason (never passed, never failed).
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.pixit import load_pixit

ROOT = Path(__file__).resolve().parents[2]
PIXIT = ROOT / "examples" / "pixit" / "reference-processes.toml"

pytestmark = pytest.mark.slow


def verdicts(junit: Path) -> dict[str, str]:
    """Test name -> passed, failed, error or ``skipped: <reason>``, from a JUnit XML file."""
    found: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        outcome = "passed"
        for kind in ("failure", "error", "skipped"):
            element = case.find(kind)
            if element is not None:
                outcome = kind if kind != "skipped" else f"skipped: {element.get('message', '')}"
        found[name] = outcome
    return found


def run_steps(tmp_path: Path, name: str, *extra: str) -> dict[str, str]:
    junit = tmp_path / f"{name}.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST_", "PYTEST_CURRENT_TEST"))}
    env["WIMPU_CAPTURES_DIR"] = str(tmp_path / f"captures-{name}")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "steps", "-n0", "-p", "no:cacheprovider", "--no-reports", "-q",
         f"--junitxml={junit}", *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    output = f"{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
    assert junit.exists(), f"the {name} run wrote no JUnit XML:\n{output}"
    return verdicts(junit)


def test_the_process_pixit_describes_every_node_as_external() -> None:
    pixit = load_pixit(PIXIT)
    assert pixit.modes() == {"external"} and pixit.start and pixit.clock_file is not None


def test_out_of_process_verdicts_are_the_in_process_ones(tmp_path: Path) -> None:
    inside = run_steps(tmp_path, "in-process")
    outside = run_steps(tmp_path, "out-of-process", "--sut", str(PIXIT))
    print(f"\nin-process: {len(inside)} scenarios; out-of-process: {len(outside)} scenarios")
    assert inside.keys() == outside.keys(), f"different scenarios: {sorted(inside.keys() ^ outside.keys())}"
    not_passed = {name: v for name, v in inside.items() if v != "passed"}
    assert not not_passed, f"not every scenario passed in-process: {not_passed}"
    differ = {name: (inside[name], outside[name]) for name in inside if inside[name] != outside[name]}
    declared = {
        name: (mine, theirs)
        for name, (mine, theirs) in differ.items()
        if theirs.startswith("skipped: inconclusive") and "fault-injection" in theirs
    }
    print(f"inconclusive out-of-process by declaration: {sorted(declared)}")
    undeclared = {n: v for n, v in differ.items() if n not in declared}
    assert not undeclared, f"verdicts differ (in-process, out-of-process): {undeclared}"
    assert len(declared) <= 1, f"more scenarios than the failover one need fault injection: {declared}"


def test_a_mixed_pixit_is_refused_in_one_line_before_any_scenario(tmp_path: Path) -> None:
    text = (ROOT / "conformance" / "reference-pixit.toml").read_text(encoding="utf-8")
    mixed = text.replace('name = "ep-cscf1"\nmode = "reference"', 'name = "ep-cscf1"\nmode = "external"\n'
                         'url = "wss://127.0.0.1:7443"\nsip = "tcp://127.0.0.1:5080"\nidentity = "sip:ep1"')
    assert mixed != text
    (tmp_path / "ca.pem").write_text("unused")
    path = tmp_path / "mixed.toml"
    path.write_text(mixed.replace("[stack]", '[trust]\nca = ["ca.pem"]\n\n[stack]'), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "steps", "-n0", "-p", "no:cacheprovider", "--no-reports", "-q",
         "--sut", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert result.returncode == 4 and len(errors) == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "mixed runs are not supported yet" in errors[0], errors[0]
