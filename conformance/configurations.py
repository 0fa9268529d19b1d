"""Test configurations: which nodes are the system under test, and what the suite plays around them.

ETSI conformance specifications name, for each test purpose, the test configurations it runs in
(the arrangement of the SUT and the test components). Here a configuration is the set of nodes a
SUT provides (its ``PICS_NODE_*`` answers, ``features/pics.toml``); the suite plays every other
node: its emulations (the S-CSCF/HSS and the I-CSCF, ``mode = "emulated"`` in the PIXIT), the
bundled reference run beside the SUT (the WWSF and the registrar), and always the WICs and the
remote party. A test purpose runs in a configuration when its PICS selection expression
(``features/selection.toml``) holds for that configuration's node answers, every option answered
yes (the options select Examples, not configurations).

The harness builds a configuration from a PIXIT (``docs/pixit.md``: the nodes' modes) with the SUT's
PICS; :data:`CONFIGURATIONS` names the example PIXITs that build each one, and
``tests/test_configurations.py`` checks that each example's PICS is the configuration's. The
single-node configurations use the bundled stack as separate processes (``reference-processes.toml``)
with a PICS that claims one node: the others are then the suite's, and only the test purposes of that
node apply (``tests/conformance/test_single_node_configurations.py`` runs them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from conformance.pics_selection import Selection
from conformance.traceability import PicsItem

__all__ = ["CONFIGURATIONS", "NODE_ITEMS", "TestConfiguration", "configuration_of", "configurations_of"]

NODE_ITEMS = ("PICS_NODE_EPCSCF", "PICS_NODE_ICSCF", "PICS_NODE_REGISTRAR", "PICS_NODE_WWSF")
"The PICS items that say which nodes a SUT provides."


@dataclasses.dataclass(frozen=True, slots=True)
class TestConfiguration:
    """One arrangement of the SUT and the suite's test components."""

    __test__ = False  # not a pytest class, whatever its name

    id: str
    title: str
    under_test: frozenset[str]
    "The PICS_NODE_* items answered yes: the nodes the SUT provides."
    played: str
    "What the suite plays around the SUT."
    examples: tuple[tuple[str, str], ...] = ()
    """(PIXIT, PICS) under ``examples/pixit/`` (or ``features/pics.toml``) that build it: the PIXIT names
    the PICS, or the run is given it (``--pics``)."""

    def answers(self, items: Iterable[PicsItem]) -> dict[str, str]:
        """Every item's answer in this configuration: its nodes yes, the other nodes no, every other
        item as the reference answers it (the options do not make a configuration)."""
        answers = {item.id: item.answer for item in items}
        answers.update({item: "yes" if item in self.under_test else "no" for item in NODE_ITEMS})
        return answers


_CORE = "the S-CSCF/HSS and the I-CSCF emulated (mode emulated)"
_BESIDE = "the reference WWSF and wIMPU Registrar run beside it"
_PEERS = "the WICs (WSS) and the remote IMS party"


def _ALL_BUT(node: str) -> str:  # noqa: N802 - reads as a phrase in the table below
    return (
        f"every reference node but the {node} (eP-CSCFs, WWSF, registrar, I-CSCF, S-CSCF/HSS) run beside it"
    )


CONFIGURATIONS: tuple[TestConfiguration, ...] = (
    TestConfiguration(
        "CF_STACK",
        "the whole stack",
        frozenset(NODE_ITEMS),
        f"{_PEERS}; nothing else",
        (("in-process.toml", "features/pics.toml"), ("reference-processes.toml", "features/pics.toml")),
    ),
    TestConfiguration(
        "CF_EPCSCF",
        "an eP-CSCF alone",
        frozenset({"PICS_NODE_EPCSCF"}),
        f"{_PEERS}; {_CORE}; {_BESIDE}",
        (("kamailio.toml", "kamailio-pics.toml"), ("external-ep-cscf.toml", "vendor-pics.toml")),
    ),
    TestConfiguration(
        "CF_EPCSCF_WWSF_REGISTRAR",
        "the eP-CSCFs with the WWSF and the wIMPU Registrar",
        frozenset({"PICS_NODE_EPCSCF", "PICS_NODE_WWSF", "PICS_NODE_REGISTRAR"}),
        f"{_PEERS}; {_CORE}",
        (("mixed-ep-cscf.toml", "mixed-pics.toml"),),
    ),
    TestConfiguration(
        "CF_ICSCF",
        "an enhanced I-CSCF alone",
        frozenset({"PICS_NODE_ICSCF"}),
        f"{_PEERS}; {_ALL_BUT('I-CSCF')}",
        (("reference-processes.toml", "icscf-pics.toml"),),
    ),
    TestConfiguration(
        "CF_REGISTRAR",
        "a wIMPU Registrar alone",
        frozenset({"PICS_NODE_REGISTRAR"}),
        f"{_PEERS}; {_ALL_BUT('wIMPU Registrar')}",
        (("reference-processes.toml", "registrar-pics.toml"),),
    ),
    TestConfiguration(
        "CF_WWSF",
        "a WWSF alone",
        frozenset({"PICS_NODE_WWSF"}),
        f"{_PEERS}; {_ALL_BUT('WWSF')}",
        (("reference-processes.toml", "wwsf-pics.toml"),),
    ),
)
"Every configuration the test purposes are arranged for, the whole stack first."


def configurations_of(selection: Selection | None, items: Iterable[PicsItem]) -> tuple[str, ...]:
    """The ids of the configurations in which a test purpose with ``selection`` runs (every one when
    it has none)."""
    items = list(items)
    return tuple(c.id for c in CONFIGURATIONS if selection is None or selection.holds(c.answers(items)))


def configuration_of(answers: Mapping[str, str]) -> TestConfiguration | None:
    """The configuration a SUT's PICS ``answers`` put it in (None: a combination not listed)."""
    provided = frozenset(item for item in NODE_ITEMS if answers.get(item) == "yes")
    return next((c for c in CONFIGURATIONS if c.under_test == provided), None)
