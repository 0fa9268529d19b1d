"""PICS selection expressions: when a test purpose applies to a system under test (ETSI practice).

Each test purpose names, in ``features/selection.toml``, a boolean expression over the PICS items
(``features/pics.toml``): ``PICS_NODE_EPCSCF``, ``PICS_NODE_ICSCF OR PICS_NODE_EPCSCF``,
``PICS_NODE_EPCSCF AND (PICS_W6_READ OR NOT PICS_NODE_REGISTRAR)``. An item is true when the SUT
answers it ``yes``. The test purpose applies when its expression holds; otherwise every scenario
carrying it is reported NOT APPLICABLE with the expression and the answers that made it false.

The grammar (``NOT`` binds tightest, then ``AND``, then ``OR``; parentheses group)::

    expression := term ("OR" term)*
    term       := factor ("AND" factor)*
    factor     := "NOT" factor | "(" expression ")" | PICS_ID

A small recursive-descent parser written here, because the expressions are data a vendor reads
and the suite must never ``eval`` them; no library offers ETSI's notation.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

__all__ = ["Selection", "SelectionError"]

_TOKEN = re.compile(r"\s*(?:(\()|(\))|\b(AND|OR|NOT)\b|([A-Z][A-Z0-9_]*))")
YES = "yes"


class SelectionError(ValueError):
    """An expression that does not parse, or names an item the PICS does not have."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Item:
    id: str

    def holds(self, answers: Mapping[str, str]) -> bool:
        return answers.get(self.id) == YES

    def text(self, top: bool = True) -> str:
        return self.id


@dataclasses.dataclass(frozen=True, slots=True)
class _Not:
    operand: _Node

    def holds(self, answers: Mapping[str, str]) -> bool:
        return not self.operand.holds(answers)

    def text(self, top: bool = True) -> str:
        return f"NOT {self.operand.text(False)}"


@dataclasses.dataclass(frozen=True, slots=True)
class _Op:
    op: str
    operands: tuple[_Node, ...]

    def holds(self, answers: Mapping[str, str]) -> bool:
        values = (o.holds(answers) for o in self.operands)
        return all(values) if self.op == "AND" else any(values)

    def text(self, top: bool = True) -> str:
        inner = f" {self.op} ".join(o.text(False) for o in self.operands)
        return inner if top else f"({inner})"


_Node = _Item | _Not | _Op


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[str] = []
        position = 0
        while position < len(text.rstrip()):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise SelectionError(f"{text!r}: unexpected {text[position:].strip()[:20]!r}")
            self.tokens.append(next(g for g in match.groups() if g is not None))
            position = match.end()
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise SelectionError(f"{self.text!r}: ends too early")
        self.at += 1
        return token

    def expression(self) -> _Node:
        terms = [self.term()]
        while self.peek() == "OR":
            self.take()
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else _Op("OR", tuple(terms))

    def term(self) -> _Node:
        factors = [self.factor()]
        while self.peek() == "AND":
            self.take()
            factors.append(self.factor())
        return factors[0] if len(factors) == 1 else _Op("AND", tuple(factors))

    def factor(self) -> _Node:
        token = self.take()
        if token == "NOT":
            return _Not(self.factor())
        if token == "(":
            inner = self.expression()
            if self.take() != ")":
                raise SelectionError(f"{self.text!r}: ')' expected")
            return inner
        if token in (")", "AND", "OR"):
            raise SelectionError(f"{self.text!r}: {token!r} where a PICS item was expected")
        return _Item(token)


def _items(node: _Node) -> list[str]:
    if isinstance(node, _Item):
        return [node.id]
    if isinstance(node, _Not):
        return _items(node.operand)
    return [i for o in node.operands for i in _items(o)]


@dataclasses.dataclass(frozen=True, slots=True)
class Selection:
    """A parsed PICS selection expression."""

    root: _Node

    @classmethod
    def parse(cls, text: str, known: frozenset[str] | set[str] | None = None) -> Selection:
        """Parse ``text``; with ``known``, every item must be one of those ids.

        Raises:
            SelectionError: naming the expression and what is wrong.
        """
        parser = _Parser(text)
        if not parser.tokens:
            raise SelectionError("empty PICS selection expression")
        root = parser.expression()
        if parser.peek() is not None:
            raise SelectionError(f"{text!r}: unexpected {parser.peek()!r}")
        selection = cls(root)
        unknown = sorted(set(selection.items) - set(known)) if known is not None else []
        if unknown:
            raise SelectionError(f"{text!r}: no PICS item {', '.join(unknown)}")
        return selection

    @property
    def items(self) -> tuple[str, ...]:
        """The PICS items the expression names, in order, once each."""
        return tuple(dict.fromkeys(_items(self.root)))

    def holds(self, answers: Mapping[str, str]) -> bool:
        """Whether the test purpose applies to a SUT with these answers (item id -> answer)."""
        return self.root.holds(answers)

    def explain(self, answers: Mapping[str, str]) -> str:
        """``<expression> (PICS_X = no, PICS_Y = yes)``: the expression and the answers it read."""
        read = ", ".join(f"{i} = {answers.get(i, 'unanswered')}" for i in self.items)
        return f"{self} ({read})"

    def __str__(self) -> str:
        return self.root.text()
