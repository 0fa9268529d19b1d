"""From a clause of the text to a verdict: which reference functions implement it, which capture rules
judge it on the wire, and (through the requirements' test purposes) which scenarios check it.

The reference marks every function that carries out a step of TR 23.701 5.2.2 with
:func:`reference.spec.clause`; this module joins them to the requirements of
``features/requirements.toml`` by clause and step. The capture rules that judge a requirement are
named by the requirement itself (``judged_by``: one judge per requirement, the same live and
offline), checked here against :data:`captures.rules.RULES`. The conformance report shows the
chain clause -> function -> rule -> scenario -> verdict.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from captures.rules import RULES
from conformance.traceability import Requirement
from reference.spec import ClauseRef, implementations

__all__ = ["TEXT", "Anchor", "ClauseLinks", "anchors", "clause_links"]

TEXT = "TR 23.701"
"The document whose clauses the requirements are sentences of."

_CLAUSE = re.compile(r"(?:TR 23\.701\s+)?(5\.2\.2(?:\.\d+)*)(?:\s+steps?\s+([\d\s,\-–and]+))?")


@dataclasses.dataclass(frozen=True, slots=True)
class Anchor:
    """A place in the text: a clause and, in a numbered flow, its steps (none: the whole clause)."""

    clause: str
    steps: tuple[str, ...] = ()

    def covers(self, clause: str, step: str) -> bool:
        """Whether the requirement at ``clause`` (step ``step``, may be empty) is at this anchor: the
        same step of the same clause, or anywhere in this clause or its sub-clauses when the anchor
        names no step."""
        if not self.steps:
            return clause == self.clause or clause.startswith(self.clause + ".")
        return clause == self.clause and step in self.steps


def _steps(text: str) -> tuple[str, ...]:
    found: list[str] = []
    for part in re.split(r"\s*(?:,|and)\s*", text.strip()):
        first, _, last = part.partition("-") if "-" in part else part.partition("–")
        if first.strip().isdigit() and last.strip().isdigit():
            found += [str(n) for n in range(int(first), int(last) + 1)]
        elif part.strip().isdigit():
            found.append(part.strip())
    return tuple(found)


def anchors(text: str) -> list[Anchor]:
    """The places of TR 23.701 a rule's clause text names: ``"TR 23.701 5.2.2.5.2 steps 3-4"``,
    ``"TR 23.701 5.2.2.1 (option B); 5.2.2.5.2 step 7"``. Other documents' clauses are not anchors."""
    found = []
    for part in text.split(";"):
        part = part.strip()
        if part and not part.startswith(("TR 23.701", "5.2.2")):
            continue
        match = _CLAUSE.search(part)
        if match:
            found.append(Anchor(match.group(1), _steps(match.group(2) or "")))
    return found


def _anchor_of(ref: ClauseRef) -> Anchor | None:
    return Anchor(ref.clause, ref.steps) if ref.document == TEXT else None


@dataclasses.dataclass(frozen=True, slots=True)
class ClauseLinks:
    """What implements and what judges one requirement."""

    functions: tuple[str, ...]
    "``module:qualname`` of the reference functions marked with the requirement's clause and step."
    rules: tuple[str, ...]
    "Ids of the capture rules that judge it on the wire (the requirement's ``judged_by``)."


def clause_links(
    requirements: Iterable[Requirement],
    references: Iterable[ClauseRef] | None = None,
    rules: Iterable[str] | None = None,
) -> dict[str, ClauseLinks]:
    """Requirement id -> its :class:`ClauseLinks`. ``references`` defaults to every ``@clause`` of the
    reference (:func:`reference.spec.implementations`), ``rules`` (the ids that exist) to every
    capture rule.

    Raises:
        ValueError: a requirement is judged by a rule that does not exist.
    """
    refs = [(r, a) for r in (implementations() if references is None else references) if (a := _anchor_of(r))]
    known = set(RULES if rules is None else rules)
    links = {}
    for req in requirements:
        unknown = sorted(set(req.judged_by) - known)
        if unknown:
            raise ValueError(f"{req.id}: judged_by names no capture rule: {', '.join(unknown)}")
        functions = sorted({r.qualname for r, a in refs if a.covers(req.clause, req.step)})
        links[req.id] = ClauseLinks(tuple(functions), tuple(req.judged_by))
    return links
