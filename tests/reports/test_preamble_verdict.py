"""A failure in a scenario's preamble (its leading Given steps) is INCONCLUSIVE for its test purpose.

ETSI practice (a TTCN-3 preamble failure sets inconc): the behaviour under test was never exercised.
Found on the Kamailio eP-CSCF (docs/validation.md, harness assumption 3): SEC_009-011 set up a session
in a Given, Kamailio's 501 failed it, and the FAIL was charged to the authorisation of in-dialog
requests. Here the files of such a run are written by hand: JUnit XML with cucumber JSON, and cucumber
JSON alone.
"""

from __future__ import annotations

import json
from pathlib import Path

from reports.results import PREAMBLE_PREFIX, Verdict, load_run, preamble_length

STEPS = [
    ("Given", "the wIMPU stack is running"),
    ("And", "alice has originated a session"),
    ("When", "WIC 2 sends a BYE in that session"),
    ("Then", "the eP-CSCF refuses it"),
    ("And", "the BYE is not relayed"),
]
FAILURE = "AssertionError: expected 200 for the INVITE, got 501"


def _statuses(failed: int) -> list[str]:
    return ["passed"] * failed + ["failed"] * (len(STEPS) - failed)  # pytest-bdd: failed from there on


def _element(name: str, failed: int) -> dict[str, object]:
    steps = []
    for (keyword, text), status in zip(STEPS, _statuses(failed), strict=True):
        result = {"status": status, **({"error_message": FAILURE} if status == "failed" else {})}
        steps.append({"keyword": keyword, "name": text, "result": result})
    return {"id": name, "name": name, "tags": [], "steps": steps}


def _write(tmp_path: Path, *, junit: bool) -> None:
    cases = {"in_given": 0, "in_and_after_given": 1, "in_then": 3, "in_and_after_then": 4}
    elements = [_element(name, failed) for name, failed in cases.items()]
    cucumber = [{"uri": "security/s.feature", "name": "S", "elements": elements}]
    (tmp_path / "cucumber.json").write_text(json.dumps(cucumber), encoding="utf-8")
    if not junit:
        return
    xml = []
    for name in cases:
        props = [("bdd.feature", "security/s.feature"), ("bdd.feature_name", "S"), ("bdd.scenario", name),
                 ("bdd.tags", "TP_WIMPU_SEC_009"), *(("bdd.step", f"{k} {t}") for k, t in STEPS)]  # fmt: skip
        body = "".join(f'<property name="{n}" value="{v}"/>' for n, v in props)
        xml.append(
            f'<testcase classname="steps.t" name="{name}" time="1"><properties>{body}</properties>'
            f'<failure message="{FAILURE}">E</failure></testcase>'
        )
    (tmp_path / "junit.xml").write_text(f"<testsuites><testsuite>{''.join(xml)}</testsuite></testsuites>")


def test_the_preamble_is_the_leading_given_steps() -> None:
    assert preamble_length([k for k, _ in STEPS]) == 2
    assert preamble_length(["When", "Then"]) == 0
    assert preamble_length(["Given", "And", "But", "Then", "And"]) == 3


def test_a_failure_in_the_preamble_is_inconclusive_and_one_after_it_a_fail(tmp_path: Path) -> None:
    for junit in (True, False):
        folder = tmp_path / ("junit" if junit else "cucumber")
        folder.mkdir()
        _write(folder, junit=junit)
        results, _ = load_run(folder)
        verdicts = {r.test: r.verdict for r in results}
        assert verdicts == {
            "in_given": Verdict.INCONCLUSIVE,
            "in_and_after_given": Verdict.INCONCLUSIVE,
            "in_then": Verdict.FAIL,
            "in_and_after_then": Verdict.FAIL,
        }, junit
        reason = next(r.reason for r in results if r.test == "in_and_after_given")
        assert reason == f"{PREAMBLE_PREFIX}And alice has originated a session: {FAILURE}", junit
        steps = next(r.steps for r in results if r.test == "in_and_after_given")
        assert [s.status for s in steps] == ["passed", "failed", "not run", "not run", "not run"]
