"""The PICS proforma: ``features/pics.toml`` as the document a vendor fills in (ISO/IEC 9646-7 style).

The layout is the one of an ISO/IEC 9646-7 PICS proforma as ETSI writes them (the PICS annex of a
conformance test specification): the identification of the implementation and of the text, the
instructions for completing it, the status notation with its numbered rules, then one table per role or
capability with, for each item, its question, the clause of TR 23.701 5.2.2 that raises it, its status,
the allowed answers and the answer (here the bundled reference implementation's). It ends with the
applicability of every test purpose: its PICS selection expression (``features/selection.toml``, the
ETSI practice of test-purpose selection) evaluated on the answers (:mod:`conformance.pics_selection`).

``docs/pics-proforma.md`` is this module's output (``python3 -m conformance.pics_proforma >
docs/pics-proforma.md``; ``tests/test_pics_proforma.py`` keeps it current); the conformance report fills
the same tables in with the answers of the SUT's PICS (its section 9).

Loading is the consistency check of the proforma, made by the suite's own loaders
(:func:`conformance.traceability.load_pics` and :func:`~conformance.traceability.load_selection`): a
status naming a rule missing from ``[status]``, an answer not among the item's ``answers`` and a
selection expression naming an unknown item are each one ``ValueError`` naming the file and the item.
"""

from __future__ import annotations

import dataclasses
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

from conformance.pics_selection import Selection
from conformance.traceability import PicsItem, load_pics, load_selection

__all__ = [
    "GROUP_TITLES",
    "STATUS_NOTATION",
    "Applicability",
    "Group",
    "Proforma",
    "group_of",
    "load_proforma",
    "main",
    "render_markdown",
]

GROUP_TITLES: Mapping[str, str] = {
    "NODE": "Roles: the nodes the SUT provides",
    "OPT": "Identity allocation options",
    "BLK": "Block registration options",
    "EPCSCF": "Structure of the eP-CSCF (IWF and P-CSCF, 5.2.2.2)",
    "TOKEN": "Carriage of the WWSF token in the REGISTER",
    "FORKING": "Terminating sessions: forking",
    "NON": "Requests outside any session (MESSAGE)",
    "W6": "Observability of the wIMPU Registrar over W6",
    "PROFILE": "Choices of the solution profile (docs/solution-profile.md)",
}
"""A readable title for each item group, the ``<GROUP>`` of ``PICS_<GROUP>_<NAME>``; the ISO/IEC 9646-7
proforma has one table per role (NODE) and per group of capabilities (the others)."""

STATUS_NOTATION: tuple[tuple[str, str], ...] = (
    ("m", "mandatory: the SUT shall support it"),
    ("o", "optional: the SUT may support it or not"),
    ("o.<n>", "qualified optional: optional, under the group rule `o.<n>` of `[status]` (below)"),
    (
        "c.<n>",
        "conditional: its status (m, o, x or n/a) depends on other answers, by rule `c.<n>` of `[status]`",
    ),
    ("x", "excluded: the SUT shall not support it"),
    ("n/a", "not applicable: the question does not arise for this SUT"),
)
"The status symbols of ISO/IEC 9646-7 PICS proformas, as ETSI uses them; ``[status]`` numbers the rules."


