#!/usr/bin/env python3
"""Stress check of the conformance scenarios (issue 14, "Determinism first"); not run by CI.

Runs ``pytest steps`` N times in each mode (``n2``: ``-n 2``, ``n0``: ``-n0``), optionally while
CPU hog processes keep every core busy, prints one line per run, then which scenarios failed in
which mode with the first line of each failure message, and totals per mode. It only reports:
the exit status is 0 when every run passed and 1 otherwise; nothing is asserted about time.

    python3 scripts/stress_steps.py --runs 20 [--modes n2,n0] [--hog] [--keep DIR] [--timeout 900]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODE = re.compile(r"n(\d+)")
RUN_ROW = "(run)"  # the table row of a run that failed with no failing scenario in its JUnit XML
MESSAGE_CHARS = 300  # a first line longer than this is cut, with "..."
GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL of a run's process group


@dataclass(frozen=True)
class Case:
    """One JUnit testcase: ``classname::name``, passed/failure/error/skipped, its message's first line."""

    name: str
    outcome: str
    message: str = ""


@dataclass
class Run:
    """One ``pytest steps`` run and what it left."""

    mode: str
    index: int
    seconds: float
    returncode: int | None  # None: killed at the timeout or on interrupt
    cases: list[Case] = field(default_factory=list)
    problem: str = ""  # why the run failed when no scenario says so (timeout, no JUnit XML, exit status)
    left_behind: int = 0  # processes of the run still alive when pytest exited (then killed)

    def count(self, outcome: str) -> int:
        return sum(1 for case in self.cases if case.outcome == outcome)

    @property
    def failed_cases(self) -> list[Case]:
        return [case for case in self.cases if case.outcome in ("failure", "error")]

    @property
    def failed(self) -> bool:
        return bool(self.failed_cases or self.problem)


def first_line(text: str) -> str:
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    return line if len(line) <= MESSAGE_CHARS else line[: MESSAGE_CHARS - 3] + "..."


def read_junit(path: Path) -> list[Case]:
    """Every testcase of a JUnit XML file, in file order."""
    cases: list[Case] = []
    for element in ET.parse(path).getroot().iter("testcase"):
        name = f"{element.get('classname')}::{element.get('name')}"
        outcome, message = "passed", ""
        # a test that fails and then errors at teardown has both: the failure is the one to show
        for kind in ("skipped", "error", "failure"):
            found = element.find(kind)
            if found is not None:
                outcome = kind
                message = first_line(found.get("message") or found.text or "")
        cases.append(Case(name, outcome, message))
    return cases


def mode_arguments(mode: str) -> list[str]:
    """``n2`` -> ``-n 2``, ``n0`` -> ``-n0`` (xdist off)."""
    match = MODE.fullmatch(mode)
    if match is None:
        raise ValueError(f"unknown mode {mode!r}: expected n<workers>, e.g. n2 or n0")
    workers = int(match.group(1))
    return ["-n0"] if workers == 0 else ["-n", str(workers)]


def child_environment(captures: Path) -> dict[str, str]:
    """This environment without a parent pytest's xdist and current-test variables (as in
    ``tests/runs.py``), with the run's own captures folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST_", "PYTEST_CURRENT_TEST"))}
    env["WIMPU_CAPTURES_DIR"] = str(captures)
    return env


def pytest_command(junit: Path, mode: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "steps", "-p", "no:cacheprovider", "--no-reports", "-q",
            f"--junitxml={junit}", *mode_arguments(mode)]  # fmt: skip


def _exited(pid: int) -> bool:
    """Whether the child has exited, without reaping it: until it is reaped its pid, and so its
    process group id, cannot be reused, so signalling the group cannot reach a stranger."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _group_members(pgid: int) -> list[int]:
    """The live processes of process group ``pgid`` other than its leader (Linux ``/proc``)."""
    members: list[int] = []
    proc = Path("/proc")
    for entry in proc.iterdir() if proc.is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == pgid:
            continue
        try:
            state, _ppid, pgrp = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(pgrp) == pgid and state != "Z":
            members.append(int(entry.name))
    return members


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _stop_group(pgid: int) -> None:
    """SIGTERM to the group, SIGKILL to what is left after the grace period (the leader unreaped)."""
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline and not (_exited(pgid) and not _group_members(pgid)):
        time.sleep(0.2)
    _signal_group(pgid, signal.SIGKILL)


