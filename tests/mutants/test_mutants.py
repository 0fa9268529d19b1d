"""Every scenario can fail: with the fault it guards against injected, it goes red.

For each fault of ``wimpu_faults.FAULTS``, the scenarios whose test purposes guard
against it are run in a subprocess with the fault applied; the run must fail, and
every selected scenario must be among the failures. ``docs/mutants.md`` lists the same
table for readers.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# fault -> the scenarios (a marker expression over their tags) that must fail when it is injected
GUARDS: dict[str, str] = {
    "token_not_checked": "TP_WIMPU_SEC_002 or TP_WIMPU_SEC_003",
    "origin_not_checked": "TP_WIMPU_SEC_001",
    "deregistration_ignored": "TP_WIMPU_REG_005",
    "registration_not_stored": "TP_WIMPU_REG_001 or TP_WIMPU_REG_003 or TP_WIMPU_REG_004",
    "new_impu_per_contact": "TP_WIMPU_REG_003 and option_b",
    "external_identity_as_impu": "TP_WIMPU_REG_002",
}


def run_with_fault(fault: str, selection: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, WIMPU_FAULT=fault)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "pytest", "steps", "-p", "wimpu_faults", "-p", "no:cacheprovider",
         "-q", "-rf", "-m", selection],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_every_fault_has_guards_and_every_guard_exists() -> None:
    sys.path.insert(0, str(HERE))
    try:
        from wimpu_faults import FAULTS
    finally:
        sys.path.remove(str(HERE))
    assert set(GUARDS) == set(FAULTS)
    declared = (ROOT / "features" / "tags.toml").read_text()
    for selection in GUARDS.values():
        for tag in re.findall(r"\w+", selection):
            if tag not in ("and", "or", "not"):
                assert re.search(rf"^{tag}\s*=", declared, re.M), f"{tag} is not a declared tag"


@pytest.mark.parametrize("fault", sorted(GUARDS))
def test_scenarios_fail_when_the_reference_misbehaves(fault: str) -> None:
    result = run_with_fault(fault, GUARDS[fault])
    out = result.stdout + result.stderr
    assert result.returncode == 1, f"with fault {fault!r} the guarding scenarios did not fail:\n{out[-3000:]}"
    passed = re.search(r"(\d+) passed", out)
    assert passed is None, f"with fault {fault!r} some guarding scenarios still passed:\n{out[-3000:]}"
    assert re.search(r"(\d+) failed", out), out[-3000:]
