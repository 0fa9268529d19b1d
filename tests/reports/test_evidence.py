"""Each scenario's wire evidence reaches the reports (issue 7).

A tiny pytest-bdd project (``evidence_project/``) runs in a subprocess: its ``world`` fixture leaves, in its
teardown, the three files the step harness writes (``<feature>/<test>.pcapng``, ``.ladder.json``,
``.wire.json``), with a JWT and a password left in clear on purpose. The checks read the Allure results and
the conformance report back: the capture and the ladder are attached to the scenario, each step carries
exactly the messages captured while it ran, no secret is in any file, a scenario without files (or with a
previous run's) gets nothing, and the same holds under xdist.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nested import why

from captures import decode_file
from reports.evidence import (
    StepWindow,
    WireEntry,
    by_step,
    load_wire,
    mask_capture,
    messages_text,
    scenario_files,
)

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PROJECT = HERE / "evidence_project"
FEATURE = "demo/wire_evidence"
TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNlY3JldA"
SECRETS = [TOKEN, TOKEN.split(".")[1], TOKEN.split(".")[2], "alice-password"]
KEYLOG = b"CLIENT_RANDOM " + b"ab" * 32
CAPTURED = {
    "A WIC registers with a token": "test_a_wic_registers_with_a_token",
    "A WIC sends a message [alice]": "test_a_wic_sends_a_message_alice",
    "A WIC sends a message [bob]": "test_a_wic_sends_a_message_bob",
}
NOT_CAPTURED = "A scenario the harness could not capture"
BROKEN = "A scenario whose capture file is broken"
SVG = "{http://www.w3.org/2000/svg}"
pytestmark = pytest.mark.slow


@dataclass
class Run:
    project: Path
    captures: Path
    reports: Path
    result: subprocess.CompletedProcess[str]

    @property
    def allure(self) -> Path:
        return self.reports / "allure-results"

    def results(self) -> dict[str, dict[str, Any]]:
        """The Allure results, by scenario name with its Examples values: ``A WIC sends a message [bob]``."""
        found: dict[str, dict[str, Any]] = {}
        for path in self.allure.glob("*-result.json"):
            data = json.loads(path.read_text())
            values = [str(p["value"]) for p in data.get("parameters", [])]
            found[data["name"] + (f" [{','.join(values)}]" if values else "")] = data
        return found

    def attachment(self, attachment: dict[str, Any]) -> bytes:
        return (self.allure / attachment["source"]).read_bytes()


def make_project(folder: Path) -> Path:
    """The tiny project, with what the conformance report reads from a checkout."""
    project = folder / "project"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("__pycache__", "captures", "reports"))
    for name in ("conformance/traceability.py", "features/requirements.toml", "features/pics.toml"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, project / name)
    (project / "docs").mkdir()
    for name in ("solution-profile.md", "open-points.md"):
        shutil.copy(ROOT / "docs" / name, project / "docs" / name)
    return project


def run_project(project: Path, *args: str, captures: Path | None = None) -> Run:
    environment = dict(os.environ)
    environment.pop("WIMPU_REPORTS_DIR", None)  # as if started from a shell
    environment.pop("WIMPU_CAPTURES_DIR", None)
    if captures is not None:
        environment["WIMPU_CAPTURES_DIR"] = str(captures)
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests" / "captures")])
    reports = project / "reports"
    command = [sys.executable, "-m", "pytest", "-q", "--reports-dir", str(reports), *args]
    result = subprocess.run(
        command, cwd=project, env=environment, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, why(reports / "junit.xml", result.stdout, result.stderr)
    return Run(project, captures or project / "captures", reports, result)


def leave_stale_files(captures: Path) -> None:
    """A previous run's files for the scenario this run does not capture: they must not be shown."""
    folder = captures / FEATURE
    folder.mkdir(parents=True, exist_ok=True)
    stem = "test_a_scenario_the_harness_could_not_capture"
    ladder = {"lanes": ["A", "B"], "events": [{"time": 0, "src": "A", "dst": "B", "label": "STALE"}]}
    (folder / f"{stem}.ladder.json").write_text(json.dumps(ladder))
    (folder / f"{stem}.wire.json").write_text(json.dumps({"messages": []}))
    an_hour_ago = time.time() - 3600
    for path in folder.glob(f"{stem}.*"):
        os.utime(path, (an_hour_ago, an_hour_ago))


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    project = make_project(tmp_path_factory.mktemp("serial"))
    leave_stale_files(project / "captures")
    return run_project(project)


