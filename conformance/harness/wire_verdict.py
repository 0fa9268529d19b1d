"""What the capture rules say of one scenario's capture, and what that makes of the scenario.

Issue 15, "one judge per requirement": every requirement with a wire observable is judged by a rule
of ``captures/rules/``. When a scenario ends, the harness runs ``wimpu-conformance verify`` on
the scenario's own capture (:meth:`~conformance.harness.scenario_capture.ScenarioWire.judge`, with
the topology and the SUT's profile answers beside the capture) and keeps its JSON report beside it
as ``<test>.verdicts.json``. That report is the live verdict of the rules; a lab that runs
``verify`` on the same file gets the same one (``tests/conformance/test_offline_verdicts.py``
checks it on every scenario capture of a run).

What it makes of the scenario (``conftest.py``, ``pytest_bdd_after_scenario``):

* a rule that failed fails the scenario, naming the rule, its clause, the frame and leg of the
  message and the detail (:meth:`WireVerdict.assert_kept`), even when every step passed: the
  wire shows the text broken;
* a rule's ``deviation`` (a check of a solution-profile choice that did not hold) is a profile
  deviation of the scenario, never a failure (:attr:`WireVerdict.deviations`);
* an inconclusive rule changes nothing: the scenario's own steps say whether it could be judged.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["WireVerdict"]


@dataclasses.dataclass(frozen=True)
class WireVerdict:
    """The ``verify --json`` report of one scenario capture."""

    path: Path
    status: int
    "``verify``'s exit status (0 pass, 1 fail or problems, 3 inconclusive, 4 profile deviation)."
    report: Mapping[str, Any]
    errors: str = ""
    "What ``verify`` wrote on stderr (problems reading the capture)."

    @classmethod
    def read(cls, path: Path, status: int, errors: str = "") -> WireVerdict:
        """The report ``verify`` wrote at ``path``; a report that is missing or unreadable is a
        harness defect and says so."""
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RuntimeError(
                f"verify wrote no readable report at {path} (exit {status}): {exc}; {errors}"
            ) from exc
        return cls(path, status, report, errors)

    def findings(self, verdict: str | None = None) -> list[dict[str, Any]]:
        """Every finding (of ``verdict`` when given), each with its flow's id as ``flow``."""
        return [
            {**finding, "flow": flow["id"]}
            for flow in self.report.get("flows", [])
            for finding in flow.get("findings", [])
            if verdict is None or finding.get("verdict") == verdict
        ]

    @staticmethod
    def line(finding: Mapping[str, Any]) -> str:
        """One finding as a line: rule, clause, flow, frame and leg, detail."""
        where = f" [frame {finding['frame']}, {finding['leg']}]" if finding.get("frame") is not None else ""
        return f"{finding['rule']} ({finding['clause']}) in {finding['flow']}{where}: {finding['detail']}"

    @property
    def failures(self) -> list[str]:
        """The failed rules, one line each."""
        return [self.line(f) for f in self.findings("fail")]

    @property
    def deviations(self) -> list[tuple[str, str]]:
        """(profile choice id, line) of every rule's ``deviation``."""
        return [(str(f.get("choice") or ""), self.line(f)) for f in self.findings("deviation")]

    def assert_kept(self) -> None:
        """Raise AssertionError when a rule failed on the capture.

        Raises:
            AssertionError: listing every failed rule, and where the verdicts are.
        """
        failures = self.failures
        if failures:
            raise AssertionError(
                f"the capture breaks {len(failures)} rule(s) of the text (verify, {self.path.name}):\n  "
                + "\n  ".join(failures)
            )
