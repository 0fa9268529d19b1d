"""Traceability of the suite to TR 23.701 clause 5.2.2: requirements, PICS and test purposes.

* ``features/requirements.toml`` lists every normative statement of the seed
  (``docs/source/tr23701-5.2.2.txt``) with a stable id and the test purposes that cover it;
* ``features/pics.toml`` is the PICS: the options a system under test may or may not provide,
  and the scenario tags (options) each one gates;
* ``features/selection.toml`` gives each test purpose its PICS selection expression
  (:mod:`conformance.pics_selection`): the TP applies when it holds;
* the ``TP_...`` tags of the ``.feature`` files name the test purposes.

Pure Python (no pytest-bdd): ``tests/test_traceability.py`` and report generators use it.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

from gherkin.errors import ParserError
from gherkin.parser import Parser
from gherkin.token_scanner import TokenScanner

from conformance.layered import load_layered
from conformance.pics_selection import Selection, SelectionError

__all__ = [
    "AREA_CLAUSES",
    "KINDS",
    "NODES",
    "SEED_CLAUSES",
    "STEP_COUNTS",
    "PicsItem",
    "Requirement",
    "check_traceability",
    "feature_tags",
    "load_pics",
    "load_selection",
    "load_requirements",
    "normalise",
    "scenario_test_purposes",
    "uncovered_requirements",
]

SEED_CLAUSES = frozenset(
    {
        "5.2.2",
        "5.2.2.1",
        "5.2.2.2",
        "5.2.2.3",  # twice in the seed: "Functional entities" and "Solution Impacts"
        "5.2.2.3.1",
        "5.2.2.3.2",
        "5.2.2.3.3",
        "5.2.2.4",
        "5.2.2.4.1",
        "5.2.2.4.2",
        "5.2.2.5",
        "5.2.2.5.1",
        "5.2.2.5.2",
        "5.2.2.5.3",
        "5.2.2.5.4",
    }
)
"""The clause numbers that occur in the seed."""

AREA_CLAUSES: Mapping[str, frozenset[str]] = {
    "PRIN": frozenset({"5.2.2.1"}),
    "ARCH": frozenset({"5.2.2.2", "5.2.2.4.1", "5.2.2.4.2"}),
    "REG": frozenset({"5.2.2.5.2", "5.2.2.3.1"}),
    "EPC": frozenset({"5.2.2.3.2"}),
    "ICSCF": frozenset({"5.2.2.3.3"}),
    "IMP": frozenset({"5.2.2.3"}),
    "BLK": frozenset({"5.2.2.5.1"}),
    "ORIG": frozenset({"5.2.2.5.3"}),
    "TERM": frozenset({"5.2.2.5.4"}),
}
"""Area of a requirement id -> the clauses its requirements may come from."""

STEP_COUNTS: Mapping[str, int] = {"5.2.2.5.1": 2, "5.2.2.5.2": 7, "5.2.2.5.3": 3, "5.2.2.5.4": 5}
"""Clauses with numbered steps (options 1) and 2) in 5.2.2.5.1) -> number of steps."""

KINDS = frozenset({"shall", "step", "option", "statement"})
NODES = frozenset({"wic", "wwsf", "ep_cscf", "wimpu_registrar", "i_cscf", "s_cscf", "hss"})

_REQ_ID = re.compile(r"REQ-(?P<area>[A-Z]+)-\d{2}")
_TP_ID = re.compile(r"TP_[A-Z0-9]+(?:_[A-Z0-9]+)*")
_PICS_ID = re.compile(r"PICS_[A-Z0-9]+(?:_[A-Z0-9]+)*")
_PICS_STATUS = re.compile(r"m|o|x|n/a|[oc]\.\d+")
_STEP = re.compile(r"[1-9]\d*")

_T = TypeVar("_T")


@dataclass(frozen=True)
class Requirement:
    """One normative statement of the seed."""

    id: str
    clause: str
    step: str
    text: str
    kind: str
    nodes: tuple[str, ...]
    testable: bool
    covered_by: tuple[str, ...]
    rationale: str = ""
    partial: bool = False
    note: str = ""
    judged_by: tuple[str, ...] = ()
    "The capture rules (captures/rules/) that judge it on the wire, live and offline alike."
    wire: str = ""
    """Why a testable requirement has no rule: ``not on the wire: ...`` or ``no rule yet: ...``."""

    @property
    def rule_gap(self) -> bool:
        """On the wire, but judged by no capture rule yet (only by scenario steps)."""
        return self.wire.startswith(NO_RULE_YET)


@dataclass(frozen=True)
class PicsItem:
    """One PICS item: a question about the SUT, its answer, and the scenario tags it gates."""

    id: str
    clause: str
    question: str
    status: str
    answers: tuple[str, ...]
    answer: str
    gates: tuple[str, ...]
    note: str = ""


def normalise(text: str) -> str:
    """Collapse every run of whitespace to one space (the comparison used against the seed)."""
    return " ".join(text.split())


class _Table:
    """Typed access to one TOML table, with errors that name the file and the entry."""

    def __init__(self, path: Path, what: str, table: Any, allowed: Iterable[str]) -> None:
        self.path = path
        self.what = what
        if not isinstance(table, dict):
            self.fail("is not a table")
        self.table: dict[str, Any] = table
        unknown = sorted(set(table) - set(allowed))
        if unknown:
            self.fail(f"unknown key(s) {', '.join(unknown)}")

    def fail(self, problem: str) -> NoReturn:
        raise ValueError(f"{self.path}: {self.what}: {problem}")

    def get(self, key: str, kind: type[_T], default: _T | None = None) -> _T:
        if key not in self.table:
            if default is None:
                self.fail(f"missing key {key!r}")
            return default
        value = self.table[key]
        if not isinstance(value, kind):
            self.fail(f"{key!r} must be a {kind.__name__}, not {type(value).__name__}")
        return value

    def strings(self, key: str, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        value = self.get(key, list, list(default) if default is not None else None)
        if not all(isinstance(v, str) for v in value):
            self.fail(f"{key!r} must be a list of strings")
        if len(set(value)) != len(value):
            self.fail(f"{key!r} lists a value twice")
        return tuple(value)


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from exc


_REQUIREMENT_KEYS = (
    "id", "clause", "step", "text", "kind", "nodes", "testable", "covered_by", "rationale", "partial", "note",
    "judged_by", "wire",
)  # fmt: skip
NOT_ON_THE_WIRE, NO_RULE_YET = "not on the wire: ", "no rule yet: "
"The two ways a testable requirement's ``wire`` says why no capture rule judges it."
_RULE_ID = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")


def load_requirements(path: str | Path) -> list[Requirement]:
    """Read and validate ``requirements.toml``.

    Raises:
        ValueError: naming the file and the requirement, on any problem.
    """
    path = Path(path)
    data = _load_toml(path)
    if set(data) != {"requirement"} or not isinstance(data["requirement"], list):
        raise ValueError(f"{path}: expected only [[requirement]] tables, found {sorted(data)}")
    result: list[Requirement] = []
    seen: set[str] = set()
    for number, raw in enumerate(data["requirement"], 1):
        rid = raw.get("id") if isinstance(raw, dict) else None
        table = _Table(
            path, rid if isinstance(rid, str) else f"requirement #{number}", raw, _REQUIREMENT_KEYS
        )
        req = Requirement(
            id=table.get("id", str),
            clause=table.get("clause", str),
            step=table.get("step", str),
            text=table.get("text", str),
            kind=table.get("kind", str),
            nodes=table.strings("nodes"),
            testable=table.get("testable", bool),
            covered_by=table.strings("covered_by", ()),
            rationale=table.get("rationale", str, ""),
            partial=table.get("partial", bool, False),
            note=table.get("note", str, ""),
            judged_by=table.strings("judged_by", ()),
            wire=table.get("wire", str, ""),
        )
        _check_requirement(table, req, seen)
        seen.add(req.id)
        result.append(req)
    return result


def _check_requirement(table: _Table, req: Requirement, seen: set[str]) -> None:
    match = _REQ_ID.fullmatch(req.id)
    if match is None:
        table.fail("id must look like REQ-<AREA>-<nn>")
    area = match.group("area")
    if area not in AREA_CLAUSES:
        table.fail(f"unknown area {area!r} (known: {', '.join(AREA_CLAUSES)})")
    if req.id in seen:
        table.fail("duplicate id")
    if req.clause not in SEED_CLAUSES:
        table.fail(f"clause {req.clause!r} is not a clause of the seed")
    if req.clause not in AREA_CLAUSES[area]:
        table.fail(f"clause {req.clause} does not belong to area {area}")
    if req.step:
        if req.clause not in STEP_COUNTS:
            table.fail(f"clause {req.clause} has no numbered steps, but step = {req.step!r}")
        if not _STEP.fullmatch(req.step) or int(req.step) > STEP_COUNTS[req.clause]:
            table.fail(f"clause {req.clause} has no step {req.step!r}")
    if req.kind not in KINDS:
        table.fail(f"kind {req.kind!r} is not one of {', '.join(sorted(KINDS))}")
    if req.kind == "step" and not req.step:
        table.fail('kind = "step" needs the step number')
    if not req.text.strip():
        table.fail("empty text")
    if not req.nodes:
        table.fail("no nodes")
    unknown = sorted(set(req.nodes) - NODES)
    if unknown:
        table.fail(f"unknown node(s) {', '.join(unknown)}")
    if not req.testable and not req.rationale.strip():
        table.fail("testable = false needs a rationale")
    bad = [tp for tp in req.covered_by if not _TP_ID.fullmatch(tp)]
    if bad:
        table.fail(f"covered_by entries are not test-purpose ids: {', '.join(bad)}")
    if req.partial and not (req.covered_by and req.note.strip()):
        table.fail("partial = true needs covered_by and a note saying which part is not covered")
    bad = [r for r in req.judged_by if not _RULE_ID.fullmatch(r)]
    if bad:
        table.fail(f"judged_by entries are not capture-rule ids: {', '.join(bad)}")
    if req.judged_by and req.wire:
        table.fail("judged_by and wire exclude each other: wire says why no rule judges it")
    if req.testable and not req.judged_by and not req.wire.startswith((NOT_ON_THE_WIRE, NO_RULE_YET)):
        table.fail(
            f"a testable requirement needs judged_by (its capture rules) or wire = "
            f'"{NOT_ON_THE_WIRE}..." or "{NO_RULE_YET}..."'
        )


_PICS_KEYS = ("id", "clause", "question", "status", "answers", "answer", "gates", "note")


def load_pics(path: str | Path) -> list[PicsItem]:
    """Read and validate ``pics.toml``, or a SUT's PICS (which may lay its answers over a ``base``
    PICS: :mod:`conformance.layered`).

    Raises:
        ValueError: naming the file and the item, on any problem.
    """
    path = Path(path)
    data = load_layered(path)  # a SUT's PICS may name a base (conformance/layered.py)
    unknown = sorted(set(data) - {"pics", "status", "item"})
    if unknown or not isinstance(data.get("item"), list):
        raise ValueError(f"{path}: expected [pics], [status] and [[item]] tables, found {sorted(data)}")
    statuses = data.get("status", {})
    if not isinstance(statuses, dict):
        raise ValueError(f"{path}: [status] must be a table")
    items: list[PicsItem] = []
    seen: set[str] = set()
    for number, raw in enumerate(data["item"], 1):
        pid = raw.get("id") if isinstance(raw, dict) else None
        table = _Table(path, pid if isinstance(pid, str) else f"item #{number}", raw, _PICS_KEYS)
        item = PicsItem(
            id=table.get("id", str),
            clause=table.get("clause", str),
            question=table.get("question", str),
            status=table.get("status", str),
            answers=table.strings("answers"),
            answer=table.get("answer", str),
            gates=table.strings("gates", ()),
            note=table.get("note", str, ""),
        )
        if not _PICS_ID.fullmatch(item.id):
            table.fail("id must look like PICS_<GROUP>_<NAME>")
        if item.id in seen:
            table.fail("duplicate id")
        if item.clause not in SEED_CLAUSES:
            table.fail(f"clause {item.clause!r} is not a clause of the seed")
        if not item.question.strip():
            table.fail("empty question")
        if not _PICS_STATUS.fullmatch(item.status):
            table.fail(f"status {item.status!r} is not m, o, x, n/a, o.<n> or c.<n>")
        if "." in item.status and item.status not in statuses:
            table.fail(f"status {item.status} has no rule in [status]")
        if not item.answers:
            table.fail("no allowed answers")
        if item.answer not in item.answers:
            table.fail(f"answer {item.answer!r} is not one of {', '.join(item.answers)}")
        bad = [tag for tag in item.gates if not tag.isidentifier()]
        if bad:
            table.fail(f"gates are not tag names (Python identifiers): {', '.join(bad)}")
        seen.add(item.id)
        items.append(item)
    return items


def pics_answers(path: str | Path) -> dict[str, str]:
    """Item id -> answer of the PICS file ``path`` (:func:`load_pics`).

    Raises:
        ValueError: the file cannot be read or is not a valid PICS (one line naming it).
    """
    try:
        return {item.id: item.answer for item in load_pics(path)}
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the PICS: {exc.strerror or exc}") from None


def load_selection(path: str | Path, pics: Iterable[PicsItem]) -> dict[str, Selection]:
    """Read ``selection.toml``: test purpose -> its PICS selection expression over ``pics``.

    Raises:
        ValueError: naming the file and the test purpose, on any problem (a malformed expression, an
            item the PICS does not have, a key that is not a test-purpose id).
    """
    path = Path(path)
    data = _load_toml(path)
    table = data.get("selection")
    if set(data) != {"selection"} or not isinstance(table, dict):
        raise ValueError(f"{path}: expected one [selection] table, found {sorted(data)}")
    known = {item.id for item in pics}
    found: dict[str, Selection] = {}
    for tp, text in table.items():
        if not _TP_ID.fullmatch(tp):
            raise ValueError(f"{path}: {tp}: not a test-purpose id (TP_...)")
        if not isinstance(text, str):
            raise ValueError(f"{path}: {tp}: the expression must be a string")
        try:
            found[tp] = Selection.parse(text, known)
        except SelectionError as exc:
            raise ValueError(f"{path}: {tp}: {exc}") from None
    return found


def _tags(node: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(tag["name"].removeprefix("@") for tag in node.get("tags", ()))


@dataclasses.dataclass(frozen=True, slots=True)
class ScenarioVariant:
    """A scenario, or one Examples block of a Scenario Outline, with its effective tags."""

    name: str
    tags: frozenset[str]
    tests: int
    "How many tests pytest-bdd makes of it (one per Examples row)."

    def __iter__(self) -> Iterator[Any]:  # unpacks as (name, tags)
        return iter((self.name, self.tags))


_Scenario = ScenarioVariant


def _walk(
    children: Iterable[Mapping[str, Any]], inherited: frozenset[str], label: str
) -> Iterator[_Scenario]:
    for child in children:
        if "rule" in child:
            rule = child["rule"]
            yield from _walk(rule.get("children", ()), inherited | _tags(rule), label)
        elif "scenario" in child:
            scenario = child["scenario"]
            tags = inherited | _tags(scenario)
            name = f"{label}: {scenario['name']}"
            examples = scenario.get("examples") or ()
            if not examples:
                yield ScenarioVariant(name, tags, 1)
            for number, block in enumerate(examples, 1):
                own = _tags(block)
                title = (
                    block.get("name") or " ".join(f"@{tag}" for tag in sorted(own)) or f"examples {number}"
                )
                yield ScenarioVariant(f"{name} [{title}]", tags | own, len(block.get("tableBody", ())))


def scenario_variants(features_dir: str | Path) -> list[ScenarioVariant]:
    """Every scenario variant of ``features_dir`` (public form of :func:`_scenarios`)."""
    return list(_scenarios(features_dir))


def _scenarios(features_dir: str | Path) -> Iterator[_Scenario]:
    """Every scenario (every Examples block of an outline) with its effective tags.

    Tags are inherited from the Feature and Rule levels; an Examples block adds its own tags.
    """
    root = Path(features_dir)
    for path in sorted(root.rglob("*.feature")):
        try:
            document = cast(dict[str, Any], Parser().parse(TokenScanner(path.read_text(encoding="utf-8"))))
        except ParserError as exc:
            raise ValueError(f"{path}: not valid Gherkin: {exc}") from exc
        feature = document.get("feature")
        if feature:
            label = path.relative_to(root).as_posix()
            yield from _walk(feature.get("children", ()), _tags(feature), label)


def scenario_test_purposes(features_dir: str | Path) -> dict[str, list[str]]:
    """Each ``TP_...`` tag -> the scenarios (``file: name [examples]``) that carry it."""
    result: dict[str, list[str]] = {}
    for name, tags in _scenarios(features_dir):
        for tag in sorted(tags):
            if tag.startswith("TP_"):
                result.setdefault(tag, []).append(name)
    return result


def feature_tags(features_dir: str | Path) -> set[str]:
    """Every tag some scenario of ``features_dir`` carries (directly or inherited)."""
    used: set[str] = set()
    for _name, tags in _scenarios(features_dir):
        used |= tags
    return used


def check_traceability(requirements: Iterable[Requirement], tps: Mapping[str, list[str]]) -> list[str]:
    """Dangling references between requirements and scenarios.

    Reports a ``covered_by`` entry that no scenario carries, and a scenario TP tag that no requirement
    lists. Testable requirements without coverage are not problems here: see
    :func:`uncovered_requirements`.
    """
    problems: list[str] = []
    listed: set[str] = set()
    for req in requirements:
        for tp in req.covered_by:
            listed.add(tp)
            if not tps.get(tp):
                problems.append(f"{req.id}: covered_by names {tp}, which no scenario under features/ carries")
    for tp in sorted(tps):
        if tps[tp] and tp not in listed:
            problems.append(
                f"{tp} (scenarios: {'; '.join(tps[tp])}) is listed in the covered_by of no requirement"
            )
    return problems


def uncovered_requirements(
    requirements: Iterable[Requirement], tps: Mapping[str, list[str]]
) -> frozenset[str]:
    """Ids of the testable requirements that no existing scenario fully covers.

    A requirement is uncovered when none of its ``covered_by`` test purposes is carried by a scenario,
    or when its coverage is marked ``partial``.
    """
    return frozenset(
        req.id
        for req in requirements
        if req.testable and (req.partial or not any(tps.get(tp) for tp in req.covered_by))
    )
