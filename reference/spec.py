"""Registry of the clauses and steps of the source text that functions implement.

Every function of the reference implementation that carries out a step of
TR 23.701 clause 5.2.2 (or a requirement of an RFC it relies on) is decorated with
:func:`clause`. The decorator only records the reference; it never wraps or changes
the function, so generators, coroutines and methods behave exactly as written.
:func:`implementations` imports the whole package and returns the registry;
``conformance.clause_chain`` joins it to the requirements and the capture rules, and the
conformance report shows the chain clause -> function -> rule -> scenario -> verdict.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable
from typing import TypeVar

__all__ = ["ClauseRef", "REGISTRY", "clause", "implementations", "references_of"]

F = TypeVar("F", bound=Callable[..., object])


@dataclasses.dataclass(frozen=True, slots=True)
class ClauseRef:
    """One reference from a function to the text it implements."""

    document: str
    "The document, for example ``TR 23.701`` or ``RFC 3261``."
    clause: str
    "The clause, for example ``5.2.2.5.2``."
    steps: tuple[str, ...] = ()
    "The numbered steps of the clause's flow, if any (as written in the text)."
    option: str | None = None
    "The option of the text the function belongs to, if any."
    qualname: str = ""
    "``module:qualified.name`` of the decorated function."

    def __str__(self) -> str:
        text = f"{self.document} {self.clause}"
        if self.steps:
            text += " step" + ("s " if len(self.steps) > 1 else " ") + ", ".join(self.steps)
        if self.option:
            text += f" ({self.option})"
        return text


REGISTRY: list[ClauseRef] = []
"Every reference recorded so far, in import order."


def clause(
    ref: str,
    *,
    steps: tuple[int | str, ...] | int | str = (),
    option: str | None = None,
) -> Callable[[F], F]:
    """Record that the decorated function implements ``ref`` (and its ``steps``).

    Args:
        ref: the document and clause, ``"TR 23.701 5.2.2.5.2"`` or ``"RFC 3261 16.7"``.
        steps: the step number(s) of the clause's flow.
        option: the option of the text, for example ``"option B"``.
    """
    document, _, number = ref.rpartition(" ")
    if not document or not number:
        raise ValueError(f"clause reference must be '<document> <clause>', got {ref!r}")
    if isinstance(steps, (int, str)):
        steps = (steps,)

    def register(func: F) -> F:
        REGISTRY.append(
            ClauseRef(
                document=document,
                clause=number,
                steps=tuple(str(s) for s in steps),
                option=option,
                qualname=f"{func.__module__}:{func.__qualname__}",
            )
        )
        return func

    return register


def references_of(func: Callable[..., object]) -> list[ClauseRef]:
    """Every reference recorded for ``func``."""
    name = f"{func.__module__}:{func.__qualname__}"
    return [ref for ref in REGISTRY if ref.qualname == name]


def implementations() -> list[ClauseRef]:
    """Every reference of the whole ``reference`` package: its modules are imported (by name, through
    the package) so that every decorator has run."""
    import reference

    for module in pkgutil.walk_packages(reference.__path__, "reference."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    return list(REGISTRY)
