"""Checks of the solution profile's choices: a deviation is recorded, not a failure of the text.

A check the text of TR 23.701 5.2.2 mandates is an ``expect`` assertion: it fails the scenario.
A check of a choice the text leaves open and ``docs/solution-profile.md`` makes (a status code, a
header the text never names, a timing) is made through :class:`ProfileChecks`: when it does not
hold, a *deviation* is recorded and the scenario goes on, so the checks of the text after it still
run and can fail. Each choice has an id (``PROFILE_<AREA>_<NAME>``) named in the solution profile,
and a PICS item ``PICS_<id>`` ("Does the SUT follow the solution profile's choice ...?"): a SUT
whose PICS answers it other than yes is not checked against that choice at all.

How a deviation travels to the report (docs/traceability.md, "Verdicts"):

* each deviation and each check left out is a user property of the test (``profile.deviation``,
  ``profile.unchecked``): JUnit XML carries them, under xdist too;
* at the end of the scenario ``conftest.py`` turns a scenario with deviations and no failure into
  a skip whose reason starts with :data:`PREFIX` (Allure and the terminal show it as such);
  ``reports.results`` reads that reason as the verdict PROFILE DEVIATION, never FAIL;
* a scenario that also failed a check of the text is a FAIL, its deviations listed beside it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "CHOICE_STEP",
    "DEVIATION_PROPERTY",
    "PREFIX",
    "UNCHECKED_PROPERTY",
    "Deviation",
    "ProfileChecks",
    "pics_item",
]

PREFIX = "profile deviation: "
"The start of the skip reason of a scenario whose only findings are profile deviations."
DEVIATION_PROPERTY = "profile.deviation"
"User property (JUnit XML) of each deviation: ``<choice id>: <detail>``."
UNCHECKED_PROPERTY = "profile.unchecked"
"User property of each profile check left out: ``<choice id>: not checked: PICS <item> = <answer>``."
CHOICE_ID = re.compile(r"PROFILE_[A-Z0-9]+(?:_[A-Z0-9]+)+")
"The form of a choice id; its PICS item is ``PICS_`` + the id."
CHOICE_STEP = r"as the solution profile chooses \((?P<choice>PROFILE_[A-Z0-9_]+)\)"
"""How a Gherkin step says that what it checks is a profile choice, and which: the end of its text,
``..., as the solution profile chooses (PROFILE_ORIG_OPTA_NO_W6)`` (a regular expression part)."""


def pics_item(choice: str) -> str:
    """The PICS item that says whether the SUT follows the profile's ``choice``."""
    if not CHOICE_ID.fullmatch(choice):
        raise ValueError(f"{choice!r} is not a solution-profile choice id (PROFILE_<AREA>_<NAME>)")
    return f"PICS_{choice}"


@dataclass(frozen=True)
class Deviation:
    """A check of one solution-profile choice that did not hold."""

    choice: str
    detail: str

    def __str__(self) -> str:
        return f"{self.choice}: {self.detail}"


@dataclass
class ProfileChecks:
    """The profile checks of one scenario, against the SUT's PICS ``answers``.

    ``record`` receives each ``(property name, value)`` as it is found (the test's user
    properties), so they survive whatever happens to the scenario afterwards.
    """

    answers: Mapping[str, str]
    record: Callable[[str, str], None] = lambda name, value: None
    deviations: list[Deviation] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

    def check(self, choice: str, check: Callable[[], object]) -> bool:
        """Make the check of ``choice`` (a callable that raises AssertionError when it does not
        hold), unless the SUT's PICS says it does not follow that choice.

        Returns True when the check was made and held. A check that does not hold is recorded as a
        deviation; any other exception (the harness's, or ``Unobservable``) propagates.
        """
        item = pics_item(choice)
        answer = self.answers.get(item, "unanswered")
        if answer != "yes":
            note = f"{choice}: not checked: PICS {item} = {answer}"
            self.unchecked.append(note)
            self.record(UNCHECKED_PROPERTY, note)
            return False
        try:
            check()
        except AssertionError as exc:
            detail = " ".join(str(exc).split()) or "the check did not hold"
            self.deviate(choice, detail)
            return False
        return True

    def deviate(self, choice: str, detail: str) -> None:
        """A deviation from ``choice`` a capture rule found (captures/rules/ gives ``deviation``
        only when the SUT's PICS says it follows the choice); one a step already recorded for that
        choice is not recorded twice."""
        if any(d.choice == choice for d in self.deviations):
            return
        deviation = Deviation(choice, detail)
        self.deviations.append(deviation)
        self.record(DEVIATION_PROPERTY, str(deviation))

    def reason(self) -> str:
        """The skip reason of a scenario whose only findings are these deviations."""
        return PREFIX + "; ".join(str(d) for d in self.deviations)
