"""The chain clause -> function -> rule -> scenario -> verdict (conformance/clause_chain.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from captures.rules import RULES
from conformance.clause_chain import Anchor, anchors, clause_links
from conformance.traceability import Requirement, load_requirements
from reference.spec import ClauseRef, implementations

CHECKOUT = Path(__file__).resolve().parents[2]


def requirement(rid: str, clause: str, step: str = "", judged_by: tuple[str, ...] = ()) -> Requirement:
    return Requirement(rid, clause, step, "text", "step", ("ep_cscf",), True, (), judged_by=judged_by)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TR 23.701 5.2.2.5.2 step 4", [Anchor("5.2.2.5.2", ("4",))]),
        ("TR 23.701 5.2.2.5.2 steps 3-4", [Anchor("5.2.2.5.2", ("3", "4"))]),
        ("TR 23.701 5.2.2.5.4 steps 1, 2 and 3", [Anchor("5.2.2.5.4", ("1", "2", "3"))]),
        (
            "TR 23.701 5.2.2.1 (option B); 5.2.2.5.2 step 7",
            [Anchor("5.2.2.1"), Anchor("5.2.2.5.2", ("7",))],
        ),
        ("RFC 3261 16.6; TR 23.701 5.2.2.5.1", [Anchor("5.2.2.5.1")]),
        ("RFC 3261 10.3", []),
    ],
)
def test_the_places_a_clause_text_names(text: str, expected: list[Anchor]) -> None:
    assert anchors(text) == expected


def test_a_step_anchor_covers_that_step_only_and_a_clause_anchor_its_subclauses() -> None:
    step = Anchor("5.2.2.5.2", ("4",))
    assert step.covers("5.2.2.5.2", "4") and not step.covers("5.2.2.5.2", "5")
    assert not step.covers("5.2.2.5.2", "") and not step.covers("5.2.2.5.3", "4")
    whole = Anchor("5.2.2.4")
    assert whole.covers("5.2.2.4", "") and whole.covers("5.2.2.4.1", "") and whole.covers("5.2.2.4.2", "3")
    assert not whole.covers("5.2.2.41", "") and not whole.covers("5.2.2.5.1", "")


def test_functions_are_linked_by_clause_and_step_and_rules_by_the_requirement() -> None:
    refs = [
        ClauseRef("TR 23.701", "5.2.2.5.2", ("4",), qualname="m:check_token"),
        ClauseRef("TR 23.701", "5.2.2.5.2", ("5",), qualname="m:query"),
        ClauseRef("RFC 3261", "5.2.2.5.2", ("4",), qualname="m:another_document"),
    ]
    wanted = [requirement("R4", "5.2.2.5.2", "4", ("TOKEN",)), requirement("R9", "5.2.2.5.3", "1")]
    links = clause_links(wanted, refs, ["TOKEN", "W6"])
    assert links["R4"].functions == ("m:check_token",) and links["R4"].rules == ("TOKEN",)
    assert links["R9"].functions == () and links["R9"].rules == ()
    with pytest.raises(ValueError, match="R5: judged_by names no capture rule: NOPE"):
        clause_links([requirement("R5", "5.2.2.5.2", "5", ("NOPE",))], refs, ["TOKEN"])


def test_every_rule_judges_a_requirement_and_every_judge_exists() -> None:
    """One judge per requirement (issue 15): the requirements name real rules, and no rule judges
    nothing the text requires."""
    requirements = load_requirements(CHECKOUT / "features" / "requirements.toml")
    links = clause_links(requirements)  # raises on an unknown rule
    judging = {rule for link in links.values() for rule in link.rules}
    assert not set(RULES) - judging, f"rules that judge no requirement: {sorted(set(RULES) - judging)}"
    for req in requirements:
        if req.testable:
            assert req.judged_by or req.wire, req.id


def test_every_requirement_with_a_wire_observable_has_its_rule() -> None:
    """Issue 15, "Live and offline verdicts come from the same rule for every requirement with a
    wire observable": no testable requirement is left "no rule yet" (judged by scenario steps only);
    one that is not on the wire says why."""
    requirements = load_requirements(CHECKOUT / "features" / "requirements.toml")
    gaps = [
        r.id
        for r in requirements
        if r.testable and not r.judged_by and not r.wire.startswith("not on the wire")
    ]
    assert not gaps, f"requirements on the wire with no capture rule: {gaps}"


def test_every_capture_rule_names_a_place_of_the_text() -> None:
    assert not [r.id for r in RULES.values() if not anchors(r.clause)]


def test_the_reference_registry_is_complete_after_implementations() -> None:
    """Every module of the reference is imported: the token check of step 4 is among them."""
    names = {ref.qualname for ref in implementations()}
    assert "reference.nodes.iwf.token_check:validate" in names
    assert len(names) > 50


def test_the_token_step_links_its_check_and_its_rule() -> None:
    requirements = load_requirements(CHECKOUT / "features" / "requirements.toml")
    (req,) = [r for r in requirements if (r.clause, r.step) == ("5.2.2.5.2", "4")]
    links = clause_links(requirements)[req.id]
    assert "reference.nodes.iwf.token_check:validate" in links.functions
    assert {"REG_TOKEN", "TOKEN_CONFINED"} <= set(links.rules)
