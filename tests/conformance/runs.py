"""Helpers of the tests that run every feature in a pytest subprocess and compare verdicts.

``run_steps`` runs ``pytest steps`` (serially, no reports, captures in a temporary folder) and
returns each scenario's verdict read from its JUnit XML; ``in_process_verdicts`` runs the default,
in-process one once per test session, for every comparison to share.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from nested import failures, why

ROOT = Path(__file__).resolve().parents[2]
NOT_APPLICABLE = "skipped: not applicable: "
INCONCLUSIVE = "skipped: inconclusive: "


def verdicts(junit: Path) -> dict[str, str]:
    """Test name -> passed, failure, error or ``skipped: <reason>``, from a JUnit XML file."""
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
    """Every scenario's verdict in a ``pytest steps`` run with ``extra`` arguments."""
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
    found = verdicts(junit)
    failed = {n: v for n, v in found.items() if v in ("failure", "error")}
    if failed:
        print(f"the {name} run:\n{why(junit, result.stdout, result.stderr)}")
    return found


@pytest.fixture(scope="session")
def in_process_verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The default run's verdicts (the bundled reference, in-process): every scenario must pass."""
    where = tmp_path_factory.mktemp("in-process")
    found = run_steps(where, "in-process")
    not_passed = {name: v for name, v in found.items() if v != "passed"}
    assert not not_passed, f"not every scenario passed in-process: {not_passed}\n" + "\n".join(
        failures(where / "in-process.xml")
    )
    return found
