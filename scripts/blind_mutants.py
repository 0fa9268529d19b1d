#!/usr/bin/env python3
"""Run the conformance scenarios against each blind fault (tests/mutants/blind_faults.py).

First a baseline run without any fault: if a scenario fails there, nothing is measured and
the script stops (exit status 2). Then, for each fault (those of one batch, ``--batch N``, 1 by
default, or those named on the command line), ``python3 -m pytest steps -p blind_faults -n0 ...``
with ``WIMPU_BLIND_FAULT`` set;
the scenarios that fail or error catch it. A fault no scenario fails but some end in PROFILE
DEVIATION (a skip whose reason starts with ``profile deviation:``, the JUnit form of that verdict)
is reported apart, as ``profile deviation``: the fault changed a choice of the solution profile that
the text leaves open, by the suite's reading (so it does not FAIL it); it is listed apart and counted
as not caught. Prints a table fault -> outcome -> by which scenarios and the catch rate, and writes it
as Markdown (``--out``; by default the batch's report: ``docs/mutants-blind.md`` for batch 1,
``docs/mutants-blind-N.md`` for batch N).

Each run has its own temporary ``WIMPU_CAPTURES_DIR``, its own process group and a timeout
(600 s by default); a run that times out, or ends without JUnit XML or with a non-zero
status but no failing scenario, is reported as ``error`` and not counted as caught.

It imports the suite's ``conformance`` package: run it after ``scripts/install.sh`` (the README's
install command), from the checkout it measures.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

from conformance.harness.errors import HARNESS_ERROR_PROPERTY
from conformance.harness.expect import FAULT_RUN_EVENT_WAIT
from conformance.harness.profile import DEVIATION_PROPERTY, PREFIX

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "tests" / "mutants"
ENV = "WIMPU_BLIND_FAULT"


@dataclasses.dataclass
class Run:
    fault: str | None
    failed: list[str]
    passed: int
    seconds: float
    error: str | None = None
    "Why the run says nothing (timeout, no JUnit XML, exit status without a failing scenario)."
    deviated: list[str] = dataclasses.field(default_factory=list)
    "The scenarios that ended in PROFILE DEVIATION, each with the choice it names."
    harness: list[str] = dataclasses.field(default_factory=list)
    """The scenarios that ended on a harness error (``classname::name: message``): never catches,
    listed in the report whatever else the run found."""

    @property
    def status(self) -> str:
        if self.failed:
            return "caught"
        if self.error:
            return "error"
        return "profile deviation" if self.deviated else "missed"


def report_path(batch: int) -> Path:
    """The report of a batch of blind faults: ``docs/mutants-blind.md`` for the first, else
    ``docs/mutants-blind-N.md``."""
    return ROOT / "docs" / ("mutants-blind.md" if batch == 1 else f"mutants-blind-{batch}.md")


def _catalogue() -> tuple[dict[str, tuple[str, str, str, int]], dict[int, str]]:
    """name -> (node, clause, description, batch), and batch -> who wrote it, read from the plugin in
    a child Python (the plugin lives beside the tests, not in an installed package)."""
    code = (
        "import json, blind_faults\n"
        "print(json.dumps({'faults': {n: [f.node, f.clause, f.description, f.batch]"
        " for n, f in blind_faults.FAULTS.items()}, 'batches': blind_faults.BATCHES}))"
    )
    path = os.pathsep.join([str(ROOT), str(MUTANTS), os.environ.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": path},
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    data = json.loads(out.stdout)
    faults = {
        name: (node, clause, text, int(batch)) for name, (node, clause, text, batch) in data["faults"].items()
    }
    return faults, {int(number): text for number, text in data["batches"].items()}


DEVIATION = PREFIX
"How a PROFILE DEVIATION verdict's skip reason begins (``reports.results``), then the choice's name."


def read_junit(path: Path) -> tuple[list[str], int, list[str]]:
    """The scenarios (``classname::name``) that failed or errored, how many passed, and those that
    ended in PROFILE DEVIATION (``classname::name (CHOICE)``). A scenario that failed on a harness
    error (:func:`harness_errors`) is none of these: it did not catch the fault."""
    failed: list[str] = []
    deviated: list[str] = []
    passed = 0
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        skipped = case.find("skipped")
        if case.find(f"properties/property[@name='{HARNESS_ERROR_PROPERTY}']") is not None:
            continue
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(name)
        elif skipped is None:
            passed += 1
        elif (reason := skipped.get("message", "")).startswith(DEVIATION):
            # every choice the scenario deviated from (one ``profile.deviation`` property each); the
            # skip reason names only the first, and is the fallback of a run without properties
            properties = case.iterfind(f"properties/property[@name='{DEVIATION_PROPERTY}']")
            found = [p.get("value", "") for p in properties]
            choices = dict.fromkeys(v.partition(":")[0].strip() for v in found) or {
                reason.removeprefix(DEVIATION).partition(":")[0].strip(): None
            }
            deviated.append(f"{name} ({', '.join(choices)})")
    return failed, passed, deviated


def harness_errors(path: Path) -> list[str]:
    """The scenarios (``classname::name: message``) that ended on a ``HarnessError``: the test
    system's defect (ERROR in the reports), never a catch of the fault."""
    found = []
    for case in ET.parse(path).getroot().iter("testcase"):
        prop = case.find(f"properties/property[@name='{HARNESS_ERROR_PROPERTY}']")
        if prop is not None:
            found.append(f"{case.get('classname', '')}::{case.get('name', '')}: {prop.get('value', '')}")
    return found


