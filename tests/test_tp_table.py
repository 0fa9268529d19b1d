"""The test-purpose table (conformance/tp_table.py) and docs/test-purposes.md, its output."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conformance.tp_table import (
    GROUPS,
    NUMBERED_STEPS,
    load_step_coverage,
    load_test_purposes,
    render_markdown,
)
from conformance.traceability import scenario_test_purposes

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "test-purposes.md"


def test_the_document_is_current() -> None:
    purposes = load_test_purposes(ROOT)
    assert DOC.read_text(encoding="utf-8") == render_markdown(purposes, load_step_coverage(ROOT, purposes)), (
        "docs/test-purposes.md is stale: python3 -m conformance.tp_table > docs/test-purposes.md"
    )


def test_every_test_purpose_of_the_features_has_an_entry_with_its_selection_and_behaviour() -> None:
    purposes = {tp.id: tp for tp in load_test_purposes(ROOT)}
    assert set(purposes) == set(scenario_test_purposes(ROOT / "features"))
    for tp in purposes.values():
        assert tp.title and tp.selection and tp.then and tp.group in GROUPS, tp
        assert tp.ensure().startswith("ensure that, when ") and ", then " in tp.ensure()


def test_the_groups_come_from_the_tags_and_the_steps() -> None:
    purposes = {tp.id: tp for tp in load_test_purposes(ROOT)}
    assert purposes["TP_WIMPU_REG_001"].group == "valid"
    assert purposes["TP_WIMPU_SEC_003"].group == "invalid"
    assert purposes["TP_WIMPU_SEC_009"].group == "inopportune"
    assert purposes["TP_WIMPU_LIFE_001"].group == "timer"
    assert purposes["TP_WIMPU_SEC_004"].feature.endswith("is refused")  # a TP on an Examples block
    assert purposes["TP_WIMPU_REG_001"].options == ("option_a", "option_b")
    assert "REQ-REG-04" in purposes["TP_WIMPU_REG_001"].requirements


def test_every_numbered_step_has_test_purposes_or_says_why_not_in_each_group() -> None:
    """Issue 15: each numbered step of the text has test purposes in the valid, invalid, inopportune
    and timer groups where the behaviour exists. An empty cell is declared in features/steps.toml:
    absent (the behaviour does not exist, and why) or missing (it exists, no test purpose yet); a
    declared cell that a test purpose now covers is stale."""
    steps = load_step_coverage(ROOT, load_test_purposes(ROOT))
    assert [(s.clause, s.step) for s in steps] == [
        (c, n) for c, k in NUMBERED_STEPS.items() for n in range(1, k + 1)
    ]
    undeclared = [f"{s.clause} step {s.step}: {g}" for s in steps for g in s.undeclared()]
    assert not undeclared, f"no test purpose and no declaration in features/steps.toml: {undeclared}"
    stale = [f"{s.clause} step {s.step}: {g}" for s in steps for g in s.stale()]
    assert not stale, f"declared absent or missing in features/steps.toml, yet covered: {stale}"
    assert all(s.purposes["valid"] for s in steps), "every numbered step has a valid behaviour test purpose"


def test_a_test_purpose_names_steps_of_its_own_procedures() -> None:
    """Step tags name steps of the procedures the scenario names itself, else of its feature's: the
    in-dialog checks of wic_authorisation.feature (5.2.2.5.2) are origination's step 3."""
    purposes = {tp.id: tp for tp in load_test_purposes(ROOT)}
    assert purposes["TP_WIMPU_SEC_009"].steps == (("5.2.2.5.3", 3),)
    assert purposes["TP_WIMPU_SEC_008"].steps == (("5.2.2.5.2", 3),)
    assert ("5.2.2.5.4", 5) in purposes["TP_WIMPU_TERM_005"].steps
    assert ("5.2.2.5.3", 1) in purposes["TP_WIMPU_TERM_005"].steps
    assert ("5.2.2.5.3", 4) not in purposes["TP_WIMPU_TERM_005"].steps  # origination has 3 steps


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda t: t.replace("step = 7\n", "step = 8\n"), "5.2.2.5.2 step 8 is not a numbered step"),
        (
            lambda t: t.replace('absent.timer = "the step has no timer: the interval', 'absent.later = "x'),
            "no behaviour group ['later']",
        ),
        (
            lambda t: t.replace('clause = "5.2.2.5.3"\nstep = 3', 'clause = "5.2.2.5.3"\nstep = 2'),
            "given twice",
        ),
    ],
)
def test_a_malformed_steps_file_is_refused_with_one_line(tmp_path: Path, change: object, says: str) -> None:
    shutil.copytree(ROOT / "features", tmp_path / "features")
    path = tmp_path / "features" / "steps.toml"
    text = path.read_text(encoding="utf-8")
    changed = change(text)  # type: ignore[operator]
    assert changed != text
    path.write_text(changed, encoding="utf-8")
    with pytest.raises(ValueError, match=says.replace("[", r"\[").replace("]", r"\]")):
        load_step_coverage(tmp_path, load_test_purposes(tmp_path))
