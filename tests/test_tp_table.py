"""The test-purpose table (conformance/tp_table.py) and docs/test-purposes.md, its output."""

from __future__ import annotations

from pathlib import Path

from conformance.tp_table import GROUPS, load_test_purposes, render_markdown
from conformance.traceability import scenario_test_purposes

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "test-purposes.md"


def test_the_document_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render_markdown(load_test_purposes(ROOT)), (
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
