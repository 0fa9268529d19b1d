"""The test purposes as a table a delegate reads without Gherkin (ETSI TDL-TO / TPLan style).

One entry per test purpose (``TP_...`` tag), generated from the features, ``features/tags.toml``
(its title), ``features/requirements.toml`` (the requirements it covers), ``features/selection.toml``
(its PICS selection expression, and from it the test configurations it runs in:
:mod:`conformance.configurations`) and the scenario's own steps: the initial conditions are the
Background and Given steps, the expected behaviour is written "ensure that, when <When steps>,
then <Then steps>". ``docs/test-purposes.md`` is this module's output
(``python3 -m conformance.tp_table > docs/test-purposes.md``; a test keeps it current) and the
conformance report shows the same table.
"""

from __future__ import annotations

import dataclasses
import sys
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, cast

from gherkin.parser import Parser
from gherkin.token_scanner import TokenScanner

from conformance.configurations import CONFIGURATIONS, configurations_of
from conformance.traceability import Requirement, load_pics, load_requirements, load_selection

__all__ = [
    "GROUPS", "NUMBERED_STEPS", "StepCoverage", "TestPurpose", "load_step_coverage", "load_test_purposes",
    "render_markdown", "step_cell",
]  # fmt: skip

GROUPS = ("valid", "invalid", "inopportune", "timer")
"The behaviour groups of ETSI test suite structures; a TP's group comes from its tags."
_OPTION_TAGS = (
    "option_a", "option_b", "block_option_1", "block_option_2", "token_header", "token_header_24371",
    "token_body", "forking", "non_invite",
)  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class TestPurpose:
    """One test purpose as the table shows it."""

    __test__ = False  # not a pytest class, whatever its name

    id: str
    title: str
    feature: str
    "The feature file and the scenario's name."
    clauses: tuple[str, ...]
    requirements: tuple[str, ...]
    selection: str
    "Its PICS selection expression (features/selection.toml)."
    options: tuple[str, ...]
    "The option tags of its Examples (each row applies when its option's PICS item is yes)."
    group: str
    initial: tuple[str, ...]
    when: tuple[str, ...]
    then: tuple[str, ...]
    configurations: tuple[str, ...] = ()
    "The test configurations it runs in (conformance/configurations.py): those its selection holds in."
    more: tuple[str, ...] = ()
    "Its other scenarios (feature file and name): the same purpose in other options or set-ups."
    steps: tuple[tuple[str, int], ...] = ()
    "The numbered steps of the text it tests: (clause, step) (:data:`NUMBERED_STEPS`)."

    def ensure(self) -> str:
        """``ensure that, when ..., then ...`` in one sentence."""
        when = "; ".join(self.when) or "nothing more is done"
        return f"ensure that, when {when}, then {'; '.join(self.then)}"


