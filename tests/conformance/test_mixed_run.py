"""The mixed run (issue 6): the reference eP-CSCF as the external SUT, the suite emulating the IMS core.

``examples/pixit/mixed-ep-cscf.toml`` describes the reference eP-CSCFs, with the WWSF and the wIMPU
Registrar they work with, as external nodes, restarted as a separate operating-system process for
each scenario by its ``[sut] start``; the S-CSCF/HSS and the I-CSCF are ``emulated``: the harness
plays them (``conformance/harness/ims_core.py``), the WICs and the remote party as always.

Every feature runs with it; the verdicts must be the in-process run's, scenario for scenario, except
where the mixed run's PICS (``examples/pixit/mixed-pics.toml``) rules a scenario out: its I-CSCF is
the suite's plain one (PICS_NODE_ICSCF = no), so the test purposes whose PICS selection expression
needs the enhanced I-CSCF (``features/selection.toml``) are NOT APPLICABLE, for that reason and no
other; those that also judge the eP-CSCF or the registrar run. The failover scenario needs a
standby and a fault-injection command this PIXIT does not declare: INCONCLUSIVE, for that reason.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from runs import NOT_APPLICABLE, ROOT, run_sharded, undeclared

from conformance.pixit import load_pixit
from conformance.traceability import load_pics, load_selection

PIXIT = ROOT / "examples" / "pixit" / "mixed-ep-cscf.toml"

pytestmark = pytest.mark.slow


def test_the_mixed_pixit_emulates_the_ims_core_around_external_nodes() -> None:
    pixit = load_pixit(PIXIT)
    assert {n.name for n in pixit.external()} == {"wwsf", "registrar", "ep-cscf1", "ep-cscf2"}
    assert pixit.emulated("s_cscf") and pixit.emulated("i_cscf") and pixit.emulated("remote")
    assert pixit.start and pixit.pics is not None and pixit.pics.name == "mixed-pics.toml"


def test_mixed_verdicts_are_the_in_process_ones(tmp_path: Path, in_process_verdicts: dict[str, str]) -> None:
    inside = in_process_verdicts
    mixed = run_sharded(tmp_path, "mixed", PIXIT)
    assert inside.keys() == mixed.keys(), f"different scenarios: {sorted(inside.keys() ^ mixed.keys())}"
    ruled_out = {
        n
        for n, v in mixed.items()
        if v.startswith(f"{NOT_APPLICABLE}PICS selection of ") and "ICSCF = no" in v
    }
    # the failover scenarios (no standby declared: options A and B, TP_WIMPU_LIFE_010, LIFE_013 and
    # LIFE_014), the
    # two of block_registration_options.feature (blocks provisioned for the other block registration options)
    # the five of TP_WIMPU_REG_013, ORIG_015 and TERM_014 (no [registrar] stall: the registrar
    # shares the eP-CSCFs' process) and TP_WIMPU_BLK_007 (no [[ep_cscf]] restart) need what this
    # PIXIT does not declare
    standby = {n for n, v in mixed.items() if undeclared(v)}
    same = {n for n in inside if mixed[n] == inside[n]}
    print(f"\nmixed run: {len(same)} as in-process, {len(ruled_out)} not applicable (I-CSCF), "
          f"{len(standby)} inconclusive (not declared)")  # fmt: skip
    other = {n: (inside[n], mixed[n]) for n in inside if n not in same | ruled_out | standby}
    assert not other, f"verdicts differ (in-process, mixed): {other}"
    assert len(standby) <= 13, (
        f"more scenarios than the failover, block option and stall ones: {sorted(standby)}"
    )
    assert len(same) >= len(inside) - len(ruled_out) - 13 and len(same) >= 30, sorted(same)
    needing = " or ".join(sorted(needs_the_icscf()))
    assert ruled_out == tagged(needing), f"not applicable must be exactly the scenarios of {needing}"


def needs_the_icscf() -> set[str]:
    """The test purposes whose selection does not hold with the mixed PICS's answers."""
    answers = {i.id: i.answer for i in load_pics(ROOT / "examples" / "pixit" / "mixed-pics.toml")}
    selection = load_selection(
        ROOT / "features" / "selection.toml", load_pics(ROOT / "features" / "pics.toml")
    )
    found = {tp for tp, s in selection.items() if not s.holds(answers)}
    assert found and all("PICS_NODE_ICSCF" in selection[tp].items for tp in found), found
    assert "TP_WIMPU_TERM_001" not in found and "TP_WIMPU_LIFE_001" not in found  # they judge the eP-CSCF too
    return found


def tagged(tag: str) -> set[str]:
    """The scenarios carrying ``tag``, named as in JUnit XML (``steps.test_x::test_y[...]``)."""
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "steps", "--collect-only", "-q", "-m", tag, "-p", "no:cacheprovider",
         "--no-reports"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    ).stdout.splitlines()  # fmt: skip
    found = {line.replace("/", ".").replace(".py::", "::") for line in listed if "::" in line}
    assert found, f"no scenario is tagged {tag}"
    return found