def run_child(
    command: Sequence[str], env: dict[str, str], log: Path, timeout: float
) -> tuple[int | None, int]:
    """Runs ``command`` in its own process group, output to ``log``. Returns its exit status (None
    when it was still running at ``timeout`` seconds) and how many processes of its group it left
    running when it exited. Whatever happens (timeout, Ctrl-C), no process of the group (xdist
    workers, dumpcap) is left running."""
    with log.open("wb") as out:
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    finished, left = False, 0
    try:
        deadline = time.monotonic() + timeout
        while not (finished := _exited(child.pid)) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        if finished:  # the workers may take a moment to follow pytest out
            settled = time.monotonic() + 2.0
            while (left := len(_group_members(child.pid))) and time.monotonic() < settled:
                time.sleep(0.1)
        if not finished or left:
            _stop_group(child.pid)
        returncode = child.wait()
    return (returncode if finished else None), left


def run_once(mode: str, index: int, work: Path, timeout: float) -> Run:
    """One ``pytest steps`` run in ``mode``; its files are ``work/<mode>-<index>.{xml,log}`` and
    ``work/captures-<mode>-<index>/``."""
    stem = f"{mode}-{index}"
    junit, log, captures = work / f"{stem}.xml", work / f"{stem}.log", work / f"captures-{stem}"
    captures.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    returncode, left = run_child(pytest_command(junit, mode), child_environment(captures), log, timeout)
    run = Run(mode, index, time.monotonic() - started, returncode, left_behind=left)
    if junit.exists():
        try:
            run.cases = read_junit(junit)
        except ET.ParseError as exc:
            run.problem = f"unreadable JUnit XML: {exc}"
    if returncode is None:
        run.problem = f"timed out after {timeout:g} s and was killed"
    elif not run.problem and not junit.exists():
        run.problem = f"exit status {returncode}, no JUnit XML: {last_line(log)}"
    elif not run.problem and returncode != 0 and not run.failed_cases:
        run.problem = f"exit status {returncode} with no failing scenario: {last_line(log)}"
    return run


def last_line(log: Path) -> str:
    lines = [s for s in log.read_text(encoding="utf-8", errors="replace").splitlines() if s.strip()]
    return first_line(lines[-1]) if lines else "(no output)"


def run_line(run: Run, runs: int) -> str:
    """The line printed after each run."""
    text = f"{run.mode} run {run.index}/{runs}: {run.count('passed')} passed, "
    text += f"{run.count('failure')} failed, {run.count('error')} errors"
    if run.count("skipped"):
        text += f", {run.count('skipped')} skipped"
    text += f" in {run.seconds:.1f} s"
    if run.left_behind:
        text += f", {run.left_behind} process(es) left behind (killed)"
    return f"{text} ({run.problem})" if run.problem else text


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def summary(runs: Sequence[Run], modes: Sequence[str]) -> str:
    """Per scenario that ever failed or errored: the runs it failed in per mode, and each failure's
    first message line; then runs, runs with any failure, mean and max duration per mode."""
    per_mode = {mode: [run for run in runs if run.mode == mode] for mode in modes}
    failures: dict[str, list[tuple[Run, Case]]] = {}
    for run in runs:
        for case in run.failed_cases:
            failures.setdefault(case.name, []).append((run, case))
        if run.problem:
            failures.setdefault(RUN_ROW, []).append((run, Case(RUN_ROW, "problem", run.problem)))
    lines: list[str] = []
    if failures:
        lines.append("Scenarios that failed (runs failed / runs, per mode):")
        rows = [["scenario", *modes]]
        for name in sorted(failures, key=lambda n: (n == RUN_ROW, n)):
            counts = [sum(1 for run, _ in failures[name] if run.mode == mode) for mode in modes]
            rows.append([name, *(f"{c}/{len(per_mode[m])}" for c, m in zip(counts, modes, strict=True))])
        table = _table(rows)
        lines.append(table[0])
        for name, row in zip(sorted(failures, key=lambda n: (n == RUN_ROW, n)), table[1:], strict=True):
            lines.append(row)
            for run, case in sorted(failures[name], key=lambda f: (modes.index(f[0].mode), f[0].index)):
                message = case.message or "(no message)"
                lines.append(f"    {run.mode} run {run.index} {case.outcome}: {message}")
    else:
        lines.append("No scenario failed.")
    lines.append("")
    rows = [["mode", "runs", "runs failed", "mean s", "max s"]]
    for mode, mode_runs in per_mode.items():
        seconds = [run.seconds for run in mode_runs]
        rows.append([mode, str(len(mode_runs)), str(sum(run.failed for run in mode_runs)),
                     f"{statistics.fmean(seconds):.1f}" if seconds else "-",
                     f"{max(seconds):.1f}" if seconds else "-"])  # fmt: skip
    lines.extend(_table(rows))
    return "\n".join(lines)