@pytest.fixture(scope="module")
def xdist_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    folder = tmp_path_factory.mktemp("xdist")
    return run_project(make_project(folder), "-n", "2", captures=folder / "elsewhere")


def step_messages(run: Run, step: dict[str, Any]) -> list[int]:
    """The message indices a step's wire attachment lists (its summary lines ``  #<index>  ...``)."""
    wire = [a for a in step.get("attachments", []) if a["name"].startswith("Wire:")]
    assert len(wire) <= 1, step["name"]
    if not wire:
        return []
    assert wire[0]["type"] == "text/plain"
    text = run.attachment(wire[0]).decode()
    summary = text.split("\n\n", 2)[1]
    return [int(m) for m in re.findall(r"^  #(\d+)  ", summary, re.M)]


@pytest.mark.parametrize("which", ["serial_run", "xdist_run"])
def test_a_scenario_gets_its_capture_and_ladder(which: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue(which)
    results = run.results()
    assert set(results) == {*CAPTURED, NOT_CAPTURED, BROKEN}
    for label, stem in CAPTURED.items():
        attachments = {a["name"]: a for a in results[label]["attachments"]}
        ladder = attachments["Ladder diagram"]
        assert ladder["type"] == "image/svg+xml" and ladder["source"].endswith("-attachment.svg")
        svg = ET.fromstring(run.attachment(ladder))
        arrows = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "event"]
        wire = json.loads((run.captures / FEATURE / f"{stem}.wire.json").read_text())
        assert len(arrows) == len(wire["messages"]), label
        capture = attachments[f"Capture {stem}.pcapng"]
        assert capture["type"] == "application/vnd.tcpdump.pcap" and capture["source"].endswith(".pcapng")
        original = (run.captures / FEATURE / f"{stem}.pcapng").read_bytes()
        attached = run.attachment(capture)
        assert KEYLOG in original and KEYLOG not in attached, "the Decryption Secrets Block is left out"
        assert len(attached) < len(original) and attached.startswith(b"\x0a\x0d\x0d\x0a")


