"""Every run writes its reports, and the conformance report says what happened (issue 7).

The conformance features run in subprocesses with ``--reports-dir`` in a temporary directory: a clean
run, a run with a fault injected (``tests/mutants``) and verdicts of every kind
(``wimpu_report_probe``), an interrupted run and an xdist run. The checks read the files back as a
reader would: the outputs exist, every requirement is in the matrix, failures come first, no secret
leaks, and the page renders in headless Chromium.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from nested import why

from reports.results import Verdict, load_run

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.slow
ORDER = [
    "FAIL",
    "ERROR",
    "INCONCLUSIVE",
    "PROFILE DEVIATION",
    "UNCOVERED",
    "NOT RUN",
    "NOT APPLICABLE",
    "PASS",
    "NOT TESTABLE",
]


def run_suite(
    reports: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The conformance features in a subprocess, writing their reports into ``reports``."""
    environment = dict(os.environ, **(env or {}))
    environment.pop("WIMPU_REPORTS_DIR", None)  # as if started from a shell
    environment["WIMPU_CAPTURES_DIR"] = str(reports.parent / "captures")  # not into the checkout
    environment["PYTHONPATH"] = os.pathsep.join([str(HERE), str(ROOT / "tests" / "mutants")])
    command = [
        sys.executable,
        "-m",
        "pytest",
        "steps",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "wimpu_report_probe",
        "--reports-dir",
        str(reports),
        *args,
    ]
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600)


