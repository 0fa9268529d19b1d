"""The project's own texts a report is built from: requirements, PICS, test purposes and the docs.

Requirements, PICS and the test-purpose tags are read with the suite's own loaders
(:mod:`conformance.traceability`), from the ``features/`` of the checkout being reported on. The
"profile assumptions" are the first sentence of each section of ``docs/solution-profile.md``; the
"open points" are the numbered items of ``docs/open-points.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from conformance import traceability
from conformance.layered import load_layered
from conformance.pixit import PixitError, load_pixit
from conformance.traceability import PicsItem, Requirement

__all__ = [
    "OpenPoint",
    "load_pics",
    "load_pics_header",
    "load_requirements",
    "open_points",
    "pixit_sut",
    "profile_assumptions",
    "purposes_in_features",
]

MAX_ASSUMPTION = 280


def load_requirements(root: Path) -> list[Requirement]:
    """``features/requirements.toml`` of the checkout at ``root``."""
    return traceability.load_requirements(root / "features" / "requirements.toml")


def load_pics(root: Path, pics: Path) -> list[PicsItem]:
    """The PICS items of ``pics`` (validated like the suite does)."""
    return traceability.load_pics(pics)


def purposes_in_features(root: Path) -> dict[str, list[str]]:
    """Each ``TP_...`` tag -> the scenarios (``file: name [examples]``) of ``features/`` that carry it."""
    return traceability.scenario_test_purposes(root / "features")


def load_pics_header(pics: Path) -> dict[str, str]:
    """The ``[pics]`` table of a PICS file (``sut``, ``text``), as strings (laid over its ``base``'s,
    :mod:`conformance.layered`)."""
    table = load_layered(pics).get("pics", {})
    return {str(k): str(v) for k, v in table.items()} if isinstance(table, dict) else {}


def pixit_sut(pixit: Path) -> str:
    """The SUT description of a PIXIT file (``[sut] description``, docs/pixit.md), read with the
    suite's own PIXIT loader; a PIXIT that does not load is named with the loader's reason."""
    try:
        return load_pixit(pixit).description
    except (PixitError, OSError) as exc:
        return f"see PIXIT {pixit.name} (it does not load: {exc})"


def _sections(text: str) -> list[tuple[str, list[str]]]:
    sections: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("## "):
            sections.append((line[3:].strip(), []))
        elif sections:
            sections[-1][1].append(line)
    return sections


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    match = re.search(r"(?<!\be\.g)(?<!\bi\.e)[.](?=\s+[A-Z`(])", text)
    if match:
        text = text[: match.end()]
    if len(text) > MAX_ASSUMPTION:
        text = text[: MAX_ASSUMPTION - 1].rsplit(" ", 1)[0] + " \N{HORIZONTAL ELLIPSIS}"
    return text


def profile_assumptions(path: Path) -> list[tuple[str, str]]:
    """``(heading, first sentence)`` for each ``##`` section of the solution profile.

    A section that opens with a table gives the first column of its rows instead.
    """
    result: list[tuple[str, str]] = []
    for heading, lines in _sections(path.read_text(encoding="utf-8")):
        body = [line for line in lines if line.strip()]
        if not body:
            continue
        if body[0].lstrip().startswith("|"):
            rows = [line for line in body if line.lstrip().startswith("|")][2:]
            cells = [row.strip().strip("|").split("|")[0].strip() for row in rows]
            result.append((heading, "table of " + ", ".join(cell for cell in cells if cell)))
            continue
        first = [body[0].strip().removeprefix("- ")]
        for line in body[1:]:
            stripped = line.strip()
            if stripped.startswith(("- ", "|", "#")) or not line.startswith(" ") and body[0].startswith("- "):
                break
            first.append(stripped)
        result.append((heading, _first_sentence(" ".join(first))))
    return result


@dataclass(frozen=True)
class OpenPoint:
    """One numbered open point of the text, under its heading."""

    heading: str
    number: str
    text: str


def open_points(path: Path) -> list[OpenPoint]:
    """The numbered items of ``docs/open-points.md``, continuation lines joined."""
    points: list[OpenPoint] = []
    for heading, lines in _sections(path.read_text(encoding="utf-8")):
        current: list[str] = []
        number = ""
        for line in [*lines, ""]:
            match = re.match(r"(\d+)\.\s+(.*)", line)
            if match or not line.strip():
                if current:
                    points.append(OpenPoint(heading, number, " ".join(current)))
                    current = []
                if match:
                    number, current = match.group(1), [match.group(2).strip()]
            elif current:
                current.append(line.strip())
    return points