@pytest.mark.parametrize("which", ["serial_run", "xdist_run"])
def test_each_step_carries_exactly_the_messages_of_its_time_window(
    which: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(which)
    results = run.results()
    for label, stem in CAPTURED.items():
        wire = json.loads((run.captures / FEATURE / f"{stem}.wire.json").read_text())
        steps = results[label]["steps"]
        assert [s["name"] for s in steps][0] == "Given the fake stack is running"
        for step in steps:
            expected = [m["index"] for m in wire["messages"] if m["x_step"] == step["name"]]
            assert step_messages(run, step) == expected, (label, step["name"])
        # the message of the teardown belongs to no step: it is attached to the scenario
        outside = [a for a in results[label]["attachments"] if a["name"].startswith("Wire outside the steps")]
        teardown = [m for m in wire["messages"] if m["x_step"] == "teardown"]
        assert len(outside) == 1 and len(teardown) == 1
        text = run.attachment(outside[0]).decode()
        assert f"  #{teardown[0]['index']}  " in text and "X-Step: teardown" in text
    registration = {
        s["name"]: step_messages(run, s) for s in results["A WIC registers with a token"]["steps"]
    }
    assert [len(v) for v in registration.values()] == [0, 4, 3, 2]


def test_a_step_attachment_lists_the_start_lines_first_then_each_message(serial_run: Run) -> None:
    steps = serial_run.results()["A WIC registers with a token"]["steps"]
    [wire] = [a for a in steps[1]["attachments"] if a["name"].startswith("Wire:")]
    text = serial_run.attachment(wire).decode()
    heading, summary, details = text.split("\n\n", 2)
    assert heading == "When alice logs in and registers: 4 message(s) on the wire"
    lines = summary.splitlines()
    assert lines[0].endswith("WIC@40001 -> wwsf  HTTP  POST /login HTTP/1.1")
    assert lines[2].endswith("TCP  REGISTER sip:ims.example.net SIP/2.0") and "frame 8" in lines[2]
    assert "Authorization: Bearer <redacted>" in details
    assert '"password": "<redacted>"' in details


@pytest.mark.parametrize("which", ["serial_run", "xdist_run"])
def test_no_secret_in_any_attachment(which: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue(which)
    wire = (run.captures / FEATURE / "test_a_wic_registers_with_a_token.wire.json").read_text()
    assert TOKEN in wire and "alice-password" in wire, "the fake must leave secrets, or this proves nothing"
    files = [p for p in run.reports.rglob("*") if p.is_file()]
    assert any(p.suffix == ".pcapng" for p in files)
    for path in files:
        data = path.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in data, f"{secret!r} in {path.relative_to(run.reports)}"


def test_the_attached_capture_still_decodes_with_its_secrets_masked(serial_run: Run, tmp_path: Path) -> None:
    result = serial_run.results()["A WIC registers with a token"]
    [capture] = [a for a in result["attachments"] if a["name"].startswith("Capture ")]
    masked = tmp_path / "masked.pcapng"
    masked.write_bytes(serial_run.attachment(capture))
    original = decode_file(serial_run.captures / FEATURE / "test_a_wic_registers_with_a_token.pcapng")
    decoded = decode_file(masked)
    assert not decoded.problems
    assert [m.start_line() for m in decoded.messages] == [m.start_line() for m in original.messages]
    assert [len(m.raw) for m in decoded.messages] == [len(m.raw) for m in original.messages]
    register = next(m for m in decoded.messages if b"Authorization" in m.raw)
    assert re.search(rb"Authorization: Bearer <redacted-+>\r\n", register.raw)


def test_a_scenario_without_files_or_with_stale_ones_gets_nothing(serial_run: Run) -> None:
    result = serial_run.results()[NOT_CAPTURED]
    assert not result.get("attachments")
    assert not any(step.get("attachments") for step in result["steps"])
    html = (serial_run.reports / "conformance.html").read_text()
    assert "STALE" not in html
    assert "1 ladder file(s) older than the run not shown" in html


@pytest.mark.parametrize("which", ["serial_run", "xdist_run"])
def test_the_conformance_report_embeds_each_ladder(which: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue(which)
    html = (run.reports / "conformance.html").read_text()
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="ladder"') == len(CAPTURED) + 1  # BROKEN
    for label in CAPTURED:
        assert f'aria-label="{label}"' in html, label  # the ladder of each scenario, Examples row included
    assert html.count("Ladder diagram: no capture.") == 1
    markdown = (run.reports / "conformance.md").read_text()
    links = re.findall(r"!\[Ladder diagram of .+\]\((ladders/[^)]+\.svg)\)$", markdown, re.M)
    assert len(links) == len(CAPTURED) + 1 and all((run.reports / link).is_file() for link in links)
    for secret in SECRETS:
        assert secret not in html and secret not in markdown


def test_a_broken_capture_costs_only_the_capture(serial_run: Run) -> None:
    result = serial_run.results()[BROKEN]
    names = [a["name"] for a in result["attachments"]]
    assert "Ladder diagram" in names and not any(name.startswith("Capture ") for name in names)
    [problem] = [a for a in result["attachments"] if a["name"] == "Wire evidence: problem"]
    text = serial_run.attachment(problem).decode()
    assert "capture (test_a_scenario_whose_capture_file_is_broken.pcapng): ValueError: pcapng: " in text
    assert [len(step_messages(serial_run, step)) for step in result["steps"]] == [0, 1]
    warning = "WARNING wIMPU reports: wire evidence not attached to 1 scenario(s): "
    assert [line for line in serial_run.result.stdout.splitlines() if "wire evidence" in line] == [
        warning
        + f"wire_evidence_steps.py::test_a_scenario_whose_capture_file_is_broken: {text.splitlines()[1]}"
    ]


# --- the pieces, without a run -------------------------------------------------------------------------


def entry(index: int, moment: float) -> WireEntry:
    return WireEntry(
        index, index + 1, moment, "A", "B", "TCP", f"MESSAGE {index}", f"MESSAGE {index}\r\n\r\n"
    )


def test_messages_fall_in_the_window_of_their_step_or_outside() -> None:
    windows = [
        StepWindow("Given a", 10.0, 11.0),
        StepWindow("When b", 11.0, 12.0),
        StepWindow("Then c", 13.0),
    ]
    entries = [entry(0, 9.5), entry(1, 10.0), entry(2, 11.0), entry(3, 12.5), entry(4, 13.5), entry(5, 99.0)]
    per_step, outside = by_step(entries, windows)
    assert [[e.index for e in step] for step in per_step] == [[1, 2], [], [4, 5]]
    assert [e.index for e in outside] == [0, 3]
    text = messages_text(per_step[0], "Given a: 2 message(s)", t0=9.5)
    assert text.splitlines()[2].startswith("  #1  ") and "(+0.500000 s)" in text


@pytest.mark.parametrize("which", ["serial_run", "xdist_run"])
def test_a_scenario_gets_its_suts_log_redacted(which: str, request: pytest.FixtureRequest) -> None:
    """Issue 16: the SUT's own log (``<test>.sut.log``, written when the suite stops a SUT it started)
    goes to the scenario's evidence, with its secrets redacted."""
    run: Run = request.getfixturevalue(which)
    results = run.results()
    for name in CAPTURED:
        logs = [a for a in results[name]["attachments"] if a["name"].startswith("SUT log ")]
        assert len(logs) == 1 and logs[0]["type"] == "text/plain", (name, results[name]["attachments"])
        text = run.attachment(logs[0]).decode()
        assert text.startswith("SUT: REGISTER with Bearer ") and not any(s in text for s in SECRETS), text


def test_files_are_found_by_the_slug_of_the_test_name(tmp_path: Path) -> None:
    folder = tmp_path / "registration" / "wic_registration"
    folder.mkdir(parents=True)
    (folder / "test_x_alice-A.wire.json").write_text(json.dumps({"pcapng": "other.pcapng", "messages": []}))
    (folder / "other.pcapng").write_bytes(b"")
    files = scenario_files(tmp_path, "registration/wic_registration.feature", "test_x[alice-A]")
    assert files.stem == "test_x_alice-A" and files.ladder is None
    assert files.pcapng == folder / "other.pcapng"
    assert scenario_files(tmp_path, "features/registration/wic_registration.feature", "test_x[alice-A]")
    assert not scenario_files(tmp_path, "registration/wic_registration.feature", "test_y")
    assert not scenario_files(tmp_path, "registration/wic_registration.feature", "test_x[alice-A]", since=2e9)


def test_load_wire_names_the_file_on_errors(tmp_path: Path) -> None:
    for bad in (
        "{",
        "[]",
        '{"messages": [{"time": 1}]}',
        '{"messages": [{"time": "x", "src": "A", "dst": "B"}]}',
    ):
        path = tmp_path / "bad.wire.json"
        path.write_text(bad)
        with pytest.raises(ValueError, match="bad.wire.json"):
            load_wire(path)


def test_masking_keeps_every_length_and_refuses_what_is_not_a_capture(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests" / "captures"))
    from capturekit import Flow, write

    payload = f"REGISTER sip:a SIP/2.0\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 0\r\n\r\n".encode()
    for pcapng in (True, False):
        flow = Flow()
        path = write(tmp_path / f"c{pcapng}", [*flow.handshake(), *flow.send(0, payload)], pcapng=pcapng)
        data = path.read_bytes()
        masked = mask_capture(data)
        assert len(masked) == len(data) and TOKEN.encode() in data and TOKEN.encode() not in masked
        assert (
            masked.replace(b"Bearer <redacted" + b"-" * (len(TOKEN) - 10) + b">", b"Bearer " + TOKEN.encode())
            == data
        )
        with pytest.raises(ValueError):
            mask_capture(data[:-3])
    with pytest.raises(ValueError):
        mask_capture(b"not a capture")
