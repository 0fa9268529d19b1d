"""Test configurations (issue 15): which nodes are the SUT, what the suite plays, which test purposes
run where, and the example PIXITs that build each configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.configurations import CONFIGURATIONS, NODE_ITEMS, configuration_of, configurations_of
from conformance.pics_selection import Selection
from conformance.pixit import load_pixit
from conformance.tp_table import load_test_purposes
from conformance.traceability import load_pics, pics_answers

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "pixit"


def _pics_path(pics: str) -> Path:
    return ROOT / pics if "/" in pics else EXAMPLES / pics


@pytest.mark.parametrize(
    ("config", "pixit", "pics"),
    [(c.id, pixit, pics) for c in CONFIGURATIONS for pixit, pics in c.examples],
)
def test_each_example_builds_its_configuration(config: str, pixit: str, pics: str) -> None:
    """The example's PICS puts the SUT in that configuration, and the PIXIT names that PICS (or none:
    the suite's own, for the whole stack)."""
    answers = pics_answers(_pics_path(pics))
    found = configuration_of(answers)
    assert found is not None and found.id == config, f"{pics} is configuration {found and found.id}"
    text = (EXAMPLES / pixit).read_text()
    named = [line.split("#")[0].strip() for line in text.splitlines() if line.startswith("pics =")]
    # the PIXIT names this PICS, or none (the run is given it with --pics; the suite's by default)
    assert named in ([f'pics = "{pics}"'], []), f"{pixit} names another PICS: {named}"


def test_the_bundled_run_is_the_whole_stack() -> None:
    pixit = load_pixit(EXAMPLES / "in-process.toml")
    assert pixit.all_reference
    found = configuration_of(pics_answers(ROOT / "features" / "pics.toml"))
    assert found is not None and found.id == "CF_STACK"


def test_every_test_purpose_runs_in_a_configuration_and_the_stack_runs_all() -> None:
    purposes = load_test_purposes(ROOT)
    assert purposes
    for tp in purposes:
        assert tp.configurations, f"{tp.id}: no configuration runs it"
        assert tp.configurations[0] == "CF_STACK", f"{tp.id}: the whole stack does not run it"


def test_a_purpose_runs_where_its_selection_holds() -> None:
    items = load_pics(ROOT / "features" / "pics.toml")
    assert configurations_of(Selection.parse("PICS_NODE_ICSCF"), items) == ("CF_STACK", "CF_ICSCF")
    assert configurations_of(
        Selection.parse("PICS_NODE_EPCSCF AND (PICS_W6_READ OR NOT PICS_NODE_REGISTRAR)"), items
    ) == (
        "CF_STACK",
        "CF_EPCSCF",
        "CF_EPCSCF_WWSF_REGISTRAR",
    )
    assert configurations_of(None, items) == tuple(c.id for c in CONFIGURATIONS)


def test_configurations_are_distinct_and_name_only_node_items() -> None:
    ids = [c.id for c in CONFIGURATIONS]
    assert len(ids) == len(set(ids))
    assert len({c.under_test for c in CONFIGURATIONS}) == len(CONFIGURATIONS)
    for c in CONFIGURATIONS:
        assert c.under_test and c.under_test <= set(NODE_ITEMS), c.id
