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
SELECTION = "TP_WIMPU_REG_001"
"One scenario outline with an @option_a and an @option_b example."


def pics_answering(tmp_path: Path, item: str, answer: str) -> Path:
    """A copy of the reference's PICS with ``item`` answered ``answer``."""
    text = PICS.read_text(encoding="utf-8")
    block = re.compile(rf'(id = "{item}"\n(?:(?!\[\[item\]\]).*\n)*?answer = )"yes"')
    changed, count = block.subn(rf'\1"{answer}"', text)
    assert count == 1, f"{item} not found in {PICS}"
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
