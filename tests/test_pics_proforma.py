"""The PICS proforma (conformance/pics_proforma.py) and docs/pics-proforma.md, its output."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from conformance.pics_proforma import GROUP_TITLES, group_of, load_proforma, render_markdown

ROOT = Path(__file__).resolve().parents[1]
FEATURES = ROOT / "features"
DOC = ROOT / "docs" / "pics-proforma.md"


def _proforma_of_the_suite() -> str:
    return render_markdown(load_proforma(FEATURES / "pics.toml", FEATURES / "selection.toml"))


def test_the_document_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == _proforma_of_the_suite(), (
        "docs/pics-proforma.md is stale: python3 -m conformance.pics_proforma > docs/pics-proforma.md"
    )


def test_every_item_is_in_its_group_table_with_its_status_and_answer() -> None:
    text = _proforma_of_the_suite()
    with (FEATURES / "pics.toml").open("rb") as f:
        items = tomllib.load(f)["item"]
    tables = text.split("## 4 Roles and capabilities", 1)[1].split("## 5 ", 1)[0]
    for item in items:
        row = next((line for line in tables.splitlines() if line.startswith(f"| `{item['id']}` |")), None)
        assert row is not None, f"{item['id']} has no row"
        assert f"| `{item['status']}` |" in row and f"| **{item['answer']}** |" in row, row
    for group in {group_of(item["id"]) for item in items}:
        assert group in GROUP_TITLES, f"group {group} has no readable title"
        assert GROUP_TITLES[group] in tables


def test_every_test_purpose_is_in_the_applicability_table() -> None:
    text = _proforma_of_the_suite()
    with (FEATURES / "selection.toml").open("rb") as f:
        selection = tomllib.load(f)["selection"]
    table = text.split("## 5 Applicability of the test purposes", 1)[1]
    for tp in selection:
        assert f"| {tp} | `" in table, f"{tp} is not in the applicability table"


def test_the_applicability_follows_the_answers() -> None:
    proforma = load_proforma(FEATURES / "pics.toml", FEATURES / "selection.toml")
    assert all(a.applies for a in proforma.applicability())  # the reference provides every node
    without_icscf = {**proforma.answers, "PICS_NODE_ICSCF": "no"}
    ruled_out = {a.tp: a for a in proforma.applicability(without_icscf) if not a.applies}
    assert set(ruled_out) == {
        "TP_WIMPU_TERM_002", "TP_WIMPU_TERM_003", "TP_WIMPU_TERM_004",
        "TP_WIMPU_TERM_007", "TP_WIMPU_TERM_008", "TP_WIMPU_TERM_016", "TP_WIMPU_TERM_019",
    }  # fmt: skip
    assert ruled_out["TP_WIMPU_TERM_002"].read == "PICS_NODE_ICSCF = no"


PICS = """\
[pics]
sut = "test"
[status]
"o.1" = "at least one of PICS_NODE_A, PICS_NODE_B is yes"
[[item]]
id = "PICS_NODE_A"
clause = "5.2.2.3.2"
question = "A?"
status = "o.1"
answers = ["yes", "no"]
answer = "yes"
[[item]]
id = "PICS_NODE_B"
clause = "5.2.2.3.3"
question = "B?"
status = "STATUS"
answers = ["yes", "no"]
answer = "ANSWER"
"""


def _files(
    tmp_path: Path, status: str = "o.1", answer: str = "no", expression: str = "PICS_NODE_A"
) -> tuple[Path, Path]:
    pics, selection = tmp_path / "pics.toml", tmp_path / "selection.toml"
    pics.write_text(PICS.replace("STATUS", status).replace("ANSWER", answer), encoding="utf-8")
    selection.write_text(f'[selection]\nTP_X_001 = "{expression}"\n', encoding="utf-8")
    return pics, selection


def test_small_files_load_and_render(tmp_path: Path) -> None:
    proforma = load_proforma(*_files(tmp_path))
    text = render_markdown(proforma)
    assert "| `PICS_NODE_B` | B? | 5.2.2.3.3 | `o.1` | yes / no | **no** | - |" in text
    assert "| TP_X_001 | `PICS_NODE_A` | PICS_NODE_A = yes | yes |" in text


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ({"status": "c.9"}, "pics.toml: PICS_NODE_B: status c.9 has no rule in [status]"),
        ({"answer": "maybe"}, "pics.toml: PICS_NODE_B: answer 'maybe' is not one of yes, no"),
        (
            {"expression": "PICS_NODE_A OR PICS_NODE_C"},
            "selection.toml: TP_X_001: 'PICS_NODE_A OR PICS_NODE_C': no PICS item PICS_NODE_C",
        ),
    ],
    ids=["status-without-rule", "answer-not-allowed", "unknown-item"],
)
def test_an_inconsistency_is_one_line_naming_the_file_and_the_item(
    tmp_path: Path, case: dict[str, str], expected: str
) -> None:
    with pytest.raises(ValueError) as raised:
        load_proforma(*_files(tmp_path, **case))
    message = str(raised.value)
    assert "\n" not in message
    assert message == f"{tmp_path}/{expected}"