def short(name: str) -> str:
    """``steps.test_registration::test_foo_bar[x]`` -> ``foo_bar[x]``."""
    test = name.rpartition("::")[2]
    return test.removeprefix("test_")


def _environment(fault: str | None, captures: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PYTEST_XDIST_") and k != "PYTEST_CURRENT_TEST"
    }
    env.pop(ENV, None)
    if fault is not None:
        env[ENV] = fault
    env["WIMPU_CAPTURES_DIR"] = captures
    env["WIMPU_EVENT_WAIT"] = str(FAULT_RUN_EVENT_WAIT)  # the baseline too: the same waits for every run
    paths = [str(ROOT), str(MUTANTS), str(ROOT / "tests")]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def run_once(fault: str | None, timeout: float, workdir: Path, workers: int = 0) -> Run:
    """One pass over ``steps`` with ``fault`` (None: the baseline), ``workers`` xdist workers (0: -n0)."""
    label = fault or "baseline"
    junit = workdir / f"{label}.xml"
    captures = tempfile.mkdtemp(prefix=f"captures-{label}-", dir=workdir)
    command = [
        sys.executable, "-m", "pytest", "steps", "-p", "blind_faults", "-n", str(workers),
        "--no-reports", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
    ]  # fmt: skip
    log = (workdir / f"{label}.log").open("wb")
    start = time.monotonic()
    process = subprocess.Popen(
        command, cwd=ROOT, env=_environment(fault, captures), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    error = None
    try:
        status = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        status, error = -9, f"timeout after {timeout:g} s"
    finally:
        log.close()
        try:  # whatever the run left behind in its group (dumpcap, a stray child)
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    seconds = time.monotonic() - start
    if not junit.exists():
        return Run(fault, [], 0, seconds, error or f"no JUnit XML (exit status {status})")
    failed, passed, deviated = read_junit(junit)
    harness = harness_errors(junit)
    if error is None and harness and not failed:
        error = f"{len(harness)} harness error(s), not a catch: {harness[0][:120]}"
    if error is None and status != 0 and not failed:
        tail = (workdir / f"{label}.log").read_text(errors="replace").strip().splitlines()[-1:]
        error = f"exit status {status} without a failing scenario: {' '.join(tail)[:120]}"
    return Run(fault, failed, passed, seconds, error, deviated, harness)


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def table(runs: list[Run], catalogue: Mapping[str, tuple[object, ...]]) -> list[str]:
    lines = ["| fault | node | clause | outcome | by scenarios |", "|---|---|---|---|---|"]
    for run in runs:
        assert run.fault is not None
        node, clause = catalogue[run.fault][:2]
        if run.failed:
            by = ", ".join(short(n) for n in run.failed)
        elif run.error:
            by = run.error
        else:
            by = ", ".join(short(n) for n in run.deviated)
        if run.harness and not (run.error or "").startswith(f"{len(run.harness)} harness error(s)"):
            errors = "; ".join(short(h)[:120] for h in run.harness[:3])
            by += f"; and {len(run.harness)} harness error(s), not catches: {errors}"
        lines.append(f"| `{run.fault}` | {node} | {clause} | {run.status} | {by.replace('|', '/')} |")
    return lines


def rate(runs: list[Run]) -> str:
    """Caught among all the faults run. Those that only made scenarios end in PROFILE DEVIATION are
    counted as not caught and named apart: whether such a fault breaks the text or only a choice of
    the solution profile is read from the deviation, which is the suite's own classification, so it
    must not shrink the denominator (a rule that wrongly calls a "shall" a profile choice would)."""
    if not runs:
        return "no fault run"
    caught = sum(r.status == "caught" for r in runs)
    errors = sum(r.status == "error" for r in runs)
    profile = sum(r.status == "profile deviation" for r in runs)
    text = f"{caught}/{len(runs)} faults caught ({100 * caught / len(runs):.0f} %)"
    if profile:
        text += (
            f"; {profile} of the others ended in PROFILE DEVIATION only (a choice of the solution profile "
            "the text leaves open, by the suite's reading: listed apart, not counted as caught)"
        )
    return text + (f"; {errors} run(s) in error, not counted as caught" if errors else "")


def markdown(
    runs: list[Run],
    baseline: Run,
    catalogue: Mapping[str, tuple[object, ...]],
    argv: list[str],
    batch: str = "",
) -> str:
    """The report; ``batch``: which batch of faults, who wrote it and from what (none: a selection)."""
    names = [r.fault for r in runs]
    lines = [
        "# Blind mutants: faults written without reading the scenarios",
        "",
        "Generated by `scripts/blind_mutants.py` (`tests/mutants/blind_faults.py`); do not edit by hand.",
        "",
        *([f"- batch: {batch}"] if batch else []),
        f"- date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- commit: `{_commit()}`",
        f"- machine: {os.cpu_count()} cores",
        f"- command: `{' '.join(['python3 scripts/blind_mutants.py', *argv])}`",
        f"- baseline (no fault): {baseline.passed} scenarios passed in {baseline.seconds:.0f} s",
        f"- catch rate: {rate(runs)}",
        "",
        *table(runs, catalogue),
        "",
        "## The faults",
        "",
        "| fault | node | clause | the vendor bug |",
        "|---|---|---|---|",
        *(f"| `{n}` | {catalogue[n][0]} | {catalogue[n][1]} | {catalogue[n][2]} |" for n in names if n),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("faults", nargs="*", help="fault names (default: every fault of the batch)")
    parser.add_argument("--batch", type=int, default=1, help="the batch of faults to run (1)")
    parser.add_argument(
        "--out", help="Markdown report (default: the batch's: docs/mutants-blind.md, docs/mutants-blind-N.md)"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run (600)")
    parser.add_argument(
        "--workers", type=int, default=0, help="xdist workers per run (0, the default: -n0, one core)"
    )
    args = parser.parse_args(argv)
    catalogue, batches = _catalogue()
    if args.batch not in batches:
        parser.error(f"no batch {args.batch}; the batches: {', '.join(map(str, sorted(batches)))}")
    unknown = [f for f in args.faults if f not in catalogue]
    if unknown:
        parser.error(f"unknown fault(s) {unknown}; known: {', '.join(catalogue)}")
    if args.faults and not args.out:
        parser.error("a selection of faults needs --out: a batch's report holds every fault of the batch")
    faults = args.faults or [name for name, fault in catalogue.items() if fault[3] == args.batch]
    described = "" if args.faults else f"{args.batch} ({batches[args.batch]})"
    with tempfile.TemporaryDirectory(prefix="blind-mutants-") as tmp:
        workdir = Path(tmp)
        baseline = run_once(None, args.timeout, workdir, args.workers)
        print(f"baseline: {baseline.passed} passed, {len(baseline.failed)} failed, {baseline.seconds:.0f} s")
        if baseline.failed or baseline.error:
            print("the scenarios fail WITHOUT any fault; nothing measured:", file=sys.stderr)
            for name in baseline.failed:
                print(f"  {name}", file=sys.stderr)
            if baseline.error:
                print(f"  {baseline.error}", file=sys.stderr)
            return 2
        runs = []
        for fault in faults:
            run = run_once(fault, args.timeout, workdir, args.workers)
            known = set(baseline.deviated)  # deviations without any fault are not the fault's
            run.deviated = [d for d in run.deviated if d not in known]
            print(
                f"{fault}: {run.status}, {len(run.failed)} failed, {len(run.deviated)} profile deviation(s), "
                f"{run.passed} passed, {run.seconds:.0f} s"
            )
            runs.append(run)
    print()
    print("\n".join(table(runs, catalogue)))
    print()
    print(rate(runs))
    out = Path(args.out) if args.out else report_path(args.batch)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(runs, baseline, catalogue, argv, described))
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
