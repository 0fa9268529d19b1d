"""The single-node test configurations (issue 15, conformance/configurations.py), built by the harness.

Each runs every feature against the bundled stack as separate processes
(``examples/pixit/reference-processes.toml``) with a PICS that claims one node only
(``icscf-pics.toml``, ``registrar-pics.toml``, ``wwsf-pics.toml``): that node is the SUT, the other
reference nodes are the suite's. Exactly the test purposes that run in the configuration apply
(those whose PICS selection holds there: the same list as ``docs/test-purposes.md``), with the
in-process verdicts; every other scenario is NOT APPLICABLE for its PICS selection, or an option the
PICS does not claim, and for no other reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from runs import NOT_APPLICABLE, ROOT, run_sharded, undeclared
from test_mixed_run import tagged

from conformance.configurations import CONFIGURATIONS
from conformance.tp_table import load_test_purposes

pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "examples" / "pixit"
SINGLE = [c for c in CONFIGURATIONS if len(c.under_test) == 1 and c.id != "CF_EPCSCF"]


@pytest.mark.parametrize("config", SINGLE, ids=[c.id for c in SINGLE])
def test_only_the_purposes_of_the_node_run_with_the_in_process_verdicts(
    config, tmp_path: Path, in_process_verdicts: dict[str, str]
) -> None:
    ((pixit_name, pics_name),) = config.examples
    purposes = sorted(tp.id for tp in load_test_purposes(ROOT) if config.id in tp.configurations)
    assert purposes, f"no test purpose runs in {config.id}"
    found = run_sharded(tmp_path, config.id, EXAMPLES / pixit_name, "--pics", str(EXAMPLES / pics_name))
    assert found.keys() == in_process_verdicts.keys()
    applicable = tagged(" or ".join(purposes))
    ran = {n: v for n, v in found.items() if not v.startswith(NOT_APPLICABLE)}
    standby = {n for n, v in ran.items() if undeclared(v)}
    print(f"\n{config.id}: {len(ran)} scenarios ran of {len(applicable)} of {', '.join(purposes)}")
    assert set(ran) <= applicable, f"scenarios of other purposes ran: {sorted(set(ran) - applicable)}"
    differ = {n: (in_process_verdicts[n], v) for n, v in ran.items() if v != in_process_verdicts[n]}
    assert set(differ) <= standby, f"verdicts differ (in-process, {config.id}): {differ}"
    assert ran, f"no scenario ran in {config.id}"
    # a purpose of the node that did not run was ruled out by an option its PICS leaves to the reference
    for name in applicable - set(ran):
        assert found[name].startswith(NOT_APPLICABLE) and "PICS selection" not in found[name], (
            name,
            found[name],
        )
