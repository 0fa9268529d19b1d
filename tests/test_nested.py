"""A failing nested run shows its own assertion in the parent's failure (issue 14)."""

from __future__ import annotations

from pathlib import Path

from nested import failures, why

JUNIT = """<?xml version="1.0"?><testsuites><testsuite>
<testcase classname="steps.test_termination" name="test_ok" />
<testcase classname="steps.test_termination" name="test_not_registered[bob]">
<failure message="AssertionError: expected 480">world = ...
    def check():
&gt;       assert response.status == 480
E       AssertionError: expected 480, the I-CSCF answered 503
E       assert 503 == 480
tests/x.py:12: AssertionError</failure></testcase>
<testcase classname="steps.test_security" name="test_setup">
<error message="fixture failed">boom</error></testcase>
</testsuite></testsuites>"""


def test_each_failure_comes_with_its_assertion_lines(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)
    found = failures(junit)
    assert len(found) == 2
    assert found[0].startswith("FAILURE steps.test_termination::test_not_registered[bob]")
    assert "the I-CSCF answered 503" in found[0] and "def check" not in found[0]
    assert found[1].startswith("ERROR steps.test_security::test_setup") and "boom" in found[1]
    message = why(junit, "x" * 10_000 + "tail of the output")
    assert message.index("answered 503") < message.index("tail of the output") and len(message) < 4000


def test_a_missing_or_broken_junit_file_is_said(tmp_path: Path) -> None:
    assert failures(tmp_path / "none.xml") == []
    broken = tmp_path / "broken.xml"
    broken.write_text("<testsuite><testcase name='a' password=<x>")
    assert "not readable JUnit XML" in failures(broken)[0]
    assert "(no failed test in its JUnit XML)" in why(tmp_path / "none.xml", "out")
