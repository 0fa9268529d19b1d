"""Traceability of the suite to TR 23.701 clause 5.2.2 (docs/traceability.md).

Requirements (features/requirements.toml) point into the seed text (docs/source/tr23701-5.2.2.txt);
scenarios carry test-purpose tags; the PICS (features/pics.toml) gates scenario tags.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from conformance.traceability import (
    SEED_CLAUSES,
    check_traceability,
    feature_tags,
    load_pics,
    load_requirements,
    load_selection,
    normalise,
    scenario_test_purposes,
    scenario_variants,
    uncovered_requirements,
)

ROOT = Path(__file__).resolve().parents[1]
FEATURES = ROOT / "features"
REQUIREMENTS = FEATURES / "requirements.toml"
PICS = FEATURES / "pics.toml"
TAGS = FEATURES / "tags.toml"
SELECTION = FEATURES / "selection.toml"
SOURCE = ROOT / "docs" / "source" / "tr23701-5.2.2.txt"

# Testable requirements that no scenario covers yet, or covers only in part (partial = true).
# Each is here for a reason that is not "no one wrote the scenario yet". Adding coverage makes
# test_uncovered_requirements_are_exactly_the_known_ones fail until the id is removed here, and a
# requirement that loses its coverage fails it too.
STILL_UNCOVERED: frozenset[str] = frozenset()

# Tags that PICS items gate but no feature carries yet, so features/tags.toml does not declare them.
# Declare a tag in tags.toml when the first feature uses it, and remove it from here.
PLANNED_GATE_TAGS: frozenset[str] = frozenset()


def declared_tags() -> set[str]:
    with TAGS.open("rb") as f:
        groups = tomllib.load(f)
    return {tag for tags in groups.values() for tag in tags}


# (a) the files load and validate -----------------------------------------------------------------------


def test_requirements_load_and_validate() -> None:
    requirements = load_requirements(REQUIREMENTS)
    assert len(requirements) >= 70
    assert {req.kind for req in requirements} <= {"shall", "step", "option", "statement"}


def test_pics_load_and_validate() -> None:
    items = {item.id: item for item in load_pics(PICS)}
    required = {
        "PICS_NODE_EPCSCF", "PICS_NODE_ICSCF", "PICS_NODE_REGISTRAR", "PICS_NODE_WWSF", "PICS_OPT_A",
        "PICS_OPT_B", "PICS_BLK_OPT1", "PICS_BLK_OPT2", "PICS_TOKEN_HEADER", "PICS_TOKEN_BODY",
        "PICS_FORKING", "PICS_W6_READ",
    }  # fmt: skip
    assert required <= set(items)
    assert items["PICS_OPT_A"].gates == ("option_a",)
    assert items["PICS_OPT_B"].gates == ("option_b",)


def test_every_pics_gate_is_a_declared_or_planned_tag() -> None:
    declared = declared_tags()
    gates = {tag for item in load_pics(PICS) for tag in item.gates}
    assert gates - declared - PLANNED_GATE_TAGS == set(), (
        "PICS gates a tag that is neither declared nor planned"
    )
    assert PLANNED_GATE_TAGS & declared == set(), "declared in tags.toml now: remove from PLANNED_GATE_TAGS"
    assert PLANNED_GATE_TAGS <= gates, "a planned tag that no PICS item gates"


def test_every_testable_false_has_a_rationale_and_every_partial_a_note() -> None:
    for req in load_requirements(REQUIREMENTS):
        assert req.testable or req.rationale, req.id
        assert not req.partial or req.note, req.id


def test_a_broken_requirement_is_reported_with_file_and_id(tmp_path: Path) -> None:
    path = tmp_path / "requirements.toml"
    path.write_text(
        '[[requirement]]\nid = "REQ-REG-01"\nclause = "5.2.2.5.2"\nstep = "9"\ntext = "x"\nkind = "step"\n'
        'nodes = ["ep_cscf"]\ntestable = true\ncovered_by = []\n'
    )
    with pytest.raises(ValueError, match=r"requirements\.toml: REQ-REG-01: .*no step '9'"):
        load_requirements(path)
    path.write_text(
        '[[requirement]]\nid = "REQ-IMP-01"\nclause = "5.2.2.3"\nstep = ""\ntext = "x"\nkind = "shall"\n'
        'nodes = ["ep_cscf"]\ntestable = false\ncovered_by = []\n'
    )
    with pytest.raises(ValueError, match=r"REQ-IMP-01: testable = false needs a rationale"):
        load_requirements(path)


def test_tags_on_every_gherkin_level_are_inherited(tmp_path: Path) -> None:
    (tmp_path / "x.feature").write_text(
        "@TP_F\nFeature: F\n"
        "  Scenario: plain\n    Given a\n"
        "  @TP_R\n  Rule: R\n"
        "    @TP_S\n    Scenario Outline: outline\n      Given <a>\n"
        "      @TP_E\n      Examples: one\n        | a |\n        | 1 |\n"
        "      Examples:\n        | a |\n        | 2 |\n"
    )
    tps = scenario_test_purposes(tmp_path)
    assert tps["TP_F"] == ["x.feature: plain", "x.feature: outline [one]", "x.feature: outline [examples 2]"]
    assert tps["TP_R"] == tps["TP_S"] == ["x.feature: outline [one]", "x.feature: outline [examples 2]"]
    assert tps["TP_E"] == ["x.feature: outline [one]"]


# (b) requirements and scenarios reference each other without dangling ids ------------------------------


def test_test_purposes_and_requirements_reference_each_other() -> None:
    tps = scenario_test_purposes(FEATURES)
    assert tps, "no TP_ tag found under features/"
    assert check_traceability(load_requirements(REQUIREMENTS), tps) == []


# (c) coverage of the seed ------------------------------------------------------------------------------


def test_uncovered_requirements_are_exactly_the_known_ones() -> None:
    uncovered = uncovered_requirements(load_requirements(REQUIREMENTS), scenario_test_purposes(FEATURES))
    newly_covered = sorted(STILL_UNCOVERED - uncovered)
    lost = sorted(uncovered - STILL_UNCOVERED)
    assert not newly_covered, f"now covered, remove from STILL_UNCOVERED: {newly_covered}"
    assert not lost, f"testable but not (fully) covered by any scenario: {lost}"


# (d) every requirement points into the real text -------------------------------------------------------


def test_source_carries_a_one_line_header_and_every_clause() -> None:
    header, _, body = SOURCE.read_text(encoding="utf-8").partition("\n")
    assert header.startswith("#") and "TR 23.701" in header
    assert "5.2.2.5.4 Termination" in body
    lines = {line.strip() for line in body.splitlines()}
    for clause in SEED_CLAUSES:
        assert any(line == clause or line.startswith(clause + " ") for line in lines), clause


def test_every_requirement_text_is_verbatim_in_the_source() -> None:
    source = normalise(SOURCE.read_text(encoding="utf-8").partition("\n")[2])
    missing = [req.id for req in load_requirements(REQUIREMENTS) if normalise(req.text) not in source]
    assert missing == []


# (e) no dead tag declarations --------------------------------------------------------------------------


def test_every_declared_tag_is_used_or_pics_gated() -> None:
    gated = {tag for item in load_pics(PICS) for tag in item.gates}
    unused = declared_tags() - feature_tags(FEATURES) - gated
    assert unused == set()


# (f) PICS selection expressions ------------------------------------------------------------------------


def test_every_test_purpose_has_a_pics_selection_and_every_selection_a_purpose() -> None:
    selection = load_selection(SELECTION, load_pics(PICS))
    used = set(scenario_test_purposes(FEATURES))
    declared = {tag for tag in declared_tags() if tag.startswith("TP_")}
    assert sorted(used - set(selection)) == [], "test purposes with no PICS selection expression"
    assert sorted(set(selection) - declared) == [], "selection expressions of undeclared test purposes"


def test_a_scenario_reading_w6_has_a_selection_that_asks_whether_w6_is_readable() -> None:
    selection = load_selection(SELECTION, load_pics(PICS))
    lacking = sorted(
        f"{s.name}: {tp}"
        for s in scenario_variants(FEATURES)
        if "registrar_read" in s.tags
        for tp in s.tags
        if tp.startswith("TP_") and "PICS_W6_READ" not in selection[tp].items
    )
    assert lacking == []


def test_node_items_gate_no_tag_and_every_expression_names_a_node() -> None:
    """Which nodes a TP needs is its expression's business, never a tag gate (issue 15)."""
    items = load_pics(PICS)
    assert [i.id for i in items if i.id.startswith("PICS_NODE_") and i.gates] == []
    nodes = {i.id for i in items if i.id.startswith("PICS_NODE_")}
    selection = load_selection(SELECTION, items)
    assert sorted(tp for tp, s in selection.items() if not nodes & set(s.items)) == []


