"""Helpers of the tests that run pytest in a subprocess (a "nested run").

What such a test says when the nested run fails: the parent's assertion message is built from
the nested run's JUnit XML, each failed or errored test with its own first message lines, then
the tail of the output. Before, the parent showed the last 3,000 characters of the output, which
with DEBUG logging held no assertion at all (issue 14).

How nested runs are started: :func:`nested_env` (their environment), and :func:`in_shards`,
:func:`shard_args`, :func:`merge_shards` for the runs against an external SUT that share their
scenarios among several copies of the SUT at once (tests/shard.py).
"""

from __future__ import annotations

import concurrent.futures
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

__all__ = ["failures", "in_shards", "merge_shards", "nested_env", "passed", "shard_args", "why"]

TESTS = Path(__file__).resolve().parent
T = TypeVar("T")


def nested_env(captures: Path, *paths: Path) -> dict[str, str]:
    """The environment of a nested ``pytest steps`` run: not an xdist worker itself, whatever the
    parent runs in; no fault of the parent's; its scenario captures in ``captures``; ``tests/``
    (for ``-p shard``) and ``paths`` (for other plugins) on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST_", "PYTEST_CURRENT_TEST"))}
    for fault in ("WIMPU_FAULT", "WIMPU_BLIND_FAULT"):  # a parent's fault is never the nested run's
        env.pop(fault, None)
    env["WIMPU_CAPTURES_DIR"] = str(captures)
    path = [*map(str, paths), str(TESTS), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in path if p)
    return env


def shard_args(index: int, count: int) -> list[str]:
    """The arguments that give a nested run shard ``index`` of ``count`` (tests/shard.py)."""
    return ["-p", "shard", f"--shard={index}/{count}"]


def in_shards(run: Callable[[int], T], count: int) -> list[T]:
    """``run(k)`` for each shard k of ``count``, all at once. Every shard is waited for; when any
    raised, the first one's exception is raised as it was (a skip stays a skip), with the others'
    added to it as notes (none lost)."""
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(run, k) for k in range(count)]
    errors = [(k, error) for k, f in enumerate(futures) if (error := f.exception()) is not None]
    if errors:
        first = errors[0][1]
        for k, other in errors[1:]:
            first.add_note(f"shard {k} of {count} failed too: {type(other).__name__}: {other}")
        raise first
    return [f.result() for f in futures]


def merge_shards(name: str, shares: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """The verdicts of a run's shards as one run's: no scenario may be in two of them."""
    found: dict[str, str] = {}
    for share in shares:
        twice = found.keys() & share.keys()
        assert not twice, f"scenarios of the {name} run in two shards: {sorted(twice)}"
        found.update(share)
    return found


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
