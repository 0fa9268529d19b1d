"""Proof that the suite is real (issue 6): the same verdicts against the reference in separate processes.

Every feature runs in-process (the default run) and against
``examples/pixit/reference-processes.toml`` (two copies of that SUT at once, each with half of the
scenarios: ``run_sharded``), where every node is external: the reference stack is
started as a separate operating-system process for each scenario by the PIXIT's ``[sut] start``
command, and the harness knows only the PIXIT (addresses, CA, the WWSF signing key, users, the
shared clock file). The verdicts must be the same, scenario for scenario, and all PASS, with one
declared exception: a scenario that makes a node fail (tag ``fault_injection``) needs a
standby eP-CSCF the reference profile does not configure, so with this PIXIT it must be INCONCLUSIVE
with that reason (never passed, never failed); it runs and passes with
``examples/pixit/reference-failover.toml``, whose fault-injection command kills ep-cscf1's process
(and so does the restart scenario, TP_WIMPU_BLK_007, with that PIXIT's restart command).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from runs import ROOT, private_pixit, run_sharded, run_steps, undeclared

from conformance.pixit import load_pixit

PIXIT = ROOT / "examples" / "pixit" / "reference-processes.toml"
FAILOVER = ROOT / "examples" / "pixit" / "reference-failover.toml"
WORKERS = ROOT / "examples" / "pixit" / "reference-iwf-workers.toml"
WORKERS_SELECTION = "security or termination"
"""The purposes run against the IWF workers' PIXIT in CI: those of the checks the IWF makes (origin,
subprotocol, token) and of the requests the P-CSCF sends a WIC through the worker holding its flow.
Every feature was run by hand too (``docs/failover.md``, "The IWF on several cores")."""

pytestmark = pytest.mark.slow


def test_the_process_pixit_describes_every_node_as_external() -> None:
    pixit = load_pixit(PIXIT)
    assert pixit.modes() == {"external"} and pixit.start and pixit.clock_file is not None


def test_out_of_process_verdicts_are_the_in_process_ones(
    tmp_path: Path, in_process_verdicts: dict[str, str]
) -> None:
    inside = in_process_verdicts
    outside = run_sharded(tmp_path, "out-of-process", PIXIT)
    print(f"\nin-process: {len(inside)} scenarios; out-of-process: {len(outside)} scenarios")
    assert inside.keys() == outside.keys(), f"different scenarios: {sorted(inside.keys() ^ outside.keys())}"
    differ = {name: (inside[name], outside[name]) for name in inside if inside[name] != outside[name]}
    declared = {name: (mine, theirs) for name, (mine, theirs) in differ.items() if undeclared(theirs)}
    print(f"inconclusive out-of-process by declaration: {sorted(declared)}")
    other = {n: v for n, v in differ.items() if n not in declared}
    assert not other, f"verdicts differ (in-process, out-of-process): {other}"
    unexpected = sorted(n for n in declared if not any(why in n for why in DECLARED_HERE))
    assert not unexpected, f"INCONCLUSIVE out-of-process, and not for a reason of DECLARED_HERE: {unexpected}"


def test_a_decomposed_ep_cscf_with_two_iwf_workers_gives_the_in_process_verdicts(
    tmp_path: Path, in_process_verdicts: dict[str, str]
) -> None:
    """ep-cscf1 decomposed, its IWF in two processes on one WSS port (``iwf_workers = 2``, TR 23.701
    5.2.2.2 "The IWFs can scale separately then the P-CSCFs"), its P-CSCF a node of its own: the
    verdicts of the in-process run, PASS for PASS, INCONCLUSIVE only for :data:`DECLARED_HERE`."""
    outside = run_sharded(tmp_path, "iwf-workers", WORKERS, "-m", WORKERS_SELECTION)
    assert len(outside) >= 70, f"the selection {WORKERS_SELECTION!r} shrank to {len(outside)} scenarios"
    differ = {
        name: (in_process_verdicts[name], v) for name, v in outside.items() if v != in_process_verdicts[name]
    }
    declared = {name for name, (_, theirs) in differ.items() if undeclared(theirs)}
    assert all(any(why in n for why in DECLARED_HERE) for n in declared), sorted(declared)
    other = {n: v for n, v in differ.items() if n not in declared}
    assert not other, f"verdicts differ (in-process, IWF workers): {other}"
    assert sum(v == "passed" for v in outside.values()) >= 60, outside
    # Both workers carried WICs: the flow tokens in the scenarios' decoded messages name each.
    wire = [
        path.read_text(encoding="utf-8") for path in tmp_path.glob("captures-iwf-workers-*/**/*.wire.json")
    ]
    first = sum(bool(re.search(r"ep-cscf1\.\d", text)) for text in wire)
    second = sum("ep-cscf1-w2." in text for text in wire)
    print(f"\nscenarios with a WIC on ep-cscf1's worker 1: {first}, on worker 2: {second} (of {len(wire)})")
    assert first >= 5 and second >= 5, (first, second, len(wire))


DECLARED_HERE = (
    # a standby eP-CSCF the reference profile does not configure (TP_WIMPU_LIFE_003 runs with the
    # failover PIXIT, next test; TP_WIMPU_LIFE_009 for block2)
    "the_block_of_a_failed_epcscf_is_reallocated",
    "the_option_b_block_of_a_failed_epcscf_is_reallocated",
    "the_option_2_block_of_a_failed_epcscf_is_registered",  # TP_WIMPU_LIFE_014, block2 too
    "registering_at_the_epcscf_its_block_was_reallocated_from",  # TP_WIMPU_LIFE_010
    "after_a_takeover_a_session_to_a_user",  # TP_WIMPU_LIFE_013
    # block_registration_options.feature: the blocks provisioned for the other block registration options
    "an_option_b_block_provisioned_for_option_1",
    "an_option_a_block_provisioned_for_option_2",
    # no [registrar] stall: this registrar runs in the eP-CSCFs' process (TP_WIMPU_REG_013, ORIG_015,
    # TERM_014)
    "while_the_wimpu_registrar_does_not_answer",
    # an S-CSCF outside the suite's process cannot hold a session (TP_WIMPU_TERM_013, and TERM_014)
    "that_deregisters_after_the_icscfs_check",
    # no [[ep_cscf]] restart (TP_WIMPU_BLK_007 runs with the failover PIXIT, next test)
    "an_epcscf_restarted_while_its_block_is_registered",
    # an S-CSCF/HSS outside the suite's process cannot be provisioned with another password
    # (TP_WIMPU_BLK_008; the mixed run's emulated S-CSCF can)
    "a_wic_of_a_block_whose_registration_the_scscf_refused",
    # an S-CSCF outside the suite's process cannot be made to stop answering a block's REGISTERs
    # (TP_WIMPU_BLK_009, options 1 and 2; the mixed run's emulated S-CSCF can)
    "whose_registration_ran_out_unrefreshed",
)
"""Why a scenario may be INCONCLUSIVE against ``reference-processes.toml`` (a part of its name): what
this PIXIT does not offer. Such a scenario must be INCONCLUSIVE for that reason, never passed or
failed; any other difference from the in-process verdict fails the test."""


@pytest.mark.parametrize(
    "test_purpose",
    [
        "TP_WIMPU_LIFE_003",  # the PIXIT's fail command kills ep-cscf1 for good
        "TP_WIMPU_BLK_007",  # its restart command kills ep-cscf1, and its supervisor starts it again
        "TP_WIMPU_LIFE_010",  # fail, then its start_again command has the supervisor start it again
        "TP_WIMPU_LIFE_013",  # the same, and a call to the WIC the failed ep-cscf1 served
    ],
)
def test_a_fault_injection_scenario_passes_out_of_process(
    tmp_path: Path, in_process_verdicts: dict[str, str], test_purpose: str
) -> None:
    """A scenario that crashes ep-cscf1's own process (SIGKILL) with a fault-injection command of
    ``reference-failover.toml``, where the in-process run can only stop its tasks: the same PASS."""
    with private_pixit(FAILOVER) as pixit:
        outside = run_steps(tmp_path, "failover", "--sut", str(pixit), "-m", test_purpose)
    assert len(outside) == 1, f"one scenario is {test_purpose}, not {sorted(outside)}"
    ((name, verdict),) = outside.items()
    assert (verdict, in_process_verdicts[name]) == ("passed", "passed"), name


def test_reference_beside_external_nodes_is_refused_in_one_line_before_any_scenario(tmp_path: Path) -> None:
    text = (ROOT / "conformance" / "reference-pixit.toml").read_text(encoding="utf-8")
    mixed = text.replace(
        'name = "ep-cscf1"\nmode = "reference"',
        'name = "ep-cscf1"\nmode = "external"\n'
        'url = "wss://127.0.0.1:7443"\nsip = "tcp://127.0.0.1:5080"\nidentity = "sip:ep1"',
    )
    assert mixed != text
    (tmp_path / "ca.pem").write_text("unused")
    path = tmp_path / "mixed.toml"
    path.write_text(mixed.replace("[stack]", '[trust]\nca = ["ca.pem"]\n\n[stack]'), encoding="utf-8")
    error = usage_error("-n0", "--sut", str(path))
    assert "'reference' and others are not" in error and "wimpu-ref up --nodes" in error, error


def test_an_external_sut_with_parallel_workers_is_refused_in_one_line() -> None:
    error = usage_error("-n", "2", "--sut", str(PIXIT))
    assert "run one at a time" in error and "use -n0, not -n 2" in error, error


def usage_error(*arguments: str) -> str:
    """The one ERROR line of a ``pytest steps`` run refused before any scenario (exit status 4)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "steps", "-p", "no:cacheprovider", "--no-reports", "-q", *arguments],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert result.returncode == 4 and len(errors) == 1, result.stdout[-2000:] + result.stderr[-2000:]
    return errors[0]