def exit_status(runs: Sequence[Run]) -> int:
    return 1 if any(run.failed for run in runs) else 0


def _burn(parent: int) -> None:
    """A CPU hog: spins until terminated or until its parent is gone (never outlives the script)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    spins = 0
    while os.getppid() == parent:
        for _ in range(200_000):
            spins += 1


@contextmanager
def cpu_hog(processes: int) -> Iterator[list[multiprocessing.process.BaseProcess]]:
    """``processes`` busy-loop processes while the block runs; always stopped and reaped after it."""
    context = multiprocessing.get_context("spawn")
    hogs: list[multiprocessing.process.BaseProcess] = []
    try:
        for _ in range(processes):
            started = context.Process(target=_burn, args=(os.getpid(),), daemon=True, name="cpu-hog")
            started.start()
            hogs.append(started)
        yield hogs
    finally:
        for hog in hogs:
            hog.terminate()
        for hog in hogs:
            hog.join(GRACE_SECONDS)
            if hog.is_alive():
                hog.kill()
                hog.join()


def keep_files(run: Run, work: Path, keep: Path | None) -> None:
    """With ``--keep``: every JUnit XML, and the log and captures of a failed run. Then the run's
    captures are removed from the temporary folder (they are large)."""
    stem = f"{run.mode}-{run.index}"
    captures = work / f"captures-{stem}"
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        if (work / f"{stem}.xml").exists():
            shutil.copy2(work / f"{stem}.xml", keep)
        if run.failed:
            shutil.copy2(work / f"{stem}.log", keep)
            shutil.copytree(captures, keep / captures.name, dirs_exist_ok=True)
    shutil.rmtree(captures, ignore_errors=True)


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, required=True, help="runs per mode")
    parser.add_argument("--modes", default="n2,n0", help="comma-separated: n<workers> (n2: -n 2, n0: -n0)")
    parser.add_argument("--hog", action="store_true", help="keep every core busy with CPU hogs meanwhile")
    parser.add_argument("--keep", type=Path, help="keep JUnit files, failed runs' logs and captures")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run; a run past it failed")
    args = parser.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    try:
        for mode in args.modes:
            mode_arguments(mode)
    except ValueError as exc:
        parser.error(str(exc))
    if args.runs < 1 or not args.modes:
        parser.error("--runs must be at least 1 and --modes name at least one mode")
    return args


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop every child


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    signal.signal(signal.SIGTERM, _terminate)
    runs: list[Run] = []
    hogs = (os.cpu_count() or 1) if args.hog else 0
    print(f"stress: pytest steps, {args.runs} run(s) per mode {', '.join(args.modes)}"
          + (f", {hogs} CPU hog process(es)" if hogs else ""), flush=True)  # fmt: skip
    interrupted = False
    with tempfile.TemporaryDirectory(prefix="stress-steps-") as tmp, cpu_hog(hogs):
        work = Path(tmp)
        try:
            # the modes interleaved, so that each sees the same drift of the machine's load
            for index in range(1, args.runs + 1):
                for mode in args.modes:
                    run = run_once(mode, index, work, args.timeout)
                    runs.append(run)
                    keep_files(run, work, args.keep)
                    print(run_line(run, args.runs), flush=True)
        except KeyboardInterrupt:
            interrupted = True
            print("interrupted: the runs so far", flush=True)
    print()
    print(summary(runs, args.modes))
    if args.keep is not None:
        print(f"\nkept in {args.keep}")
    return 130 if interrupted else exit_status(runs)


if __name__ == "__main__":
    sys.exit(main())
