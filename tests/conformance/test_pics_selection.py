"""PICS selection expressions (conformance/pics_selection.py)."""

from __future__ import annotations

import pytest

from conformance.pics_selection import Selection, SelectionError

YES, NO = "yes", "no"


@pytest.mark.parametrize(
    ("text", "answers", "holds"),
    [
        ("PICS_A", {"PICS_A": YES}, True),
        ("PICS_A", {"PICS_A": NO}, False),
        ("PICS_A", {}, False),  # unanswered is not yes
        ("NOT PICS_A", {"PICS_A": NO}, True),
        ("PICS_A OR PICS_B AND PICS_C", {"PICS_A": YES, "PICS_B": NO}, True),  # AND binds tighter
        ("(PICS_A OR PICS_B) AND PICS_C", {"PICS_A": YES, "PICS_B": NO}, False),
        ("PICS_A AND (PICS_B OR NOT PICS_C)", {"PICS_A": YES, "PICS_C": NO}, True),
        ("NOT NOT PICS_A", {"PICS_A": YES}, True),
        ("PICS_A", {"PICS_A": "n/a"}, False),
    ],
)
def test_an_expression_holds_on_the_answers(text: str, answers: dict[str, str], holds: bool) -> None:
    assert Selection.parse(text).holds(answers) is holds


def test_it_prints_as_written_with_the_groups_it_needs_and_explains_the_answers() -> None:
    selection = Selection.parse("PICS_A AND (PICS_B OR NOT PICS_C)")
    assert str(selection) == "PICS_A AND (PICS_B OR NOT PICS_C)"
    assert str(Selection.parse("PICS_A OR PICS_B AND PICS_C")) == "PICS_A OR (PICS_B AND PICS_C)"
    assert selection.items == ("PICS_A", "PICS_B", "PICS_C")
    assert selection.explain({"PICS_A": NO}) == (
        "PICS_A AND (PICS_B OR NOT PICS_C) (PICS_A = no, PICS_B = unanswered, PICS_C = unanswered)"
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("PICS_A AND", "ends too early"),
        ("PICS_A PICS_B", "unexpected 'PICS_B'"),
        ("(PICS_A", "ends too early"),
        ("PICS_A OR )", "where a PICS item was expected"),
        ("pics_a", "unexpected"),
        ("PICS_A && PICS_B", "unexpected '&&"),
        ("__import__('os')", "unexpected"),
    ],
)
def test_a_malformed_expression_is_refused_with_its_reason(text: str, why: str) -> None:
    with pytest.raises(SelectionError, match=why):
        Selection.parse(text)


def test_an_item_the_pics_lacks_is_refused() -> None:
    with pytest.raises(SelectionError, match="no PICS item PICS_B"):
        Selection.parse("PICS_A OR PICS_B", {"PICS_A"})
