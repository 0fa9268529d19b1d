"""The capture rules' verdict on a scenario's capture, as the live run reads it (issue 15, one judge
per requirement): a failed rule fails the scenario, a deviation is a profile deviation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.harness.profile import ProfileChecks
from conformance.harness.wire_verdict import WireVerdict


def _report(*findings: dict[str, object]) -> dict[str, object]:
    return {
        "capture": "x.pcapng",
        "rules": [],
        "flows": [{"id": "flow-1", "findings": list(findings)}],
        "problems": [],
        "summary": {},
    }


def _finding(rule: str, verdict: str, choice: str | None = None, frame: int | None = 7) -> dict[str, object]:
    return {
        "rule": rule,
        "clause": "TR 23.701 5.2.2.5.4",
        "verdict": verdict,
        "detail": f"{choice + ': ' if choice else ''}what was seen",
        "frame": frame,
        "leg": "i-cscf -> remote" if frame is not None else None,
        "choice": choice,
    }


def _write(tmp_path: Path, report: dict[str, object]) -> Path:
    path = tmp_path / "t.verdicts.json"
    path.write_text(json.dumps(report))
    return path


def test_a_failed_rule_fails_the_scenario_naming_rule_flow_frame_and_leg(tmp_path: Path) -> None:
    path = _write(tmp_path, _report(_finding("TERM_W7_WEBRTC", "pass"), _finding("TERM_FORK_ALL", "fail")))
    verdict = WireVerdict.read(path, 1)
    with pytest.raises(AssertionError) as raised:
        verdict.assert_kept()
    text = str(raised.value)
    assert "breaks 1 rule(s)" in text and "t.verdicts.json" in text
    assert "TERM_FORK_ALL (TR 23.701 5.2.2.5.4) in flow-1 [frame 7, i-cscf -> remote]: what was seen" in text
    assert "TERM_W7_WEBRTC" not in text


def test_pass_inconclusive_and_deviation_do_not_fail(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        _report(
            _finding("A", "pass"),
            _finding("B", "inconclusive", frame=None),
            _finding("TERM_UNREGISTERED_REJECTED", "deviation", "PROFILE_TERM_REJECT_CODE"),
        ),
    )
    verdict = WireVerdict.read(path, 4)
    verdict.assert_kept()
    assert verdict.failures == []
    assert [choice for choice, _ in verdict.deviations] == ["PROFILE_TERM_REJECT_CODE"]


def test_a_rule_deviation_becomes_a_profile_deviation_once_per_choice() -> None:
    recorded: list[tuple[str, str]] = []
    checks = ProfileChecks({}, record=lambda name, value: recorded.append((name, value)))
    checks.deviate("PROFILE_TERM_REJECT_CODE", "TERM_UNREGISTERED_REJECTED ...: rejected with 403")
    checks.deviate("PROFILE_TERM_REJECT_CODE", "again")
    assert [d.choice for d in checks.deviations] == ["PROFILE_TERM_REJECT_CODE"]
    assert checks.reason().startswith("profile deviation: PROFILE_TERM_REJECT_CODE: ")
    assert recorded == [("profile.deviation", str(checks.deviations[0]))]


def test_a_missing_report_is_a_harness_defect_that_says_so(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"verify wrote no readable report .*\(exit 2\)"):
        WireVerdict.read(tmp_path / "none.json", 2, "usage")
