"""Screens of a real client: the evidence a test that drives a real user interface leaves.

The browser WIC (issue 17, TR 23.701 5.2.2.5.2 step 1: the WIC downloaded from the WWSF) is
driven in Chromium, and its screenshots are what a reviewer looks at first. They go where
the wire evidence goes, under the captures directory (``$WIMPU_CAPTURES_DIR``, default
``<rootdir>/captures``)::

    interop/<test>/NN-<stage>.png      one screenshot per stage, in order
    interop/<test>/screens.json        {"test", "title", "status", "time",
                                        "stages": [{"stage", "file"}]}

The conformance report shows every set written since the run started (section 10), and the
test's Allure result carries them as attachments: allure-pytest-bdd reports Gherkin scenarios
only, so :func:`write_allure_result` writes the result of such a plain test with
allure-python-commons' own file logger and model.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Screen",
    "ScreenSet",
    "load_screen_sets",
    "screens_folder",
    "write_allure_result",
    "write_screens",
]

INDEX = "screens.json"
FOLDER = "interop"


@dataclass(frozen=True)
class Screen:
    stage: str
    path: Path


@dataclass(frozen=True)
class ScreenSet:
    """The screenshots of one test of a real client, and how the test ended."""

    test: str
    title: str
    status: str
    "passed, failed or broken (Allure's words)."
    time: float
    screens: tuple[Screen, ...]


def screens_folder(captures: Path, test: str) -> Path:
    """Where the screenshots of ``test`` go (created)."""
    folder = captures / FOLDER / re.sub(r"[^A-Za-z0-9._-]+", "_", test).strip("_")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_screens(folder: Path, test: str, title: str, status: str, screens: list[Screen]) -> Path:
    """Write the index of ``screens`` (files already in ``folder``); returns its path."""
    index = folder / INDEX
    data = {
        "test": test,
        "title": title,
        "status": status,
        "time": time.time(),
        "stages": [{"stage": s.stage, "file": s.path.name} for s in screens],
    }
    index.write_text(json.dumps(data, indent=1) + "\n")
    return index


def _load(index: Path) -> ScreenSet:
    data: Any = json.loads(index.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("stages"), list):
        raise ValueError(f"{index}: not a screens index (no stages)")
    screens = []
    for stage in data["stages"]:
        path = index.parent / str(stage["file"])
        if path.parent != index.parent or not path.is_file():
            raise ValueError(f"{index}: stage {stage.get('stage')!r} names a missing file {stage['file']!r}")
        screens.append(Screen(str(stage["stage"]), path))
    return ScreenSet(
        str(data["test"]), str(data["title"]), str(data["status"]), float(data["time"]), tuple(screens)
    )


def load_screen_sets(captures: Path, since: float | None = None) -> tuple[list[ScreenSet], list[str]]:
    """Every screen set under ``captures`` written at or after ``since``; and one warning per
    index that could not be read (the report says so rather than failing)."""
    sets: list[ScreenSet] = []
    warnings: list[str] = []
    for index in sorted((captures / FOLDER).glob(f"*/{INDEX}")):
        try:
            found = _load(index)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            warnings.append(f"screens {index} not shown: {exc}")
            continue
        if since is None or found.time >= since:
            sets.append(found)
    return sets, warnings


def write_allure_result(
    alluredir: Path, screen_set: ScreenSet, *, full_name: str, start: float, stop: float, message: str = ""
) -> None:
    """Write the Allure result of a plain (non-Gherkin) test with its screenshots attached
    (``<uuid>-result.json`` and one ``<uuid>-attachment.png`` per screenshot)."""
    from allure_commons.logger import AllureFileLogger
    from allure_commons.model2 import Attachment, Label, Status, StatusDetails, TestResult

    alluredir.mkdir(parents=True, exist_ok=True)
    logger = AllureFileLogger(str(alluredir), clean=False)  # type: ignore[no-untyped-call]
    attachments = []
    for screen in screen_set.screens:
        source = f"{uuid.uuid4()}-attachment.png"
        logger.report_attached_file(str(screen.path), source)  # type: ignore[no-untyped-call]
        attachments.append(Attachment(name=screen.stage, source=source, type="image/png"))
    status = {"passed": Status.PASSED, "failed": Status.FAILED}.get(screen_set.status, Status.BROKEN)
    result = TestResult(
        uuid=str(uuid.uuid4()),
        name=screen_set.title,
        fullName=full_name,
        historyId=full_name,
        status=status,
        statusDetails=StatusDetails(message=message) if message else None,
        start=int(start * 1000),
        stop=int(stop * 1000),
        attachments=attachments,
        labels=[Label(name="suite", value="interop: real clients"), Label(name="framework", value="pytest")],
    )
    logger.report_result(result)  # type: ignore[no-untyped-call]
