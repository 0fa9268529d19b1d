"""Test helper plugin (``-p wimpu_report_probe``): gives a run the verdicts a report must show.

Environment:
  PROBE_INCONCLUSIVE=tag     skip scenarios with this tag for a reason other than the PICS (inconclusive)
  PROBE_EXIT_AFTER=n         stop the whole run (pytest.exit) when test number n starts: a partial run
  PROBE_BREAK_REPORT=1       make the conformance report generator raise
  PROBE_HARNESS_ERROR=tag    scenarios with this tag: the first Then step raises a HarnessError, as a
                             premise the harness did not bring about would (a test system error)
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from conformance.harness.errors import HarnessError

_started = 0


def pytest_configure(config: pytest.Config) -> None:
    """Break the report generator when asked to."""
    if os.environ.get("PROBE_BREAK_REPORT"):
        from reports import conformance

        def broken(*args: object, **kwargs: object) -> list[object]:
            raise RuntimeError("probe: the report generator is broken\nsecond line")

        conformance.generate = broken  # type: ignore[assignment]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the scenarios carrying the tag the environment names, as a test system lacking something would."""
    tag = os.environ.get("PROBE_INCONCLUSIVE")
    for item in items:
        if tag and tag in {mark.name for mark in item.iter_markers()}:
            item.add_marker(pytest.mark.skip(reason="the test system lacks a browser for this scenario"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Stop the run at the n-th test, as an interrupt would."""
    global _started
    _started += 1
    if str(_started) == os.environ.get("PROBE_EXIT_AFTER"):
        pytest.exit("probe: run stopped on purpose", returncode=pytest.ExitCode.INTERRUPTED)


def pytest_bdd_before_step_call(request: pytest.FixtureRequest, step: Any, **kwargs: Any) -> None:
    """Make the first Then step of the tagged scenarios fail as a harness premise would."""
    tag = os.environ.get("PROBE_HARNESS_ERROR")
    if not tag or tag not in {mark.name for mark in request.node.iter_markers()} or step.type != "then":
        return
    if getattr(request.node, "_probe_harness_error", False):
        return
    request.node._probe_harness_error = True
    raise HarnessError("probe: WIC 1 was to send Contact: *")
