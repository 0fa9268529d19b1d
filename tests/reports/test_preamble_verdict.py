"""A failure in a scenario's preamble (its leading Given steps) is INCONCLUSIVE for its test purpose;
a failure the test system's own defect caused (a ``HarnessError``) is ERROR wherever it happened.

ETSI practice (a TTCN-3 preamble failure sets inconc): the behaviour under test was never exercised.
Found on the Kamailio eP-CSCF (docs/validation.md, harness assumption 3): SEC_009-011 set up a session
in a Given, Kamailio's 501 failed it, and the FAIL was charged to the authorisation of in-dialog
requests. Here the files of such a run are written by hand: JUnit XML with cucumber JSON, and cucumber
JSON alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.harness.errors import HARNESS_ERROR_PROPERTY, HarnessError, premise
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


def _element(name: str, failed: int, failure: str = FAILURE, harness: str | None = None) -> dict[str, object]:
    steps = []
    for (keyword, text), status in zip(STEPS, _statuses(failed), strict=True):
        result = {"status": status, **({"error_message": failure} if status == "failed" else {})}
        steps.append({"keyword": keyword, "name": text, "result": result})
    description = f"{HARNESS_ERROR_PROPERTY}: {harness}" if harness is not None else ""
    return {"id": name, "name": name, "tags": [], "steps": steps, "description": description}


def _write(tmp_path: Path, *, junit: bool, failure: str = FAILURE, harness: str | None = None) -> None:
    """The four cases; ``harness``: each failed with a HarnessError of that message, as the root
    conftest records it (a ``harness.error`` property, a line of the cucumber description)."""
    cases = {"in_given": 0, "in_and_after_given": 1, "in_then": 3, "in_and_after_then": 4}
    elements = [_element(name, failed, failure, harness) for name, failed in cases.items()]
    cucumber = [{"uri": "security/s.feature", "name": "S", "elements": elements}]
    (tmp_path / "cucumber.json").write_text(json.dumps(cucumber), encoding="utf-8")
    if not junit:
        return
    xml = []
    for name in cases:
        props = [("bdd.feature", "security/s.feature"), ("bdd.feature_name", "S"), ("bdd.scenario", name),
                 ("bdd.tags", "TP_WIMPU_SEC_009"), *(("bdd.step", f"{k} {t}") for k, t in STEPS),
                 *([(HARNESS_ERROR_PROPERTY, harness)] if harness is not None else [])]  # fmt: skip
        body = "".join(f'<property name="{n}" value="{v}"/>' for n, v in props)
        xml.append(
            f'<testcase classname="steps.t" name="{name}" time="1"><properties>{body}</properties>'
            f'<failure message="{failure}">E</failure></testcase>'
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




def test_a_harness_error_is_error_wherever_it_failed_and_its_reason_is_its_own(tmp_path: Path) -> None:
    """A premise the harness did not bring about (its WIC did not send what the step told it to) is
    the test system's defect: ERROR, in the preamble or after it, never a FAIL of the SUT. The
    reports know it by the property the conftest records, not by the words of the message."""
    with pytest.raises(HarnessError) as raised:
        premise(False, "WIC 1 was to send Contact: *")
    assert not isinstance(raised.value, AssertionError)  # a profile check lets it through
    message = str(raised.value)
    assert message == "harness error: WIC 1 was to send Contact: *"
    failure = raised.exconly(tryshort=True)  # what pytest writes as the JUnit failure message
    for junit in (True, False):
        folder = tmp_path / ("junit" if junit else "cucumber")
        folder.mkdir()
        _write(folder, junit=junit, failure=failure, harness=message)
        results, _ = load_run(folder)
        assert {r.verdict for r in results} == {Verdict.ERROR}, junit
        assert {r.reason for r in results} == {message}, junit


def test_a_message_in_the_words_of_a_harness_error_is_still_a_fail(tmp_path: Path) -> None:
    """Without the property, a failure is the SUT's whatever its words (``assert x, "harness error:
    ..."`` in a step, or a reason phrase the SUT sent quoted in an assertion)."""
    _write(tmp_path, junit=True, failure="AssertionError: harness error: x")
    results, _ = load_run(tmp_path)
    assert {r.test: r.verdict for r in results}["in_then"] is Verdict.FAIL