@dataclasses.dataclass(frozen=True, slots=True)
class Group:
    """One table of the proforma: the items of one ``<GROUP>``, in the order of the PICS file."""

    key: str
    title: str
    items: tuple[PicsItem, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Applicability:
    """One test purpose, its PICS selection expression and whether it holds for some answers."""

    tp: str
    selection: Selection
    applies: bool
    read: str
    "The items the expression reads and their answers: ``PICS_NODE_EPCSCF = yes, ...``."


@dataclasses.dataclass(frozen=True, slots=True)
class Proforma:
    """The suite's PICS: identification, status rules, items and the selection of every test purpose."""

    sut: str
    "``[pics] sut``: the implementation the answers are of (the reference's in ``features/pics.toml``)."
    text: str
    "``[pics] text``: the text the PICS is about."
    rules: Mapping[str, str]
    "``[status]``: rule (``o.1``, ``c.1``) -> its meaning."
    items: tuple[PicsItem, ...]
    selection: Mapping[str, Selection]
    "Test purpose -> its PICS selection expression, in the order of ``selection.toml``."

    @property
    def answers(self) -> dict[str, str]:
        """Item -> the answer of the PICS file itself (``features/pics.toml``: the reference's)."""
        return {item.id: item.answer for item in self.items}

    def groups(self) -> list[Group]:
        """The items grouped by ``<GROUP>``, groups in the order their first item comes."""
        found: dict[str, list[PicsItem]] = {}
        for item in self.items:
            found.setdefault(group_of(item.id), []).append(item)
        return [
            Group(key, GROUP_TITLES.get(key, f"{key} items"), tuple(items)) for key, items in found.items()
        ]

    def rule_items(self, rule: str) -> tuple[str, ...]:
        """The items whose status is ``rule``."""
        return tuple(item.id for item in self.items if item.status == rule)

    def applicability(self, answers: Mapping[str, str] | None = None) -> list[Applicability]:
        """Each test purpose and whether it applies to ``answers`` (default: the file's own)."""
        answers = self.answers if answers is None else answers
        return [
            Applicability(
                tp,
                expression,
                expression.holds(answers),
                ", ".join(f"{i} = {answers.get(i, 'unanswered')}" for i in expression.items),
            )
            for tp, expression in self.selection.items()
        ]


def group_of(item_id: str) -> str:
    """``NODE`` of ``PICS_NODE_EPCSCF``, ``FORKING`` of ``PICS_FORKING``."""
    return item_id.split("_")[1]


def load_proforma(pics: str | Path, selection: str | Path) -> Proforma:
    """Read ``pics.toml`` and ``selection.toml`` and check that they agree.

    Raises:
        ValueError: one line naming the file and the item (or test purpose): a status whose rule is
            missing from ``[status]``, an answer not among ``answers``, an expression naming an unknown
            item, or any other problem the suite's loaders refuse.
    """
    items = load_pics(pics)
    with Path(pics).open("rb") as f:
        data = tomllib.load(f)
    header = data.get("pics", {})
    if not isinstance(header, dict):
        raise ValueError(f"{pics}: [pics] must be a table")
    rules = data.get("status", {})  # a table: load_pics checked it
    return Proforma(
        sut=str(header.get("sut", "")),
        text=str(header.get("text", "3GPP TR 23.701 clause 5.2.2")),
        rules={str(k): str(v) for k, v in rules.items()},
        items=tuple(items),
        selection=load_selection(selection, items),
    )


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _table(head: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    head = list(head)
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return out + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


def _identification(proforma: Proforma) -> list[str]:
    """ISO/IEC 9646-7: identification of the implementation and of the protocol (here: the text)."""
    return [
        "## 1 Identification",
        "",
        *_table(
            ["", ""],
            [
                ["Implementation (`[pics] sut`)", proforma.sut or "-"],
                ["Text (`[pics] text`)", proforma.text],
                ["Answers shown", "the bundled reference implementation's (`features/pics.toml`)"],
            ],
        ),
        "",
    ]


_INSTRUCTIONS = """\
## 2 Instructions for completing the PICS

The PICS is a TOML file of the shape of `features/pics.toml`; this document is that file as a table.

1. Copy `features/pics.toml`. Set `[pics] sut` to name your implementation (product, version), and in
   each `[[item]]` set `answer` to one of its `answers`. Leave `id`, `clause`, `question`, `status`,
   `answers` and `gates` as they are: only your answers are read; the items, their gates and the
   selection expressions are the suite's (`conftest.py`). An item your file leaves out counts as
   unanswered, which is not `yes`.
2. Answer within the status of each item (section 3): an `m` item `yes`, at least one item of each
   `o.<n>` group `yes` where its rule applies, a `c.<n>` item as its rule says.
3. Give the file to the run: `wimpu-conformance run --sut my-sut.toml --pics my-pics.toml`, or
   `python3 -m pytest steps --pics my-pics.toml`; or name it in your PIXIT as `pics = "my-pics.toml"`
   in `[sut]` (relative to the PIXIT's directory), which is used when `--pics` is not given. With
   neither, the run uses `features/pics.toml`, the reference's answers. The run records the file in
   `reports/run.json`; `wimpu-conformance-report --pics my-pics.toml` rebuilds the report with it.
4. The suite reads the file when the run starts: an answer not among the item's `answers`, or a
   status whose rule is not in `[status]`, is an error naming the file and the item.

`docs/pixit.md` ("Writing a PICS") has more, and `examples/pixit/vendor-pics.toml` is the PICS of an
eP-CSCF-only SUT.
"""


def _notation(proforma: Proforma) -> list[str]:
    """ISO/IEC 9646-7 status symbols, then the numbered rules of ``[status]`` with their items."""
    rules = [
        [f"`{rule}`", text, ", ".join(proforma.rule_items(rule)) or "-"]
        for rule, text in proforma.rules.items()
    ]
    return [
        "## 3 Status notation",
        "",
        *_table(["Status", "Meaning"], [[f"`{symbol}`", meaning] for symbol, meaning in STATUS_NOTATION]),
        "",
        "The rules of `[status]`:",
        "",
        *_table(["Rule", "Meaning", "Items"], rules),
        "",
    ]


def _gates(item: PicsItem) -> str:
    return " ".join(f"`@{gate}`" for gate in item.gates) or "-"


def _items(proforma: Proforma) -> list[str]:
    """One table per group (ISO/IEC 9646-7: roles, then capabilities), items in the file's order."""
    out = [
        "## 4 Roles and capabilities",
        "",
        "Gates: the option tags an item controls; an Examples row (or scenario) carrying one applies only"
        " when the item is answered `yes`.",
        "",
    ]
    head = ["Item", "Question", "Clause", "Status", "Allowed answers", "Reference's answer", "Gates"]
    for number, group in enumerate(proforma.groups(), 1):
        rows = [
            [
                f"`{i.id}`",
                i.question,
                i.clause,
                f"`{i.status}`",
                " / ".join(i.answers),
                f"**{i.answer}**",
                _gates(i),
            ]
            for i in group.items
        ]
        out += [f"### 4.{number} {group.title}", "", *_table(head, rows), ""]
    return out


def _applicability(proforma: Proforma) -> list[str]:
    """ETSI test-purpose selection: each TP's PICS selection expression, evaluated on the answers."""
    rows = [
        [a.tp, f"`{a.selection}`", a.read, "yes" if a.applies else "**no**"] for a in proforma.applicability()
    ]
    return [
        "## 5 Applicability of the test purposes",
        "",
        "A test purpose applies to a SUT when its PICS selection expression (`features/selection.toml`)"
        " holds for the SUT's answers, an item being true when answered `yes`; otherwise every scenario"
        " carrying it is NOT APPLICABLE, with the expression and the answers in the reason. Here with the"
        " reference's answers.",
        "",
        *_table(["Test purpose", "PICS selection", "Answers read", "Applies to the reference"], rows),
        "",
    ]


def render_markdown(proforma: Proforma) -> str:
    """The whole of ``docs/pics-proforma.md``."""
    out = [
        "# PICS proforma: WebRTC access to IMS with wIMPU (3GPP TR 23.701 clause 5.2.2)",
        "",
        "Generated from `features/pics.toml` and `features/selection.toml` by"
        " `python3 -m conformance.pics_proforma > docs/pics-proforma.md` (`tests/test_pics_proforma.py`"
        " fails when this file is not current). Laid out as an ISO/IEC 9646-7 PICS proforma, as ETSI"
        " writes them: identification, instructions, status notation, one table per role or capability,"
        " and the applicability of the test purposes.",
        "",
        *_identification(proforma),
        _INSTRUCTIONS,
        *_notation(proforma),
        *_items(proforma),
        *_applicability(proforma),
    ]
    return "\n".join(out).rstrip("\n") + "\n"


def main() -> int:
    """Print the proforma of the checkout's ``features/`` (``> docs/pics-proforma.md``)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "features" / "pics.toml").is_file():
        root = Path.cwd()
    features = root / "features"
    try:
        proforma = load_proforma(features / "pics.toml", features / "selection.toml")
    except (OSError, ValueError) as exc:
        print(f"conformance.pics_proforma: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(render_markdown(proforma))
    return 0


if __name__ == "__main__":
    sys.exit(main())
