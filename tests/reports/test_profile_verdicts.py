"""PROFILE DEVIATION, read back from a run's files: a verdict of its own, never a FAIL (issue 15).

A scenario whose checks of the text held but whose check of a solution-profile choice did not is
skipped with the reason ``profile deviation: ...`` and carries ``profile.deviation`` properties
(``conformance/harness/profile.py``). Here the files of such a run are written by hand: JUnit XML,
and cucumber JSON alone (as the plugin completes it), and the verdicts, step statuses, requirement
verdicts and both renderings are checked.
"""

from __future__ import annotations

import json
from pathlib import Path

from conformance.traceability import Requirement
from reports import render_html, render_md
from reports.conformance import Report, RequirementRow, overall
from reports.results import SEVERITY, RunInfo, ScenarioResult, Verdict, load_run

DEVIATION = "PROFILE_ORIG_OPTA_NO_W6: expected the eP-CSCF to make no W6 query, the registrar received 1"
UNCHECKED = "PROFILE_TERM_PCPID: not checked: PICS PICS_PROFILE_TERM_PCPID = no"
PROFILE_STEP = "the eP-CSCF made no query, as the solution profile chooses (PROFILE_ORIG_OPTA_NO_W6)"
STEPS = ["Given alice has registered", "Then the eP-CSCF answers 200", f"And {PROFILE_STEP}"]


def _case(name: str, outcome: str, properties: list[tuple[str, str]]) -> str:
    props = [("bdd.feature", "origination/o.feature"), ("bdd.feature_name", "Origination"),
             ("bdd.scenario", name), ("bdd.tags", "TP_WIMPU_ORIG_003"),
             *(("bdd.step", step) for step in STEPS), *properties]  # fmt: skip
    body = "".join(f'<property name="{n}" value="{v}"/>' for n, v in props)
    head = f'<testcase classname="steps.t" name="{name}" time="1">'
    return f"{head}<properties>{body}</properties>{outcome}</testcase>"


def _junit(tmp_path: Path) -> Path:
    cases = [
        _case("deviated", f'<skipped type="pytest.skip" message="profile deviation: {DEVIATION}"/>',
              [("profile.deviation", DEVIATION)]),
        _case("failed_and_deviated", '<failure message="AssertionError: expected 200, got 500">E</failure>',
              [("profile.deviation", DEVIATION)]),
        _case("unchecked", "", [("profile.unchecked", UNCHECKED)]),
        _case("inconclusive", '<skipped type="pytest.skip" message="inconclusive: no clock"/>', []),
    ]  # fmt: skip
    path = tmp_path / "junit.xml"
    path.write_text(f"<testsuites><testsuite>{''.join(cases)}</testsuite></testsuites>", encoding="utf-8")
    return path


def test_a_profile_deviation_is_its_own_verdict_and_a_failure_keeps_its_deviations(tmp_path: Path) -> None:
    _junit(tmp_path)
    results, _ = load_run(tmp_path)
    by_name = {r.test: r for r in results}
    deviated = by_name["deviated"]
    assert deviated.verdict is Verdict.PROFILE_DEVIATION and deviated.deviations == (DEVIATION,)
    assert [s.status for s in deviated.steps] == ["passed", "passed", "deviated"]
    failed = by_name["failed_and_deviated"]
    assert failed.verdict is Verdict.FAIL and failed.deviations == (DEVIATION,)
    assert by_name["unchecked"].verdict is Verdict.PASS and by_name["unchecked"].unchecked == (UNCHECKED,)
    assert by_name["inconclusive"].verdict is Verdict.INCONCLUSIVE


def test_cucumber_json_alone_says_profile_deviation(tmp_path: Path) -> None:
    """Without JUnit XML: the lines the plugin adds to the scenario's description carry it."""
    step = {"keyword": "And", "name": PROFILE_STEP, "result": {"status": "skipped", "duration": 1}}
    passed = {"keyword": "Then", "name": "the eP-CSCF answers 200", "result": {"status": "passed"}}
    description = "\n".join(
        ["profile deviation", f"skipped: profile deviation: {DEVIATION}", f"profile.deviation: {DEVIATION}"]
    )
    element = {"id": "deviated", "name": "N", "tags": [], "steps": [passed, step], "description": description}
    inconclusive = {**element, "id": "inconclusive", "description": "skipped: inconclusive: no clock"}
    feature = {"uri": "origination/o.feature", "name": "Origination", "elements": [element, inconclusive]}
    (tmp_path / "cucumber.json").write_text(json.dumps([feature]), encoding="utf-8")
    results, _ = load_run(tmp_path)
    by_name = {r.test: r for r in results}
    assert by_name["deviated"].verdict is Verdict.PROFILE_DEVIATION
    assert by_name["deviated"].deviations == (DEVIATION,)
    assert [s.status for s in by_name["deviated"].steps] == ["passed", "deviated"]
    assert by_name["inconclusive"].verdict is Verdict.INCONCLUSIVE
    assert by_name["inconclusive"].reason == "inconclusive: no clock"


def _requirement() -> Requirement:
    return Requirement("REQ", "5.2.2.5.3", "2", "text", "shall", (), True, ("TP_WIMPU_ORIG_003",))


def _result(name: str, verdict: Verdict, deviations: tuple[str, ...] = ()) -> ScenarioResult:
    tags = ("TP_WIMPU_ORIG_003",)
    return ScenarioResult(name, "o.feature", "O", name, tags, verdict, deviations=deviations)


def test_a_requirement_whose_scenarios_only_deviate_is_not_failed() -> None:
    requirement = _requirement()
    deviated = _result("a", Verdict.PROFILE_DEVIATION, (DEVIATION,))
    passed = _result("b", Verdict.PASS)
    assert overall([deviated, passed], requirement, True) is Verdict.PROFILE_DEVIATION
    assert overall([deviated, _result("c", Verdict.FAIL)], requirement, True) is Verdict.FAIL
    assert overall([deviated, _result("d", Verdict.INCONCLUSIVE)], requirement, True) is Verdict.INCONCLUSIVE
    order = list(SEVERITY)
    rank = order.index
    assert rank(Verdict.INCONCLUSIVE) < rank(Verdict.PROFILE_DEVIATION) < rank(Verdict.PASS)


def test_both_renderings_list_deviations_apart_from_failures() -> None:
    deviated = _result("a", Verdict.PROFILE_DEVIATION, (DEVIATION,))
    failed = _result("b", Verdict.FAIL, (DEVIATION,))
    requirement = _requirement()
    row = RequirementRow(requirement, [("TP_WIMPU_ORIG_003", deviated)], [], Verdict.PROFILE_DEVIATION)
    report = Report("t", "now", RunInfo(), "sut", "pics.toml", {}, [], [failed, deviated], [row], [], [])
    markdown = render_md.render(report)
    summary = markdown.split("### Failures and inconclusive verdicts", 1)[1]
    failures = summary.split("### Profile deviations", 1)
    assert "**FAIL** b" in failures[0] and "**PROFILE DEVIATION** a" not in failures[0]
    assert "**PROFILE DEVIATION** a" in failures[1] and "**FAIL** b" in failures[1]
    assert "| PROFILE DEVIATION | 1 | 1 |" in markdown
    html = render_html.render(report)
    assert 'data-verdict="PROFILE DEVIATION"' in html and 'id="deviations"' in html
    assert html.count(DEVIATION.split(":", 1)[0]) >= 2