def test_a_broken_selection_is_reported_with_file_and_purpose(tmp_path: Path) -> None:
    path = tmp_path / "selection.toml"
    path.write_text('[selection]\nTP_WIMPU_REG_001 = "PICS_NODE_EPCSCF AND PICS_NO_SUCH"\n')
    with pytest.raises(ValueError, match=r"selection.toml: TP_WIMPU_REG_001: .*no PICS item PICS_NO_SUCH"):
        load_selection(path, load_pics(PICS))
    path.write_text('[selection]\nTP_WIMPU_REG_001 = "PICS_NODE_EPCSCF AND"\n')
    with pytest.raises(ValueError, match=r"TP_WIMPU_REG_001: .*ends too early"):
        load_selection(path, load_pics(PICS))


def test_every_profile_choice_of_a_feature_has_its_pics_item_and_its_reason() -> None:
    """Issue 15: a step that checks a solution-profile choice names it, ``as the solution profile
    chooses (PROFILE_...)``; the choice has a PICS item ``PICS_<id>`` (yes/no, reference yes) and a
    row in docs/solution-profile.md ("Profile checks"); every such item is used by some feature."""
    import re

    from conformance.harness.profile import CHOICE_STEP, pics_item

    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(FEATURES.rglob("*.feature")))
    used = {m.group("choice") for m in re.finditer(CHOICE_STEP, text)}
    assert used, "no feature names a profile choice"
    items = {item.id: item for item in load_pics(PICS)}
    profile = (ROOT / "docs" / "solution-profile.md").read_text(encoding="utf-8")
    for choice in sorted(used):
        item = items.get(pics_item(choice))
        assert item is not None, f"{choice} has no PICS item {pics_item(choice)} in {PICS}"
        assert item.answers == ("yes", "no") and item.answer == "yes" and not item.gates, item
        assert choice in item.question, f"{item.id} does not name {choice} in its question"
        assert f"| `{choice}` |" in profile, f"docs/solution-profile.md gives no reason for {choice}"
    unused = sorted(i for i in items if i.startswith("PICS_PROFILE_") and i.removeprefix("PICS_") not in used)
    assert not unused, f"profile items no feature checks: {unused}"
    keywords = ("Given ", "When ", "Then ", "And ", "But ")
    steps = [line.strip() for line in text.splitlines() if line.strip().startswith(keywords)]
    unnamed = [s for s in steps if "as the solution profile chooses" in s and not re.search(CHOICE_STEP, s)]
    assert not unnamed, f"steps that check a profile choice without naming it (PROFILE_...): {unnamed}"
