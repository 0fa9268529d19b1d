"""Helpers of the tests that run every feature in a pytest subprocess and compare verdicts.

``run_steps`` runs ``pytest steps`` (serially unless told otherwise: an external SUT serves one
scenario at a time; no reports, captures in a temporary folder) and returns each scenario's
verdict read from its JUnit XML; ``in_process_run`` runs the default, in-process one once per
test session (with two xdist workers: every scenario starts its own stack on its own address),
for every comparison to share (``in_process_verdicts``: its verdicts; its scenario captures stay
in its folder for the offline verifier, issue 15). ``run_sharded`` runs every feature against an
external SUT as two such serial runs at once, each against its own copy of the SUT with half of
the scenarios (tests/shard.py): the verdicts of one serial run in about half its time.

The example PIXITs of the out-of-process runs put their nodes at fixed ports of 127.0.0.1: two
such runs at once (pytest-xdist workers, two checkouts on one machine) would take each other's
ports. :func:`private_pixit` moves a PIXIT to a loopback address this process claims for the
run (:func:`conformance.harness.scenario_capture.scenario_host`): the same ports, on an address of its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from nested import failures, in_shards, merge_shards, nested_env, shard_args, why

from conformance.harness.scenario_capture import release_host, scenario_host

ROOT = Path(__file__).resolve().parents[1]
NOT_APPLICABLE = "skipped: not applicable: "
INCONCLUSIVE = "skipped: inconclusive: "

NOT_DECLARED = (
    "declares no such [[block]] standby",
    "and the PIXIT's [[block]] registration is",
    "[registrar] stall and resume",
    "the suite cannot hold a session at it",
    "([[ep_cscf]] restart) the PIXIT does not give",
    "the suite cannot make it refuse a block's registration",
    "the suite cannot make it stop answering a block's registrations",
)
"""The reasons a scenario needs something of an external SUT's PIXIT that the example PIXITs do not
declare: a standby eP-CSCF (failover), blocks provisioned for other block registration options, the
registrar's fault-injection commands (its registrar runs in one process with the eP-CSCFs), an
S-CSCF in the suite's own process (to hold a terminating session for a moment), an eP-CSCF's restart
command, an S-CSCF/HSS of the suite's own (to provision a block's password otherwise, TP_WIMPU_BLK_008;
to stop answering a block's REGISTERs, TP_WIMPU_BLK_009)."""


def undeclared(verdict: str) -> bool:
    """The verdict is INCONCLUSIVE for one of the :data:`NOT_DECLARED` reasons."""
    return verdict.startswith(INCONCLUSIVE) and any(reason in verdict for reason in NOT_DECLARED)


def verdicts(junit: Path) -> dict[str, str]:
    """Test name -> passed, failure, error or ``skipped: <reason>``, from a JUnit XML file."""
    found: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        outcome = "passed"
        for kind in ("failure", "error", "skipped"):
            element = case.find(kind)
            if element is not None:
                outcome = kind if kind != "skipped" else f"skipped: {element.get('message', '')}"
        found[name] = outcome
    return found


LOOPBACK = "127.0.0.1"


@contextlib.contextmanager
def private_pixit(pixit: Path) -> Iterator[Path]:
    """``pixit`` with every 127.0.0.1 replaced by a loopback address claimed for the run, its
    ``[sut] start`` told to listen there (``wimpu-ref up --host``), and its state directories under
    ``var/<host>/`` (two runs of one example PIXIT at once, under xdist, each ``rm -rf`` their own,
    not the other's test PKI); written beside the original (its relative paths hold) under a name of
    this process, removed afterwards with its state."""
    text = pixit.read_text(encoding="utf-8")
    assert "\nbase = " not in f"\n{text}", f"{pixit} names a base, which this copy would leave on {LOOPBACK}"
    host = scenario_host()
    private = pixit.with_name(f".{pixit.stem}.{os.getpid()}.{host}.toml")
    state = ROOT / "var" / host
    try:
        script = '["./start-reference-failover.sh", "../../var/reference-failover"'
        moved = text.replace(LOOPBACK, host)
        moved = moved.replace("reference.cli up", f"reference.cli up --host {host}")
        moved = moved.replace(script, f'{script}, "--host", "{host}"')
        moved = moved.replace("../../var/", f"../../var/{host}/")  # the script's state argument too
        assert LOOPBACK in text and "--host" in moved, (
            f"{pixit}: no 127.0.0.1 address, or no start command to move to a private address"
        )
        private.write_text(moved, encoding="utf-8")
        yield private
    finally:
        private.unlink(missing_ok=True)
        shutil.rmtree(state, ignore_errors=True)
        release_host(host)


