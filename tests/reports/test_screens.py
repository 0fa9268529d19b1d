"""Section 10 of the conformance report and the Allure result of a real client's test: its screenshots.

Cheap: a screen set written here (two small PNGs), no browser; ``tests/interop/test_browser_wic.py``
writes the real one.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

from reports import render_html, render_md
from reports.conformance import build
from reports.screens import Screen, load_screen_sets, screens_folder, write_allure_result, write_screens

ROOT = Path(__file__).resolve().parents[2]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _screens(captures: Path, test: str = "test_browser[x]", status: str = "passed") -> Path:
    folder = screens_folder(captures, test)
    shots = []
    for n, stage in enumerate(("registered", "in-call"), 1):
        path = folder / f"{n:02d}-{stage}.png"
        path.write_bytes(PNG)
        shots.append(Screen(stage, path))
    return write_screens(folder, test, "The browser WIC", status, shots)


def test_the_report_shows_the_screens_of_the_run(tmp_path: Path) -> None:
    reports, captures = tmp_path / "reports", tmp_path / "captures"
    reports.mkdir()
    index = _screens(captures)
    assert index.parent.name == "test_browser_x"
    report = build(ROOT, reports, captures=captures)
    assert [(s.test, s.status, [x.stage for x in s.screens]) for s in report.screens] == [
        ("test_browser[x]", "passed", ["registered", "in-call"])
    ]
    markdown = render_md.render(report).split("## 10 Real clients", 1)[1]
    assert "### The browser WIC: passed" in markdown and "1. registered: `" in markdown
    html = render_html.render(report)
    section = html.split('<section id="real-clients">', 1)[1]
    assert section.count('src="data:image/png;base64,') == 2 and "2. in-call</figcaption>" in section
    assert 'href="#real-clients"' in html


def test_screens_older_than_the_run_are_not_shown_and_a_broken_index_is_a_warning(tmp_path: Path) -> None:
    captures = tmp_path / "captures"
    _screens(captures)
    assert load_screen_sets(captures, since=time.time() + 60) == ([], [])
    broken = _screens(captures, "test_other")
    (broken.parent / "02-in-call.png").unlink()
    sets, warnings = load_screen_sets(captures)
    assert [s.test for s in sets] == ["test_browser[x]"]
    assert len(warnings) == 1 and "names a missing file '02-in-call.png'" in warnings[0]


def test_the_allure_result_carries_the_screenshots(tmp_path: Path) -> None:
    captures = tmp_path / "captures"
    index = _screens(captures, status="failed")
    [screen_set], _ = load_screen_sets(captures)
    write_allure_result(
        tmp_path / "allure", screen_set, full_name="tests/x.py::test_browser[x]", start=1.0, stop=2.0,
        message="expected 200",
    )  # fmt: skip
    [result] = (tmp_path / "allure").glob("*-result.json")
    data = json.loads(result.read_text())
    assert data["status"] == "failed" and data["statusDetails"]["message"] == "expected 200"
    assert [(a["name"], a["type"]) for a in data["attachments"]] == [
        ("registered", "image/png"),
        ("in-call", "image/png"),
    ]
    for attachment in data["attachments"]:
        assert (tmp_path / "allure" / attachment["source"]).read_bytes() == PNG
    assert index.is_file()
