"""PICS gating (conftest.py): a scenario whose option the system under test does not support is
reported as not applicable, with the PICS item as the reason, never silently dropped."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from nested import why

ROOT = Path(__file__).resolve().parents[1]
PICS = ROOT / "features" / "pics.toml"
SELECTION = "TP_WIMPU_REG_001 and not (dialect_jssip or dialect_sipjs or dialect_sipml5)"
"""One scenario outline with an @option_a and an @option_b example (the suite's own WIC shape; the
TP's rows in other clients' SIP, docs/dialects.md, are gated the same way)."""


def pics_answering(tmp_path: Path, item: str, answer: str, **more: str) -> Path:
    """A copy of the reference's PICS with ``item`` answered ``answer`` (and each of ``more``)."""
    changed = PICS.read_text(encoding="utf-8")
    for pid, value in {item: answer, **more}.items():
        block = re.compile(rf'(id = "{pid}"\n(?:(?!\[\[item\]\]).*\n)*?answer = )"yes"')
        changed, count = block.subn(rf'\1"{value}"', changed)
        assert count == 1, f"{pid} not found in {PICS}"
    path = tmp_path / "pics.toml"
    path.write_text(changed, encoding="utf-8")
    return path


def run_scenarios(*options: str) -> str:
    junit = Path(tempfile.mkdtemp(prefix="wimpu-pics-")) / "junit.xml"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "steps", "-v", "-p", "no:cacheprovider", "-rs", "-m", SELECTION,
         f"--junitxml={junit}", *options],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, why(junit, result.stdout, result.stderr)
    return output


def test_an_option_b_scenario_is_not_applicable_when_the_pics_answers_no(tmp_path: Path) -> None:
    output = run_scenarios("--pics", str(pics_answering(tmp_path, "PICS_OPT_B", "no")))
    assert re.search(r"\b1 passed, 1 skipped\b", output), output[-3000:]
    skipped = [line for line in output.splitlines() if " SKIPPED " in line]
    assert len(skipped) == 1 and "[bob-" in skipped[0], skipped  # the option B example
    reason = r"^SKIPPED \[1\] .*: not applicable: PICS PICS_OPT_B = no$"
    assert re.search(reason, output, re.M), output[-3000:]


def test_the_option_b_scenario_runs_when_the_pics_answers_yes() -> None:
    output = run_scenarios("--pics", str(PICS))
    assert re.search(r"\b2 passed\b", output) and "skipped" not in output, output[-3000:]


def test_an_ep_cscf_only_sut_runs_the_wic_registration_purpose(tmp_path: Path) -> None:
    """Issue 15: gating by node tags made every WIC registration TP not applicable to an eP-CSCF-only
    SUT (the scenarios also exercise the registrar); the TP's selection expression names its focus."""
    only = {"PICS_NODE_REGISTRAR": "no", "PICS_NODE_ICSCF": "no", "PICS_W6_READ": "no"}
    output = run_scenarios("--pics", str(pics_answering(tmp_path, "PICS_NODE_WWSF", "no", **only)))
    assert re.search(r"\b2 passed\b", output) and "skipped" not in output, output[-3000:]


def test_the_purpose_is_not_applicable_without_its_focus_node(tmp_path: Path) -> None:
    output = run_scenarios("--pics", str(pics_answering(tmp_path, "PICS_NODE_EPCSCF", "no")))
    assert re.search(r"\b2 skipped\b", output) and "passed" not in output, output[-3000:]
    reason = (
        r"^SKIPPED \[2\] .*: not applicable: PICS selection of TP_WIMPU_REG_001: PICS_NODE_EPCSCF AND "
        r"\(PICS_W6_READ OR NOT PICS_NODE_REGISTRAR\) \(PICS_NODE_EPCSCF = no, PICS_W6_READ = yes, "
        r"PICS_NODE_REGISTRAR = yes\)$"
    )
    assert re.search(reason, output, re.M), output[-3000:]


def test_a_registrar_under_test_that_cannot_be_read_rules_out_the_w6_purposes(tmp_path: Path) -> None:
    output = run_scenarios("--pics", str(pics_answering(tmp_path, "PICS_W6_READ", "no")))
    assert re.search(r"\b2 skipped\b", output), output[-3000:]
    assert "PICS_W6_READ = no, PICS_NODE_REGISTRAR = yes" in output, output[-3000:]