def _tags(node: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(tag["name"].removeprefix("@") for tag in node.get("tags", ()))


def _kinds(steps: Iterable[Mapping[str, Any]]) -> Iterator[tuple[str, str]]:
    """(Context | Action | Outcome, text) of each step, ``And``/``But`` taking the kind before them."""
    kind = "Context"
    for step in steps:
        if step["keywordType"] in ("Context", "Action", "Outcome"):
            kind = step["keywordType"]
        yield kind, step["text"]


_TIMER_WORDS = ("seconds pass", "seconds have passed", "expires", "expired")


def _group(tags: frozenset[str], steps: Iterable[str]) -> str:
    """timer: time passes in its steps; inopportune: tagged so; invalid: tagged ``negative``."""
    if "timer" in tags or any(word in step for step in steps for word in _TIMER_WORDS):
        return "timer"
    if "inopportune" in tags:
        return "inopportune"
    return "invalid" if "negative" in tags else "valid"


_Scenario = tuple[str, frozenset[str], frozenset[str], list[Any], Mapping[str, Any]]
"""(feature label, the tags its Rule and itself carry, its effective tags (the feature's too),
background steps, scenario)."""


def _walk(
    label: str,
    children: Iterable[Mapping[str, Any]],
    tags: frozenset[str],
    own: frozenset[str],
    background: list[Any],
) -> Iterator[_Scenario]:
    steps = list(background)
    for child in children:
        if "background" in child:
            steps += child["background"]["steps"]
        elif "rule" in child:
            rule = child["rule"]
            yield from _walk(label, rule.get("children", ()), tags | _tags(rule), own | _tags(rule), steps)
        elif "scenario" in child:
            mine = _tags(child["scenario"])
            yield label, own | mine, tags | mine, steps, child["scenario"]


def _scenarios(features: Path) -> Iterator[_Scenario]:
    """Every scenario of the features (:data:`_Scenario`)."""
    for path in sorted(features.rglob("*.feature")):
        document = cast(dict[str, Any], Parser().parse(TokenScanner(path.read_text(encoding="utf-8"))))
        feature = document.get("feature") or {}
        label = path.relative_to(features).as_posix()
        yield from _walk(label, feature.get("children", ()), _tags(feature), frozenset(), [])


NUMBERED_STEPS: Final = {"5.2.2.5.1": 2, "5.2.2.5.2": 7, "5.2.2.5.3": 3, "5.2.2.5.4": 5}
"""The procedures of the text with numbered steps, and how many (5.2.2.5.1: its options 1 and 2)."""


def _steps_of(own_tags: frozenset[str], tags: frozenset[str]) -> tuple[tuple[str, int], ...]:
    """The numbered steps (clause, step) a scenario's ``step_N`` tags name: steps of the procedures
    the scenario (its Rule, its Examples) names itself in its ``clause_`` tags, else of its
    feature's (``tags``: every tag); a step number beyond a procedure's steps is not one of it."""

    def procedures(of: frozenset[str]) -> list[str]:
        found = (t.removeprefix("clause_").replace("_", ".") for t in of if t.startswith("clause_"))
        return sorted(c for c in found if c in NUMBERED_STEPS)

    own = procedures(own_tags) or procedures(tags)
    numbers = sorted(int(t.removeprefix("step_")) for t in tags if t.startswith("step_"))
    return tuple((c, n) for c in own for n in numbers if n <= NUMBERED_STEPS[c])


def _in_a_dialect(tags: frozenset[str]) -> bool:
    """An Examples block whose WIC speaks another client's SIP (``dialect_...``, docs/dialects.md)."""
    return any(t.startswith("dialect_") for t in tags)


def load_test_purposes(root: Path) -> list[TestPurpose]:
    """Every test purpose of the checkout at ``root``, in the order of ``features/tags.toml``."""
    features = root / "features"
    with (features / "tags.toml").open("rb") as f:
        titles: dict[str, str] = tomllib.load(f).get("test_purpose", {})
    requirements: list[Requirement] = load_requirements(features / "requirements.toml")
    items = load_pics(features / "pics.toml")
    selection = load_selection(features / "selection.toml", items)
    found: dict[str, TestPurpose] = {}
    for label, own_tags, tags, background, scenario in _scenarios(features):
        examples = scenario.get("examples") or ()
        blocks = [tags | _tags(block) for block in examples] or [tags]
        steps = list(_kinds([*background, *scenario["steps"]]))
        for tp in sorted({t for block in blocks for t in block if t.startswith("TP_")}):
            every = frozenset().union(*(block for block in blocks if tp in block))
            steps_of = _steps_of(own_tags | (every - tags), every)
            if tp in found:  # its first scenario describes it; the others add options and are listed
                if all(_in_a_dialect(block) for block in blocks if tp in block):
                    continue  # the same TP in other clients' SIP (docs/dialects.md)
                first = found[tp]
                options = tuple(t for t in _OPTION_TAGS if t in every or t in first.options)
                more = (*first.more, f"{label}: {scenario['name']}")
                numbered = tuple(sorted({*first.steps, *steps_of}))
                found[tp] = dataclasses.replace(first, options=options, more=more, steps=numbered)
                continue
            found[tp] = TestPurpose(
                id=tp,
                title=titles.get(tp, ""),
                feature=f"{label}: {scenario['name']}",
                clauses=tuple(
                    sorted(
                        t.removeprefix("clause_").replace("_", ".") for t in every if t.startswith("clause_")
                    )
                ),
                requirements=tuple(r.id for r in requirements if tp in r.covered_by),
                selection=str(selection[tp]) if tp in selection else "",
                options=tuple(t for t in _OPTION_TAGS if t in every),
                group=_group(every, [text for _, text in steps]),
                initial=tuple(text for kind, text in steps if kind == "Context"),
                when=tuple(text for kind, text in steps if kind == "Action"),
                then=tuple(text for kind, text in steps if kind == "Outcome"),
                configurations=configurations_of(selection.get(tp), items),
                steps=steps_of,
            )
    order = list(titles)
    return sorted(
        found.values(), key=lambda tp: (order.index(tp.id) if tp.id in order else len(order), tp.id)
    )


@dataclasses.dataclass(frozen=True, slots=True)
class StepCoverage:
    """One numbered step of the text and, for each behaviour group, its test purposes or why none."""

    clause: str
    step: int
    text: str
    purposes: Mapping[str, tuple[str, ...]]
    "Group -> the test purposes testing the step in that group."
    absent: Mapping[str, str]
    "Group -> why the behaviour does not exist in that group for this step (``features/steps.toml``)."
    missing: Mapping[str, str]
    "Group -> what a test purpose of that group would test: the behaviour exists, none tests it yet."

    def undeclared(self) -> list[str]:
        """The groups with no test purpose and no declaration (absent or missing)."""
        return [g for g in GROUPS if not self.purposes[g] and g not in self.absent and g not in self.missing]

    def stale(self) -> list[str]:
        """The groups declared absent or missing although a test purpose covers them."""
        return [g for g in GROUPS if self.purposes[g] and (g in self.absent or g in self.missing)]


def load_step_coverage(root: Path, purposes: Iterable[TestPurpose]) -> list[StepCoverage]:
    """The numbered steps of ``features/steps.toml``, each with the test purposes of every group
    (:attr:`TestPurpose.steps`) and its declarations.

    Raises:
        ValueError: a step that is not one of :data:`NUMBERED_STEPS`, one missing or given twice, or
            a declaration of a group that is not one of :data:`GROUPS` (one line naming it).
    """
    with (root / "features" / "steps.toml").open("rb") as f:
        entries = tomllib.load(f).get("step", [])
    by_cell: dict[tuple[str, int, str], list[str]] = {}
    for tp in purposes:
        for clause, step in tp.steps:
            by_cell.setdefault((clause, step, tp.group), []).append(tp.id)
    found: dict[tuple[str, int], StepCoverage] = {}
    for entry in entries:
        key = (str(entry.get("clause")), int(entry.get("step", 0)))
        if key[0] not in NUMBERED_STEPS or not 1 <= key[1] <= NUMBERED_STEPS[key[0]]:
            raise ValueError(
                f"features/steps.toml: {key[0]} step {key[1]} is not a numbered step of the text"
            )
        if key in found:
            raise ValueError(f"features/steps.toml: {key[0]} step {key[1]} is given twice")
        absent, missing = dict(entry.get("absent", {})), dict(entry.get("missing", {}))
        unknown = sorted((set(absent) | set(missing)) - set(GROUPS))
        if unknown:
            raise ValueError(f"features/steps.toml: {key[0]} step {key[1]}: no behaviour group {unknown}")
        purposes_of = {g: tuple(sorted(by_cell.get((*key, g), ()))) for g in GROUPS}
        found[key] = StepCoverage(*key, str(entry.get("text", "")), purposes_of, absent, missing)
    every = [(c, n) for c, count in NUMBERED_STEPS.items() for n in range(1, count + 1)]
    lacking = [f"{c} step {n}" for c, n in every if (c, n) not in found]
    if lacking:
        raise ValueError(f"features/steps.toml: no entry for {', '.join(lacking)}")
    return [found[key] for key in every]


def step_cell(step: StepCoverage, group: str) -> str:
    """The Markdown of one cell of the matrix: the test purposes, or *absent* / **missing** and why."""
    if step.purposes[group]:
        return ", ".join(tp.removeprefix("TP_WIMPU_") for tp in step.purposes[group])
    if group in step.missing:
        return f"**missing**: {step.missing[group]}"
    return f"*absent*: {step.absent.get(group, 'not declared')}"


def _coverage_lines(steps: Sequence[StepCoverage]) -> list[str]:
    """The matrix numbered step x behaviour group of ``docs/test-purposes.md``."""
    missing = sum(len(s.missing) for s in steps)
    out = [
        "",
        "## Numbered steps and behaviour groups",
        "",
        "For every numbered step of the text (5.2.2.5.1: its options), the test purposes of each behaviour"
        " group, or why there is none (`features/steps.toml`): *absent*, the behaviour does not exist in"
        f" that group for the step; **missing**, it exists and no test purpose tests it yet ({missing}"
        " cells).",
        "",
        f"| Step | {' | '.join(GROUPS)} |",
        f"|---|{'---|' * len(GROUPS)}",
    ]
    for s in steps:
        cells = [_cell(step_cell(s, g)) for g in GROUPS]
        out.append(f"| {s.clause} step {s.step}: {_cell(s.text)} | {' | '.join(cells)} |")
    return out


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_markdown(purposes: Iterable[TestPurpose], steps: Sequence[StepCoverage] = ()) -> str:
    """The table of ``docs/test-purposes.md``, with the matrix of ``steps`` (:func:`load_step_coverage`)."""
    purposes = list(purposes)
    out = [
        "# Test purposes",
        "",
        "Generated from the features by `python3 -m conformance.tp_table > docs/test-purposes.md`"
        " (`tests/test_tp_table.py` fails when this file is not current). One entry per test purpose:"
        " the requirements it covers (`features/requirements.toml`), its PICS selection expression"
        " (`features/selection.toml`), the options its Examples need, its behaviour group, its initial"
        " conditions and its expected behaviour in the form ensure that, when ..., then ....",
        "",
        "| Group | Test purposes |",
        "|---|---|",
    ]
    for group in GROUPS:
        ids = [tp.id for tp in purposes if tp.group == group]
        out.append(f"| {group} | {len(ids)}: {', '.join(ids) or '-'} |")
    if steps:
        out += _coverage_lines(steps)
    out += [
        "",
        "## Test configurations",
        "",
        "Which nodes are the system under test (its `PICS_NODE_*` answers) and what the suite plays around"
        " them (`conformance/configurations.py`). A test purpose runs in a configuration when its PICS"
        " selection expression holds there; the harness builds a configuration from a PIXIT and the SUT's"
        " PICS (`docs/pixit.md`), and the examples named here build it (a test checks their PICS).",
        "",
        "| Configuration | SUT | The suite plays | Built by (examples/pixit/) | Test purposes |",
        "|---|---|---|---|---|",
    ]
    for c in CONFIGURATIONS:
        sut = ", ".join(item.removeprefix("PICS_NODE_") for item in sorted(c.under_test))
        built = ", ".join(f"`{pixit}` + `{pics}`" for pixit, pics in c.examples) or "no example yet"
        count = sum(1 for tp in purposes if c.id in tp.configurations)
        out.append(f"| {c.id}: {c.title} | {sut} | {c.played} | {built} | {count} |")
    for tp in purposes:
        out += [
            "",
            f"## {tp.id}: {_cell(tp.title)}",
            "",
            "| | |",
            "|---|---|",
            f"| Scenario | {_cell(tp.feature)} |",
            *([f"| Other scenarios | {'<br>'.join(_cell(m) for m in tp.more)} |"] if tp.more else []),
            f"| Clauses | {', '.join(tp.clauses) or '-'} |",
            f"| Requirements | {', '.join(tp.requirements) or '-'} |",
            f"| PICS selection | `{tp.selection}` |" if tp.selection else "| PICS selection | (none) |",
            f"| Options | {', '.join('@' + o for o in tp.options) or '-'} |",
            f"| Configurations | {', '.join(tp.configurations) or '-'} |",
            f"| Group | {tp.group} |",
            f"| Initial conditions | {'<br>'.join(_cell(s) for s in tp.initial) or '-'} |",
            f"| Expected behaviour | {_cell(tp.ensure())} |",
        ]
    return "\n".join(out) + "\n"


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    if not (root / "features" / "tags.toml").is_file():
        root = Path.cwd()
    purposes = load_test_purposes(root)
    sys.stdout.write(render_markdown(purposes, load_step_coverage(root, purposes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
