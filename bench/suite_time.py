"""Wall time of the conformance run, with 2 xdist workers beside the serial run, in the same run.

Issue 18, item 5: "the conformance run and the full test suite, wall time". The conformance run is
``python3 -m pytest steps`` against the bundled reference (every scenario starts its own stack,
with its capture); the figure is scenarios per second, and the peer is the same scenarios run
serially (``-n0``) in the same invocation: the ratio says what the second core buys.

The whole suite (``python3 -m pytest``, what ``.ci/run`` runs) takes most of an hour here; it is
not re-run by this benchmark. ``--junit FILE`` reads the JUnit XML a whole run wrote
(``reports/junit.xml`` after ``python3 -m pytest``) and prints its time per part (``steps``,
``tests/<folder>``) and its slowest tests, which is where the suite's time goes.

Usage: ``python3 bench/suite_time.py [--workers 2,0|none] [-k EXPR] [--junit reports/junit.xml]``
(the default: every scenario, about 3 min with 2 workers and 6 min serially on 2 cores).
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def workers(text: str) -> list[int]:
    if text.strip().lower() == "none":
        return []  # no conformance run: only --junit's breakdown
    try:
        found = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers of workers, e.g. 2,0") from None
    if not found or any(n < 0 for n in found):
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers of workers >= 0, e.g. 2,0")
    return found


def conformance_run(n: int, select: str | None, folder: Path) -> tuple[int, int, float]:
    """``pytest steps`` with ``n`` workers (0: serial): (scenarios passed, not passed, seconds)."""
    junit = folder / f"steps-n{n}.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST_", "PYTEST_CURRENT_TEST"))}
    env["WIMPU_CAPTURES_DIR"] = str(folder / f"captures-n{n}")
    command = [sys.executable, "-m", "pytest", "steps", "-q", "-p", "no:cacheprovider", "--no-reports",
               f"--junitxml={junit}", "-n", str(n)]  # fmt: skip
    if select:
        command += ["-k", select]
    started = time.monotonic()
    try:
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"pytest steps -n {n} did not end within an hour") from None
    seconds = time.monotonic() - started
    if not junit.is_file():
        output = f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        raise SystemExit(f"pytest steps -n {n} wrote no JUnit XML:\n{output}")
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    if not cases:
        raise SystemExit(f"pytest steps -n {n}: no scenario ran (the -k expression selects none?)")
    bad = sum(1 for c in cases if c.find("failure") is not None or c.find("error") is not None)
    if bad:
        print(f"pytest steps -n {n}: {bad} scenarios did not pass (the figure counts them):\n"
              f"{result.stdout[-1500:]}")  # fmt: skip
    return len(cases) - bad, bad, seconds


def part_of(classname: str) -> str:
    """``tests.mutants.test_mutants`` -> ``tests/mutants``; ``steps.test_registration`` -> ``steps``."""
    parts = classname.split(".")
    if parts[0] == "tests" and len(parts) > 2:
        return f"tests/{parts[1]}"
    return parts[0] if parts[0] != "tests" else "tests"


def breakdown(junit: Path, slowest: int = 10) -> None:
    """Time per part and the slowest tests of a whole run's JUnit XML."""
    try:
        cases = list(ET.parse(junit).getroot().iter("testcase"))
    except (OSError, ET.ParseError) as exc:
        raise SystemExit(f"--junit {junit}: cannot read it as JUnit XML: {exc}") from None
    if not cases:
        raise SystemExit(f"--junit {junit}: no test case in it")
    per_part: dict[str, float] = collections.defaultdict(float)
    count: collections.Counter[str] = collections.Counter()
    for case in cases:
        part = part_of(case.get("classname", ""))
        per_part[part] += float(case.get("time", 0) or 0)
        count[part] += 1
    total = sum(per_part.values()) or 1.0  # a file whose times are all 0: shares of 0
    print(f"\n{junit}: {len(cases)} tests, {total:.0f} s of test time")
    print(f"{'part':<24} {'tests':>6} {'seconds':>8} {'share':>6}")
    for part, seconds in sorted(per_part.items(), key=lambda item: -item[1]):
        print(f"{part:<24} {count[part]:>6} {seconds:>8.0f} {seconds / total:>6.1%}")
    print(f"\nslowest {slowest}:")
    for case in sorted(cases, key=lambda c: -float(c.get("time", 0) or 0))[:slowest]:
        print(f"{float(case.get('time', 0) or 0):>8.0f} s  {case.get('classname')}::{case.get('name')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers", type=workers, default=[2, 0], help="xdist workers per run (0: -n0; none: no run)"
    )
    parser.add_argument("-k", dest="select", help="a pytest -k expression: only those scenarios")
    parser.add_argument("--junit", type=Path, help="a whole run's JUnit XML to break down")
    args = parser.parse_args()
    if args.junit is not None and not args.junit.is_file():
        parser.error(f"--junit {args.junit}: no such file (a whole run writes reports/junit.xml)")
    rows: list[tuple[int, int, int, float]] = []
    with tempfile.TemporaryDirectory(prefix="wimpu-suite-time-") as folder:
        for n in args.workers:
            rows.append((n, *conformance_run(n, args.select, Path(folder))))
    if rows:
        print_rows(rows)
    if args.junit is not None:
        breakdown(args.junit)


def print_rows(rows: list[tuple[int, int, int, float]]) -> None:
    print(f"{'conformance run':<18} {'scenarios':>9} {'not passed':>10} {'seconds':>8} {'per s':>6}")
    for n, passed, bad, seconds in rows:
        label = f"-n {n}" if n else "-n0 (serial)"
        print(f"{label:<18} {passed + bad:>9} {bad:>10} {seconds:>8.1f} {(passed + bad) / seconds:>6.2f}")
    serial = next((seconds for n, _, _, seconds in rows if n == 0), None)
    for n, _, _, seconds in rows:
        if n and serial:
            print(f"ratio -n {n} / serial: {serial / seconds:.2f} x the serial rate")


if __name__ == "__main__":
    main()