SHARDS = 2
"""Copies of an external SUT a comparison run starts at once (:func:`run_sharded`): one per core of
this machine, where such a run mostly waits on its SUT."""


def run_steps(tmp_path: Path, name: str, *extra: str, workers: int = 0) -> dict[str, str]:
    """Every scenario's verdict in a ``pytest steps`` run with ``extra`` arguments and ``workers``
    xdist workers (0: serially)."""
    junit = tmp_path / f"{name}.xml"
    env = nested_env(tmp_path / f"captures-{name}")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "steps", "-n", str(workers), "-p", "no:cacheprovider",
         "--no-reports", "-q", f"--junitxml={junit}", *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    output = f"{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
    assert junit.exists(), f"the {name} run wrote no JUnit XML:\n{output}"
    found = verdicts(junit)
    failed = {n: v for n, v in found.items() if v in ("failure", "error")}
    if failed:
        print(f"the {name} run:\n{why(junit, result.stdout, result.stderr)}")
    return found


def run_sharded(tmp_path: Path, name: str, pixit: Path, *extra: str, shards: int = SHARDS) -> dict[str, str]:
    """Every scenario's verdict in a run of every feature against the external SUT of ``pixit``
    (``extra``: more arguments), shared among ``shards`` serial runs at once, each against its own
    copy of the SUT on a loopback address of its own (:func:`private_pixit`) with one shard of the
    scenarios (tests/shard.py). The verdicts are those of one serial run: each scenario starts the
    SUT afresh (its ``[sut] start``), in whichever copy it runs."""
    with contextlib.ExitStack() as stack:
        privates = [stack.enter_context(private_pixit(pixit)) for _ in range(shards)]

        def shard(k: int) -> dict[str, str]:
            arguments = ["--sut", str(privates[k]), *extra, *shard_args(k, shards)]
            return run_steps(tmp_path, f"{name}-{k}", *arguments)

        return merge_shards(name, in_shards(shard, shards))


@dataclasses.dataclass(frozen=True)
class InProcessRun:
    """The default run of every feature: its verdicts, where it left its files, how long it took."""

    folder: Path
    verdicts: dict[str, str]
    seconds: float

    @property
    def captures(self) -> Path:
        """Its scenario captures: ``<feature dir>/<test>.pcapng`` with their ``.wire.json`` and
        ``.topology.json``."""
        return self.folder / "captures-in-process"


@pytest.fixture(scope="session")
def in_process_run(tmp_path_factory: pytest.TempPathFactory) -> InProcessRun:
    """The default run (the bundled reference, in-process): every scenario must pass. With two
    xdist workers, one per core of this machine: the parent pytest only waits meanwhile."""
    where = tmp_path_factory.mktemp("in-process")
    started = time.monotonic()
    found = run_steps(where, "in-process", workers=2)
    not_passed = {name: v for name, v in found.items() if v != "passed"}
    assert not not_passed, f"not every scenario passed in-process: {not_passed}\n" + "\n".join(
        failures(where / "in-process.xml")
    )
    return InProcessRun(where, found, time.monotonic() - started)


@pytest.fixture(scope="session")
def in_process_verdicts(in_process_run: InProcessRun) -> dict[str, str]:
    """The default run's verdicts: every scenario passed."""
    return in_process_run.verdicts
