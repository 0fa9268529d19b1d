"""What a test that runs pytest in a subprocess (a "nested run") says when that run fails.

The parent's assertion message is built from the nested run's JUnit XML: each failed or
errored test with its own first message lines, then the tail of the output. Before, the
parent showed the last 3,000 characters of the output, which with DEBUG logging held no
assertion at all (issue 14).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

__all__ = ["failures", "passed", "why"]


def failures(junit: Path, *, lines: int = 6, most: int = 10) -> list[str]:
    """``name: first lines of its failure or error`` for each failed or errored test of ``junit``."""
    if not junit.is_file():
        return []
    try:
        root = ET.parse(junit).getroot()
    except ET.ParseError as exc:
        return [f"{junit} is not readable JUnit XML: {exc}"]
    found: list[str] = []
    for case in root.iter("testcase"):
        for kind in ("failure", "error"):
            element = case.find(kind)
            if element is None:
                continue
            text = (element.text or element.get("message") or "").strip().splitlines()
            assertion = [ln for ln in text if ln.startswith("E ")][:lines] or text[-lines:]
            name = f"{case.get('classname')}::{case.get('name')}"
            found.append(f"{kind.upper()} {name}\n    " + "\n    ".join(ln.rstrip() for ln in assertion))
    return found[:most] + ([f"... and {len(found) - most} more"] if len(found) > most else [])


def why(junit: Path, stdout: str, stderr: str = "") -> str:
    """The message for a parent's assertion on a nested run: its failures, then its output's tail."""
    listed = failures(junit)
    head = "\n".join(listed) if listed else "(no failed test in its JUnit XML)"
    return f"nested run failures:\n{head}\n--- end of its output ---\n{stdout[-1500:]}\n{stderr[-1500:]}"


def passed(junit: Path) -> list[str]:
    """``classname::name`` of each test of ``junit`` that passed (a mutant run: the scenarios that
    did not notice the fault)."""
    if not junit.is_file():
        return []
    root = ET.parse(junit).getroot()
    return [
        f"{case.get('classname')}::{case.get('name')}"
        for case in root.iter("testcase")
        if not any(case.find(kind) is not None for kind in ("failure", "error", "skipped"))
    ]
