"""Reading a run back: verdicts from JUnit XML and cucumber JSON, secrets redacted, docs summarised."""

from __future__ import annotations

import json
from pathlib import Path

from conformance.redact import REDACTED, redact, scrub_tree
from reports.results import Verdict, load_run
from reports.sources import open_points, profile_assumptions

ROOT = Path(__file__).resolve().parents[2]
JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzaXA6d3J0Yy1hbGljZSJ9.c2lnbmF0dXJlLXZhbHVl"


def case(name: str, inner: str = "", steps: tuple[str, ...] = ("Given a", "When b", "Then c")) -> str:
    props = [
        ("bdd.feature", "f/x.feature"),
        ("bdd.feature_name", "X"),
        ("bdd.scenario", name),
        ("bdd.tags", "TP_X_001 option_b"),
    ] + [("bdd.step", s) for s in steps]
    body = "".join(f'<property name="{k}" value="{v}"/>' for k, v in props)
    head = f'<testcase classname="steps.t" name="{name}" time="0.5">'
    return f"{head}<properties>{body}</properties>{inner}</testcase>"


def write_junit(folder: Path, *cases: str) -> None:
    xml = (
        f'<?xml version="1.0"?><testsuites><testsuite name="pytest">{"".join(cases)}</testsuite></testsuites>'
    )
    (folder / "junit.xml").write_text(xml)


def test_verdicts_from_junit(tmp_path: Path) -> None:
    write_junit(
        tmp_path,
        case("passes"),
        case("fails", f'<failure message="AssertionError: got Bearer {JWT}">trace {JWT}</failure>'),
        case("errs", '<error message="failed on setup with OSError">trace</error>'),
        case("gated", '<skipped type="pytest.skip" message="not applicable: PICS_OPT_B is no"/>'),
        case("skipped", '<skipped type="pytest.skip" message="no browser"/>'),
        case("xfails", '<skipped type="pytest.xfail" message="known bug"/>'),
        '<testcase classname="tests.unit" name="test_other"><failure message="boom"/></testcase>',
    )
    results, run = load_run(tmp_path)
    verdicts = {r.test: r.verdict for r in results}
    assert verdicts == {
        "passes": Verdict.PASS,
        "fails": Verdict.FAIL,
        "errs": Verdict.ERROR,
        "gated": Verdict.NOT_APPLICABLE,
        "skipped": Verdict.INCONCLUSIVE,
        "xfails": Verdict.INCONCLUSIVE,
    }
    failed = next(r for r in results if r.test == "fails")
    assert "eyJ" not in failed.reason + failed.details and REDACTED in failed.reason
    assert failed.test_purposes == ("TP_X_001",)
    assert [s.status for s in next(r for r in results if r.test == "passes").steps] == ["passed"] * 3
    assert [s.status for s in next(r for r in results if r.test == "gated").steps] == ["not run"] * 3
    assert run.other_tests[Verdict.FAIL] == 1 and run.other_failures == [("tests.unit::test_other", "boom")]
    assert not run.partial  # no run.json and no marker: nothing says the run was cut short


def test_step_statuses_come_from_cucumber(tmp_path: Path) -> None:
    write_junit(tmp_path, case("fails", '<failure message="x">y</failure>'))
    steps = [
        {"keyword": k, "name": n, "result": {"status": "failed" if k != "Given" else "passed"}}
        for k, n in (("Given", "a"), ("When", "b"), ("Then", "c"))
    ]
    feature = {
        "uri": "f/x.feature",
        "name": "X",
        "elements": [{"id": "fails", "name": "fails", "steps": steps}],
    }
    (tmp_path / "cucumber.json").write_text(json.dumps([feature]))
    results, _ = load_run(tmp_path)
    # pytest-bdd marks every step after the failing one as failed too: they did not run
    assert [s.status for s in results[0].steps] == ["passed", "failed", "not run"]


def test_cucumber_alone_when_there_is_no_junit(tmp_path: Path) -> None:
    steps = [{"keyword": "Given", "name": "a", "result": {"status": "passed"}}]
    feature = {
        "uri": "f/x.feature",
        "name": "X",
        "elements": [{"id": "t", "name": "S", "tags": [{"name": "TP_X_001"}], "steps": steps}],
    }
    (tmp_path / "cucumber.json").write_text(json.dumps([feature]))
    results, run = load_run(tmp_path)
    assert [(r.name, r.verdict, r.tags) for r in results] == [("S", Verdict.PASS, ("TP_X_001",))]
    assert not run.partial


def test_partial_runs(tmp_path: Path) -> None:
    write_junit(tmp_path, case("passes"))
    run_file = {
        "started": "s",
        "finished": "f",
        "exitstatus": 2,
        "stopped": "was interrupted",
        "collected": 9,
        "completed": 1,
        "args": ["pytest", f"--token={JWT}"],
    }
    (tmp_path / "run.json").write_text(json.dumps(run_file))
    _, run = load_run(tmp_path)
    assert run.partial and len(run.partial_reasons) == 2 and "eyJ" not in " ".join(run.args)
    (tmp_path / ".run-in-progress").write_text("{}")
    _, run = load_run(tmp_path)
    assert run.partial and "did not finish" in run.partial_reasons[0]


def test_redact() -> None:
    samples = {
        f"Authorization: Bearer {JWT}": "Authorization: Bearer <redacted>",
        'Bearer access_token="abcdefgh12345678"': 'Bearer access_token="<redacted>"',
        '{"user": "alice", "password": "alice-password"}': '{"user": "alice", "password": "<redacted>"}',
        "password = 'alice-password'": "password = '<redacted>'",
        "login?user=alice&password=alice-password&x=1": "login?user=alice&password=<redacted>&x=1",
        '{\\"password\\": \\"s3cret\\"}': '{\\"password\\": \\"<redacted>\\"}',
        "the password of alice is checked": "the password of alice is checked",
        "the token of alice": "the token of alice",
    }
    for text, expected in samples.items():
        assert redact(text) == expected, text


def test_scrub_tree(tmp_path: Path) -> None:
    (tmp_path / "a-attachment.txt").write_text(f"sent {JWT}")
    (tmp_path / "b.png").write_bytes(b"\x89PNG\xff\xfe")
    assert scrub_tree(tmp_path) == 1
    assert "eyJ" not in (tmp_path / "a-attachment.txt").read_text()


def test_profile_assumptions_and_open_points() -> None:
    assumptions = dict(profile_assumptions(ROOT / "docs" / "solution-profile.md"))
    assert "W6 and W7 (the registrar's reference points)" in assumptions
    assert all(0 < len(line) <= 290 for line in assumptions.values())
    points = open_points(ROOT / "docs" / "open-points.md")
    assert [p.number for p in points] == [str(n) for n in range(1, len(points) + 1)]
    assert all(p.text and "\n" not in p.text for p in points)


def test_a_second_run_at_once_writes_elsewhere(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from reports.plugin import claim

    marker = tmp_path / ".run-in-progress"
    assert claim(tmp_path) == tmp_path  # no run going
    marker.write_text(json.dumps({"pid": os.getpid()}))
    assert claim(tmp_path) == tmp_path  # this run's own marker
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    marker.write_text(json.dumps({"pid": int(done.stdout)}))
    assert claim(tmp_path) == tmp_path  # left behind by a run that is gone
    marker.write_text(json.dumps({"pid": os.getppid()}))
    assert claim(tmp_path) == tmp_path / f"concurrent-{os.getpid()}"  # another run is writing here