class Page(HTMLParser):
    """What the checks need from conformance.html: verdict table, failures list, scenario order, ids."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.verdict_rows: dict[str, list[str]] = {}
        self.failures: list[str] = []
        self.articles: list[str] = []
        self._row: str | None = None
        self._cells: list[str] = []
        self._in_failures = False
        self._in_cell = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if attr.get("id"):
            self.ids.append(str(attr["id"]))
        if tag == "tr" and attr.get("data-verdict"):
            self._row, self._cells = str(attr["data-verdict"]), []
        elif tag == "td" and self._row is not None:
            self._in_cell = True
            self._cells.append("")
        elif tag == "ol" and attr.get("class") == "failures":
            self._in_failures = True
        elif tag == "span" and self._in_failures and "v" in (attr.get("class") or "").split():
            self.failures.append(str(attr["class"]).split("v-", 1)[1].replace("-", " "))
        elif tag == "article":
            self.articles.append(str(attr.get("class", "")).removeprefix("a-").replace("-", " "))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_cell = False
        elif tag == "tr" and self._row is not None:
            self.verdict_rows[self._row] = self._cells
            self._row = None
        elif tag == "ol":
            self._in_failures = False

    def handle_data(self, data: str) -> None:
        if self._in_cell and self._cells:
            self._cells[-1] += data


def junit_cases(path: Path) -> list[ET.Element]:
    """The scenario test cases of a JUnit XML file (those with the plugin's bdd.* properties)."""
    cases = ET.parse(path).getroot().iter("testcase")
    return [c for c in cases if c.find("properties/property[@name='bdd.scenario']") is not None]


def requirement_ids() -> list[str]:
    with (ROOT / "features" / "requirements.toml").open("rb") as f:
        return [req["id"] for req in tomllib.load(f)["requirement"]]


def secrets() -> list[str]:
    """Values that must never reach a report: the users' passwords of the default stack, JWTs."""
    with (ROOT / "reference" / "default-stack.toml").open("rb") as f:
        text = f.read().decode()
    return sorted(set(re.findall(r'password\s*=\s*"([^"]+)"', text))) + ["eyJ"]


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reports = tmp_path_factory.mktemp("clean") / "reports"
    # DEBUG logging puts every SIP message into the captured log Allure attaches: the harshest case.
    # Two xdist workers: each writes its own results, which the reports must merge (87 scenarios)
    result = run_suite(reports, "-k", "register", "--log-level=DEBUG", "-n", "2")
    assert result.returncode == 0, why(reports / "junit.xml", result.stdout, result.stderr)
    assert f"wIMPU reports: {reports / 'conformance.html'}" in result.stdout
    return reports


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    folder = tmp_path_factory.mktemp("failing")
    reports, pics = folder / "reports", folder / "pics.toml"
    text = (ROOT / "features" / "pics.toml").read_text()
    head, item = text.split('id = "PICS_OPT_B"', 1)
    pics.write_text(head + 'id = "PICS_OPT_B"' + item.replace('answer = "yes"', 'answer = "no"', 1))
    env = {
        "WIMPU_FAULT": "token_not_checked",
        "PROBE_INCONCLUSIVE": "lifecycle",
        "PROBE_HARNESS_ERROR": "TP_WIMPU_REG_006",  # three rows the fault and the PICS leave passing
    }
    args = ("-p", "wimpu_faults", "--pics", str(pics), "-k", "token or deregistration")
    return reports, run_suite(reports, *args, env=env)


def test_a_run_writes_every_report(clean_run: Path) -> None:
    cases = junit_cases(clean_run / "junit.xml")
    assert cases, "no scenario in junit.xml"
    results = list((clean_run / "allure-results").glob("*-result.json"))
    assert len(results) == len(cases), "one Allure result per scenario"
    cucumber = json.loads((clean_run / "cucumber.json").read_text())
    assert sum(len(feature["elements"]) for feature in cucumber) == len(cases)
    for name in ("conformance.html", "conformance.md", "run.json"):
        assert (clean_run / name).stat().st_size > 0, name
    assert not (clean_run / ".run-in-progress").exists()
    run = json.loads((clean_run / "run.json").read_text())
    assert run["collected"] == run["completed"] == len(cases) and not run["stopped"]


def test_every_requirement_is_in_the_matrix(clean_run: Path) -> None:
    html = (clean_run / "conformance.html").read_text()
    markdown = (clean_run / "conformance.md").read_text()
    page = Page(html)
    assert "PARTIAL RUN" not in html
    for rid in requirement_ids():
        assert rid in page.ids, f"{rid} has no row in the HTML matrix"
        assert f"| {rid} |" in markdown, f"{rid} has no row in the Markdown matrix"
    counts = {verdict: int(cells[1]) for verdict, cells in page.verdict_rows.items() if cells[1].isdigit()}
    assert counts["PASS"] == len(junit_cases(clean_run / "junit.xml"))
    assert "UNCOVERED" in html  # some requirements have no scenario yet, and the report says so


def test_no_secret_reaches_a_report(clean_run: Path) -> None:
    files = [p for p in clean_run.rglob("*") if p.is_file()]
    assert any(p.parent.name == "allure-results" and p.name.endswith("-attachment.txt") for p in files), (
        "the DEBUG log should have been attached: the check would prove nothing"
    )
    for path in files:
        text = path.read_text(errors="replace")
        if path.suffix == ".pcapng":  # ciphertext may hold "eyJ" by chance: look for a whole JWT there
            text = re.sub(r"eyJ(?![A-Za-z0-9_-]{16})", "", text)
        for secret in secrets():
            assert secret not in text, f"{secret!r} in {path.relative_to(clean_run)}"


def test_failures_come_first(failing_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    reports, result = failing_run
    assert result.returncode == 1, result.stdout[-3000:]
    page = Page((reports / "conformance.html").read_text())
    assert page.failures and page.failures[0] == "FAIL"
    assert page.failures == sorted(page.failures, key=ORDER.index)
    assert page.articles[0] == "FAIL"
    assert page.articles == sorted(page.articles, key=ORDER.index), "scenario sections: most severe first"
    markdown = (reports / "conformance.md").read_text()
    failures = markdown.split("### Failures and inconclusive verdicts", 1)[1].split("## 2", 1)[0]
    assert failures.strip().startswith("1. **FAIL**")


def test_verdicts_are_counted_as_junit_says(
    failing_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    reports, _ = failing_run
    expected: Counter[str] = Counter()
    for case in junit_cases(reports / "junit.xml"):
        skipped = case.find("skipped")
        harness = case.find("properties/property[@name='harness.error']")
        if case.find("failure") is not None and harness is not None:
            expected["ERROR"] += 1  # a HarnessError (the probe's): the test system's, not the SUT's
        elif case.find("failure") is not None:
            expected["FAIL"] += 1
        elif case.find("error") is not None:
            expected["ERROR"] += 1
        elif skipped is not None:
            gated = skipped.get("message", "").startswith("not applicable: PICS")
            expected["NOT APPLICABLE" if gated else "INCONCLUSIVE"] += 1
        else:
            expected["PASS"] += 1
    assert expected["FAIL"] and expected["NOT APPLICABLE"] and expected["INCONCLUSIVE"], expected
    assert expected["ERROR"] == 3, expected  # the three rows of TP_WIMPU_REG_006, by the probe
    page = Page((reports / "conformance.html").read_text())
    for verdict in ("FAIL", "ERROR", "INCONCLUSIVE", "NOT APPLICABLE", "PASS"):
        assert int(page.verdict_rows[verdict][1]) == expected[verdict], verdict
    html = (reports / "conformance.html").read_text()
    assert "the test system lacks a browser for this scenario" in html  # the reason of an inconclusive
    assert "harness error: probe: WIC 1 was to send Contact: *" in html  # the reason of an ERROR
    assert "not applicable: PICS PICS_OPT_B = no" in html
    # the PICS table shows the run's PICS file and its answers
    assert str(reports.parent / "pics.toml") in html
    assert re.search(r"PICS_OPT_B</td>.*?<strong>no</strong>", html)
    # the PICS proforma (section 9) filled in with the run's answers, the reference's beside them
    proforma = (reports / "conformance.md").read_text().split("## 9 PICS proforma", 1)[1]
    assert f"the SUT's PICS used in this run, `{reports.parent / 'pics.toml'}`" in proforma
    assert re.search(r"\| `PICS_OPT_B` \|.*\| `o\.2` \| yes / no \| \*\*no\*\* \| yes \|", proforma)
    assert 'id="pics-proforma"' in html and 'id="proforma-applicability"' in html


def test_a_harness_error_is_error_from_junit_and_from_cucumber_alone(
    failing_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    """The probe's HarnessError, raised in a Then step after the preamble: ERROR with its own reason
    read from the JUnit XML, and the same from the cucumber JSON alone (a run without JUnit XML)."""
    reports, result = failing_run
    assert result.returncode == 1
    shutil.copy(reports / "cucumber.json", tmp_path / "cucumber.json")
    for folder in (reports, tmp_path):
        results, _ = load_run(folder)
        errors = {r.test: r.reason for r in results if r.verdict is Verdict.ERROR}
        assert len(errors) == 3 and all("accepts_the_token_in_each_carriage" in t for t in errors), folder
        assert set(errors.values()) == {"harness error: probe: WIC 1 was to send Contact: *"}, folder


def test_an_interrupted_run_says_partial_run(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = run_suite(reports, "-k", "register", env={"PROBE_EXIT_AFTER": "3"})
    assert result.returncode == 2, result.stdout[-2000:]
    html = (reports / "conformance.html").read_text()
    assert html.index("PARTIAL RUN") < html.index('id="verdicts"')
    assert (reports / "conformance.md").read_text().splitlines()[2].startswith("**PARTIAL RUN**")


def test_a_report_problem_never_fails_the_run(tmp_path: Path) -> None:
    result = run_suite(tmp_path / "reports", "-k", "another_origin", env={"PROBE_BREAK_REPORT": "1"})
    assert result.returncode == 0, why(tmp_path / "reports" / "junit.xml", result.stdout, result.stderr)
    warning = (
        "WARNING wIMPU reports: conformance report not written: RuntimeError: probe: the report generator"
    )
    assert [line for line in result.stdout.splitlines() if "wIMPU reports" in line] == [
        warning + " is broken"
    ]


def test_a_run_while_another_writes_the_same_directory_writes_beside_it(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / ".run-in-progress").write_text(json.dumps({"pid": os.getpid()}))  # this process is alive
    result = run_suite(reports, "-k", "another_origin")
    assert result.returncode == 0, why(reports / "junit.xml", result.stdout, result.stderr)
    [own] = list(reports.glob("concurrent-*"))
    assert f"wIMPU reports: {own / 'conformance.html'}" in result.stdout
    for name in ("junit.xml", "cucumber.json", "run.json", "conformance.html", "conformance.md"):
        assert (own / name).is_file() and not (reports / name).exists(), name
    assert list((own / "allure-results").glob("*-result.json"))
    assert (reports / ".run-in-progress").exists(), "the other run's marker is left alone"


def test_a_killed_run_is_partial_when_the_report_is_regenerated(clean_run: Path, tmp_path: Path) -> None:
    from reports.conformance import main

    for name in ("junit.xml", "cucumber.json"):
        (tmp_path / name).write_bytes((clean_run / name).read_bytes())
    (tmp_path / ".run-in-progress").write_text('{"started": "2026-01-01T00:00:00+00:00"}')
    assert main(["--root", str(ROOT), "--reports-dir", str(tmp_path)]) == 0
    assert "PARTIAL RUN" in (tmp_path / "conformance.html").read_text()


def test_a_ladder_of_the_capture_is_drawn_in_its_scenario(clean_run: Path, tmp_path: Path) -> None:
    from reports.conformance import main

    case = junit_cases(clean_run / "junit.xml")[0]
    feature = case.find("properties/property[@name='bdd.feature']")
    assert feature is not None
    folder = tmp_path / "captures" / str(feature.get("value")).removesuffix(".feature")
    folder.mkdir(parents=True)
    events = [
        {"time": 0.0, "src": "WIC", "dst": "eP-CSCF", "label": "REGISTER", "transport": "WSS"},
        {"time": 0.01, "src": "eP-CSCF", "dst": "WIC", "label": "200 OK", "transport": "WSS"},
    ]
    (folder / f"{case.get('name')}.ladder.json").write_text(json.dumps(events))
    reports = tmp_path / "reports"
    reports.mkdir()
    for name in ("junit.xml", "cucumber.json", "run.json"):
        (reports / name).write_bytes((clean_run / name).read_bytes())
    assert (
        main(["--root", str(ROOT), "--reports-dir", str(reports), "--captures", str(tmp_path / "captures")])
        == 0
    )
    html = (reports / "conformance.html").read_text()
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="ladder"') == 1
    assert "no capture" in html  # every other scenario
    link = re.search(
        r"!\[Ladder diagram of .+\]\((ladders/[^)]+\.svg)\)$", (reports / "conformance.md").read_text(), re.M
    )
    assert link and (reports / link.group(1)).is_file()


def test_an_xdist_run_keeps_the_cucumber_json_and_the_step_statuses(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = run_suite(reports, "-n", "2", "-k", "token")
    assert result.returncode == 0, why(reports / "junit.xml", result.stdout, result.stderr)
    cases = junit_cases(reports / "junit.xml")
    cucumber = json.loads((reports / "cucumber.json").read_text())
    assert sum(len(feature["elements"]) for feature in cucumber) == len(cases) > 0
    assert len(list((reports / "allure-results").glob("*-result.json"))) == len(cases)
    markdown = (reports / "conformance.md").read_text()
    assert "*(passed)*" in markdown and "*(unknown)*" not in markdown


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: run scripts/install.sh (Debian package chromium)")
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_a_real_run_attaches_its_wire_evidence(clean_run: Path) -> None:
    wires = list((clean_run.parent / "captures").rglob("*.wire.json"))
    if not wires:
        pytest.skip("the harness captured nothing here (no capture tool): nothing to attach")
    results = [json.loads(p.read_text()) for p in (clean_run / "allure-results").glob("*-result.json")]
    evidenced = [
        r
        for r in results
        if any(a["type"] == "application/vnd.tcpdump.pcap" for a in r.get("attachments", []))
    ]
    assert len(evidenced) == len(wires), "each scenario's capture is attached to it"
    for result in evidenced:
        kinds = {a["type"] for a in result.get("attachments", [])}
        assert "image/svg+xml" in kinds, result["name"]
        assert any(
            a["name"].startswith("Wire:") for step in result["steps"] for a in step.get("attachments", [])
        ), result["name"]
    html = (clean_run / "conformance.html").read_text()
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="ladder"') == len(wires)


PROBE = """<script>addEventListener('load', () => document.body.setAttribute('data-overflow',
  document.documentElement.scrollWidth - document.documentElement.clientWidth))</script></body>"""


def test_the_report_renders_in_a_browser(clean_run: Path, tmp_path: Path) -> None:
    page = (clean_run / "conformance.html").as_uri()
    result = chromium("--dump-dom", page, profile=tmp_path / "profile")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert '<table id="verdicts" class="verdicts">' in dom
    assert 'id="matrix-table"' in dom and 'id="REQ-REG-01"' in dom
    # clause -> function -> rule -> scenario -> verdict: the token check of 5.2.2.5.2 step 4
    assert 'id="chain-table"' in dom and "reference.nodes.iwf.token_check:validate" in dom
    assert "<code>TOKEN_CONFINED</code>" in dom
    # the test purposes without Gherkin: selection expression and expected behaviour
    assert 'id="purposes-table"' in dom and "ensure that, when " in dom
    # each numbered step of the text, its test purposes per behaviour group or why none (issue 15)
    assert 'id="steps-table"' in dom and "5.2.2.5.4 step 5:" in dom and "<strong>missing</strong>" in dom
    # nothing (a long path, a wide ladder) makes the page wider than the window: ladders scroll in their box
    probe = tmp_path / "probe.html"
    probe.write_text((clean_run / "conformance.html").read_text().replace("</body>", PROBE))
    result = chromium("--window-size=1200,1600", "--dump-dom", probe.as_uri(), profile=tmp_path / "profile")
    assert 'data-overflow="0"' in result.stdout
    shot = tmp_path / "report.png"
    chromium(f"--screenshot={shot}", "--window-size=1200,1600", page, profile=tmp_path / "profile")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
