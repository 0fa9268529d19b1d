"""Counts of one attack family: attempted / rejected / wrongly accepted / unanswered.

Every test in ``tests/security`` runs its attacks through a :class:`Family`; at the end
of the run ``tests/security/conftest.py`` prints one line per family (in CI's log too),
and each test asserts :meth:`Family.assert_clean`: zero wrongly accepted, zero unanswered.
"""

from __future__ import annotations

import dataclasses

__all__ = ["FAMILIES", "Family"]


@dataclasses.dataclass
class Family:
    """One family of attacks (one test usually): what was tried and what came of it."""

    name: str
    attempted: int = 0
    rejected: int = 0
    accepted: list[str] = dataclasses.field(default_factory=list)
    "Attacks the stack wrongly accepted (a label each)."
    unanswered: list[str] = dataclasses.field(default_factory=list)
    "Attacks the stack never answered (a label each)."

    def __post_init__(self) -> None:
        FAMILIES.append(self)

    def rejected_ok(self, label: str = "") -> None:
        """The attack ``label`` was refused, as it should be."""
        self.attempted += 1
        self.rejected += 1

    def wrongly_accepted(self, label: str) -> None:
        """The attack ``label`` got through."""
        self.attempted += 1
        self.accepted.append(label)

    def no_answer(self, label: str) -> None:
        """The attack ``label`` got no answer at all."""
        self.attempted += 1
        self.unanswered.append(label)

    def judge(self, label: str, *, refused: bool | None) -> None:
        """``refused``: True refused, False accepted, None no answer."""
        if refused is None:
            self.no_answer(label)
        elif refused:
            self.rejected_ok(label)
        else:
            self.wrongly_accepted(label)

    def line(self) -> str:
        return (
            f"{self.name}: attempted {self.attempted}, rejected {self.rejected}, "
            f"wrongly accepted {len(self.accepted)}, unanswered {len(self.unanswered)}"
        )

    def assert_clean(self) -> None:
        assert self.attempted > 0, f"{self.name}: no attack was attempted"
        assert not self.accepted and not self.unanswered, (
            f"{self.line()}\n  accepted: {self.accepted}\n  unanswered: {self.unanswered}"
        )


FAMILIES: list[Family] = []
"Every family of this run, in order, for the summary."
