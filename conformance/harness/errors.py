"""A defect of the test system itself, told apart from a finding against the SUT.

Kept apart from :mod:`conformance.harness.sut` so that the reports (``reports.results``) can name it
without importing the harness's peers.
"""

from __future__ import annotations

__all__ = ["HARNESS_ERROR_PREFIX", "HARNESS_ERROR_PROPERTY", "HarnessError", "premise"]

HARNESS_ERROR_PREFIX = "harness error: "
"What the message of every :class:`HarnessError` starts with."
HARNESS_ERROR_PROPERTY = "harness.error"
"""The property (JUnit; a ``harness.error: ...`` line of the cucumber description) in which the root
conftest records a :class:`HarnessError` that ended a scenario: how ``reports.results`` tells it from
a FAIL, by the exception's type and not by the words of a message."""


class HarnessError(Exception):
    """The test system did not bring about what the scenario rests on: one of its own peers did not
    send what a step told it to, or the scenario names a value that would make its check prove
    nothing. A defect of the suite, never a finding against the SUT.

    The verdict is ERROR (a test system error, as TTCN-3's ``error``, ETSI ES 201 873-1), not FAIL,
    wherever it is raised (in the preamble too); the pytest run still fails, so the defect is seen
    (``reports.results``). It is not an ``AssertionError``: a profile check
    (:meth:`~conformance.harness.profile.ProfileChecks.check`) lets it through instead of recording a
    deviation.
    """

    def __init__(self, message: str) -> None:
        super().__init__(f"{HARNESS_ERROR_PREFIX}{message}")


def premise(holds: object, message: str) -> None:
    """Check what a scenario rests on (not what the SUT did): :class:`HarnessError` unless ``holds``."""
    if not holds:
        raise HarnessError(message)
