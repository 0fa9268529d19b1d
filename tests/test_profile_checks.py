"""Profile checks (conftest.py, conformance/harness/profile.py): a SUT that deviates from a choice of
the solution profile gets PROFILE DEVIATION, not FAIL, in every report; a PICS that answers the
choice's item no leaves the check out (issue 15).

The fault ``option_a_w6`` (tests/mutants/wimpu_faults.py) has the eP-CSCF query the registrar in
option A: the text allows it (5.2.2.5.3 step 2 is only not applicable), the profile chooses not to
(PROFILE_ORIG_OPTA_NO_W6, TP_WIMPU_ORIG_003).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from nested import why
from test_pics_gating import pics_answering

ROOT = Path(__file__).resolve().parents[1]
CHOICE = "PROFILE_ORIG_OPTA_NO_W6"


PROBE = '''
def pytest_bdd_after_step(request, feature, scenario, step, step_func, step_func_args):
    if step.name.startswith("the INVITE reaching the remote party asserts"):
        raise AssertionError("probe: a check of the text failed after the deviation")
'''
"A plugin that fails the last step of TP_WIMPU_ORIG_003, a check of the text after the profile check."


def run_with_fault(reports: Path, *options: str, path: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST_", "PYTEST_CURRENT_TEST"))}
    env.pop("WIMPU_REPORTS_DIR", None)
    env["WIMPU_FAULT"] = "option_a_w6"
    env["WIMPU_CAPTURES_DIR"] = str(reports.parent / "captures")
    paths = [path, str(ROOT / "tests" / "mutants"), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "steps", "-p", "wimpu_faults", "-p", "no:cacheprovider", "-n0", "-q",
         "-rs", "-m", "TP_WIMPU_ORIG_003", "--reports-dir", str(reports), *options],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def properties(junit: Path) -> tuple[ET.Element, list[tuple[str, str]]]:
    [case] = list(ET.parse(junit).getroot().iter("testcase"))
    return case, [(p.get("name", ""), p.get("value", "")) for p in case.iterfind("properties/property")]


def test_a_profile_deviation_is_reported_apart_and_never_as_a_failure(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = run_with_fault(reports)
    junit = reports / "junit.xml"
    assert result.returncode == 0, why(junit, result.stdout, result.stderr)  # no failure of the text
    # the step is judged by the capture rule verify applies offline (one judge per requirement)
    assert f"profile deviation: {CHOICE}: ORIG_NO_W6_OPTION_A DEVIATION" in result.stdout
    assert "option A origination queried W6: GET /w6/v1/registrations/" in result.stdout
    case, props = properties(junit)
    skipped = case.find("skipped")
    assert case.find("failure") is None and skipped is not None
    assert skipped.get("message", "").startswith(f"profile deviation: {CHOICE}: ")
    assert [v for n, v in props if n == "profile.deviation"][0].startswith(f"{CHOICE}: ")
    cucumber = json.loads((reports / "cucumber.json").read_text())
    [element] = [e for feature in cucumber for e in feature["elements"]]
    assert f"skipped: profile deviation: {CHOICE}" in element["description"]
    statuses = {s["name"]: s["result"]["status"] for s in element["steps"]}
    assert [name for name, status in statuses.items() if status == "skipped"] == [
        f"the eP-CSCF made no query to the wIMPU Registrar for the session, as the solution profile "
        f"chooses ({CHOICE})"
    ]
    [allure] = [json.loads(p.read_text()) for p in (reports / "allure-results").glob("*-result.json")]
    assert allure["status"] == "skipped"
    assert f"profile deviation: {CHOICE}" in allure["statusDetails"]["message"]
    markdown = (reports / "conformance.md").read_text()
    assert "| PROFILE DEVIATION | 1 |" in markdown and "| FAIL | 0 |" in markdown
    apart = markdown.split("### Profile deviations (not failures of the text)", 1)[1].split("##", 1)[0]
    assert "**PROFILE DEVIATION**" in apart and CHOICE in apart
    assert "*(deviated)*" in markdown


def test_a_pics_answering_the_choice_no_leaves_the_check_out(tmp_path: Path) -> None:
    pics = pics_answering(tmp_path, f"PICS_{CHOICE}", "no")
    reports = tmp_path / "reports"
    result = run_with_fault(reports, "--pics", str(pics))
    junit = reports / "junit.xml"
    assert result.returncode == 0, why(junit, result.stdout, result.stderr)
    case, props = properties(junit)
    assert case.find("skipped") is None and case.find("failure") is None  # PASS on the text's checks
    assert ("profile.unchecked", f"{CHOICE}: not checked: PICS PICS_{CHOICE} = no") in props
    assert not [v for n, v in props if n == "profile.deviation"]
    markdown = (reports / "conformance.md").read_text()
    assert "| PASS | 1 |" in markdown and f"PICS PICS_{CHOICE} = no" in markdown
    assert "*(not checked)*" in markdown


def test_a_failure_of_the_text_after_a_deviation_is_a_fail_that_lists_the_deviation(tmp_path: Path) -> None:
    """The scenario goes on after a deviation: a check of the text after it still runs, and FAILs."""
    (tmp_path / "profile_probe.py").write_text(PROBE, encoding="utf-8")
    reports = tmp_path / "reports"
    result = run_with_fault(reports, "-p", "profile_probe", path=str(tmp_path))
    assert result.returncode == 1, result.stdout[-3000:]
    case, props = properties(reports / "junit.xml")
    failure = case.find("failure")
    assert failure is not None and "probe: a check of the text failed" in failure.get("message", "")
    assert [v for n, v in props if n == "profile.deviation"][0].startswith(f"{CHOICE}: ")
    markdown = (reports / "conformance.md").read_text()
    assert "| FAIL | 1 |" in markdown and "| PROFILE DEVIATION | 0 |" in markdown
    apart = markdown.split("### Profile deviations (not failures of the text)", 1)[1].split("##", 1)[0]
    assert "**FAIL**" in apart and CHOICE in apart
