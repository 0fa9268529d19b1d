"""What a run produced, read back from its reports: verdicts per scenario, steps, run metadata.

Sources, all under the reports directory:

* ``junit.xml``: one ``testcase`` per test with its outcome, failure text and skip reason, written by
  the controller even under xdist. For every Gherkin scenario the plugin (``reports.plugin``) adds
  properties: ``bdd.feature``, ``bdd.feature_name``, ``bdd.scenario``, ``bdd.tags`` and one
  ``bdd.step`` per step (``"<keyword> <text>"``, Background steps included);
* ``cucumber.json`` (pytest-bdd): the status of each step that ran. When there is no ``junit.xml``
  (a run without the plugin), the verdicts are read from it alone;
* ``run.json`` (the plugin): start and end, exit status, collected and completed tests, PICS file;
* ``.run-in-progress`` (the plugin): present while a run is going, left behind by a killed run.

Verdicts (ETSI style): PASS, FAIL, ERROR (a setup or teardown error, or a failure the conftest
recorded as a ``harness.error`` property, a :class:`~conformance.harness.errors.HarnessError`: the
test system's own defect, not a failure of the SUT; it wins over the preamble rule below),
INCONCLUSIVE (a failure in the preamble, any other skip, an expected failure), NOT
APPLICABLE (a skip whose reason starts with ``not applicable: PICS``), PROFILE DEVIATION (a skip
whose reason starts with ``profile deviation:``: every check of the text held, a check of a
solution-profile choice did not; ``conformance.harness.profile``). Each deviation and each profile
check left out by the PICS is a JUnit property of its test (``profile.deviation``,
``profile.unchecked``), so a FAIL lists its deviations too; the step that made the check gets the
status ``deviated`` or ``not checked``.
Every text is passed through :func:`conformance.redact.redact`.

The preamble of a scenario is its leading Given steps, the Background's included: they bring the
SUT into the state the test purpose starts from. A failure there is INCONCLUSIVE for that purpose
(as a TTCN-3 preamble failure sets inconc, ETSI ES 201 873-1): the behaviour under test was never
exercised. The failure itself stays in the reason, and is the FAIL of the test purpose that tests
that behaviour (registration, origination); the pytest run still fails.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from conformance.harness.errors import HARNESS_ERROR_PROPERTY
from conformance.harness.profile import DEVIATION_PROPERTY, PREFIX, UNCHECKED_PROPERTY
from conformance.redact import redact

__all__ = [
    "IN_PROGRESS",
    "PREAMBLE_PREFIX",
    "RUN_FILE",
    "SEVERITY",
    "RunInfo",
    "ScenarioResult",
    "StepResult",
    "Verdict",
    "load_run",
    "preamble_length",
]

RUN_FILE = "run.json"
IN_PROGRESS = ".run-in-progress"
NOT_APPLICABLE_PREFIX = "not applicable: PICS"
PROFILE_DEVIATION_PREFIX = PREFIX.rstrip()
DETAIL_LINES = 25


class Verdict(StrEnum):
    """Verdict of a scenario, or of a requirement over its scenarios."""

    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    INCONCLUSIVE = "INCONCLUSIVE"
    NOT_APPLICABLE = "NOT APPLICABLE"
    PROFILE_DEVIATION = "PROFILE DEVIATION"
    NOT_RUN = "NOT RUN"
    UNCOVERED = "UNCOVERED"
    NOT_TESTABLE = "NOT TESTABLE"


SEVERITY = (
    Verdict.FAIL,
    Verdict.ERROR,
    Verdict.INCONCLUSIVE,
    Verdict.PROFILE_DEVIATION,
    Verdict.UNCOVERED,
    Verdict.NOT_RUN,
    Verdict.NOT_APPLICABLE,
    Verdict.PASS,
    Verdict.NOT_TESTABLE,
)
"""Most severe first: the order of every list of the report.

PROFILE DEVIATION comes after FAIL, ERROR and INCONCLUSIVE: every check of the text was made and
held (an INCONCLUSIVE scenario could not make one), only a choice of this project's solution profile
was not followed. It is never counted as a FAIL of the text."""


@dataclass(frozen=True)
class StepResult:
    """One Gherkin step and what happened to it: passed, failed, not run or unknown."""

    keyword: str
    text: str
    status: str


@dataclass(frozen=True)
class ScenarioResult:
    """One executed (or skipped) scenario: one pytest test, one Examples row of an outline."""

    test: str
    feature: str
    feature_name: str
    name: str
    tags: tuple[str, ...]
    verdict: Verdict
    reason: str = ""
    details: str = ""
    duration: float = 0.0
    steps: tuple[StepResult, ...] = ()
    deviations: tuple[str, ...] = ()
    "``<choice id>: <detail>`` of each solution-profile check that did not hold (on a FAIL too)."
    unchecked: tuple[str, ...] = ()
    "``<choice id>: not checked: PICS <item> = <answer>`` of each profile check the PICS left out."

    @property
    def label(self) -> str:
        """The scenario name with its Examples row (the test's parameter id), if any."""
        if self.test.endswith("]") and "[" in self.test:
            return f"{self.name} [{self.test[self.test.index('[') + 1 : -1]}]"
        return self.name

    @property
    def test_purposes(self) -> tuple[str, ...]:
        """The ``TP_...`` tags."""
        return tuple(tag for tag in self.tags if tag.startswith("TP_"))

    @property
    def key(self) -> str:
        """A stable identifier: the feature path without ``.feature``, a slash, the test name."""
        return f"{self.feature.removesuffix('.feature')}/{self.test}"

    @property
    def anchor(self) -> str:
        """The HTML id of the scenario's section."""
        return "sc-" + re.sub(r"[^A-Za-z0-9_-]+", "-", self.key).strip("-")


@dataclass
class RunInfo:
    """What is known about the run as a whole."""

    started: str = ""
    finished: str = ""
    exitstatus: int | None = None
    collected: int | None = None
    completed: int | None = None
    args: list[str] = field(default_factory=list)
    pics: str = ""
    pixit: str = ""
    partial_reasons: list[str] = field(default_factory=list)
    other_tests: Counter[Verdict] = field(default_factory=Counter)
    other_failures: list[tuple[str, str]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        """True when the reports do not hold the whole run."""
        return bool(self.partial_reasons)


_LISTS = ("bdd.step", DEVIATION_PROPERTY, UNCHECKED_PROPERTY)
"Properties a test may carry several times."


def _properties(case: ET.Element) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    lists: dict[str, list[str]] = {name: [] for name in _LISTS}
    for prop in case.iterfind("properties/property"):
        name, value = prop.get("name", ""), prop.get("value", "")
        if name in lists:
            lists[name].append(value)
        else:
            single[name] = value
    return single, lists


def _choice(finding: str) -> str:
    """The choice id a deviation or an unchecked note starts with."""
    return finding.partition(":")[0].strip()


def _tail(text: str) -> str:
    lines = redact(text).rstrip().splitlines()
    if len(lines) > DETAIL_LINES:
        lines = [f"[... {len(lines) - DETAIL_LINES} lines cut ...]", *lines[-DETAIL_LINES:]]
    return "\n".join(lines)


PREAMBLE_PREFIX = "preamble failed: "
"Reason prefix of a scenario whose preamble (its leading Given steps) failed: INCONCLUSIVE."


def preamble_length(keywords: list[str]) -> int:
    """How many of a scenario's steps, given by keyword in order, are its preamble: the leading
    Given steps, the And/But steps after them included."""
    count = 0
    for keyword in keywords:
        if keyword.strip() not in ("Given", "And", "But", "*"):
            break
        count += 1
    return count


def _failure_verdict(
    verdict: Verdict, reason: str, steps: list[StepResult], harness_error: str | None = None
) -> tuple[Verdict, str]:
    """ERROR for a FAIL the test system's own defect caused (``harness_error``: the message of the
    ``HarnessError`` the conftest recorded), wherever it failed; otherwise INCONCLUSIVE for a FAIL
    whose first failed step is in the preamble (module docstring)."""
    if verdict is not Verdict.FAIL:
        return verdict, reason
    if harness_error:
        return Verdict.ERROR, redact(harness_error)
    failed = next((i for i, step in enumerate(steps) if step.status == "failed"), None)
    if failed is None or failed >= preamble_length([step.keyword for step in steps]):
        return verdict, reason
    step = steps[failed]
    return Verdict.INCONCLUSIVE, f"{PREAMBLE_PREFIX}{step.keyword} {step.text}: {reason}"


def _junit_verdict(case: ET.Element) -> tuple[Verdict, str, str]:
    failure, error, skipped = case.find("failure"), case.find("error"), case.find("skipped")
    if failure is not None:
        return Verdict.FAIL, redact(failure.get("message", "")), _tail(failure.text or "")
    if error is not None:
        return Verdict.ERROR, redact(error.get("message", "")), _tail(error.text or "")
    if skipped is not None:
        reason = redact(skipped.get("message", ""))
        if skipped.get("type") == "pytest.xfail":
            return Verdict.INCONCLUSIVE, f"expected failure: {reason}", ""
        if reason.startswith(NOT_APPLICABLE_PREFIX):
            return Verdict.NOT_APPLICABLE, reason, ""
        if reason.startswith(PROFILE_DEVIATION_PREFIX):
            return Verdict.PROFILE_DEVIATION, reason, ""
        return Verdict.INCONCLUSIVE, reason or "skipped", ""
    return Verdict.PASS, "", ""


def _step_statuses(
    verdict: Verdict,
    declared: list[str],
    ran: list[dict[str, Any]] | None,
    deviations: tuple[str, ...] = (),
    unchecked: tuple[str, ...] = (),
) -> list[StepResult]:
    """Declared steps with the status of those that ran; after the first failure nothing ran.

    A step naming a profile choice ``(PROFILE_...)`` that deviated is ``deviated``; one whose check
    the PICS left out is ``not checked``.
    """
    result: list[StepResult] = []
    failed_seen = False
    deviated = {_choice(d) for d in deviations}
    left_out = {_choice(u) for u in unchecked}
    for index, line in enumerate(declared):
        keyword, _, text = line.partition(" ")
        if ran is not None and index < len(ran):
            status = str(ran[index].get("result", {}).get("status", "unknown"))
            if failed_seen:  # pytest-bdd marks every step after a failure as failed too
                status = "not run"
            failed_seen = failed_seen or status == "failed"
        elif verdict in (Verdict.PASS, Verdict.PROFILE_DEVIATION):
            status = "passed"
        elif verdict in (Verdict.NOT_APPLICABLE, Verdict.INCONCLUSIVE) or ran is not None:
            status = "not run"
        else:
            status = "unknown"
        named = {choice for choice in deviated | left_out if f"({choice})" in text}
        if status in ("passed", "skipped") and named & deviated:
            status = "deviated"
        elif status in ("passed", "skipped") and named & left_out:
            status = "not checked"
        elif status == "skipped" and verdict is Verdict.PROFILE_DEVIATION:
            status = "passed"  # pytest-bdd says skipped for every step of a test skipped after its steps
        result.append(StepResult(keyword, redact(text), status))
    return result


def _cucumber(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """``(feature uri, test name)`` -> the cucumber element of that scenario."""
    data = json.loads(path.read_text(encoding="utf-8"))
    elements: dict[tuple[str, str], dict[str, Any]] = {}
    for feature in data if isinstance(data, list) else []:
        for element in feature.get("elements", []):
            element["_feature_name"] = feature.get("name", "")
            elements[(str(feature.get("uri", "")), str(element.get("id", "")))] = element
    return elements


SKIPPED_LINE = "skipped: "
"""A line the plugin (``reports.plugin``) adds to a cucumber element's description: the reason of a
test skipped after its steps ran (cucumber JSON has no place for it). Likewise ``<property>: <value>``
for each ``profile.deviation`` and ``profile.unchecked`` property."""


def _described(element: dict[str, Any], prefix: str) -> list[str]:
    lines = str(element.get("description", "") or "").splitlines()
    return [line.strip()[len(prefix) :] for line in lines if line.strip().startswith(prefix)]


def _cucumber_verdict(statuses: list[Any], skipped: str) -> Verdict:
    if "failed" in statuses:
        return Verdict.FAIL
    if skipped.startswith(PROFILE_DEVIATION_PREFIX):
        return Verdict.PROFILE_DEVIATION
    if skipped.startswith(NOT_APPLICABLE_PREFIX):
        return Verdict.NOT_APPLICABLE
    if skipped or "skipped" in statuses or not statuses:
        return Verdict.INCONCLUSIVE
    return Verdict.PASS


def _from_cucumber(uri: str, element: dict[str, Any]) -> ScenarioResult:
    ran = element.get("steps", [])
    statuses = [step.get("result", {}).get("status") for step in ran]
    message = next(
        (str(s["result"].get("error_message", "")) for s in ran if "error_message" in s.get("result", {})), ""
    )
    skipped = redact(next(iter(_described(element, SKIPPED_LINE)), ""))
    verdict = _cucumber_verdict(statuses, skipped)
    deviations = tuple(redact(d) for d in _described(element, DEVIATION_PROPERTY + ": "))
    unchecked = tuple(redact(u) for u in _described(element, UNCHECKED_PROPERTY + ": "))
    if verdict is not Verdict.FAIL and skipped:
        message = ""
    declared = [f"{step.get('keyword', '')} {step.get('name', '')}" for step in ran]
    steps = _step_statuses(verdict, declared, ran, deviations, unchecked)
    reason = redact(message.strip().splitlines()[-1]) if message.strip() else skipped
    harness_error = next(iter(_described(element, HARNESS_ERROR_PROPERTY + ": ")), None)
    verdict, reason = _failure_verdict(verdict, reason, steps, harness_error)
    return ScenarioResult(
        test=str(element.get("id", "")),
        feature=uri,
        feature_name=str(element.get("_feature_name", "")),
        name=str(element.get("name", "")),
        tags=tuple(sorted(str(tag.get("name", "")).lstrip("@") for tag in element.get("tags", []))),
        verdict=verdict,
        reason=reason,
        details=_tail(message),
        duration=sum(float(s.get("result", {}).get("duration", 0)) for s in ran) / 1e9,
        steps=tuple(steps),
        deviations=deviations,
        unchecked=unchecked,
    )


def _read_run_file(reports_dir: Path, info: RunInfo) -> None:
    marker = reports_dir / IN_PROGRESS
    run_file = reports_dir / RUN_FILE
    if marker.exists():
        info.partial_reasons.append(
            f"the run that wrote these reports did not finish ({IN_PROGRESS} is still in {reports_dir})"
        )
        try:
            info.started = str(json.loads(marker.read_text(encoding="utf-8")).get("started", ""))
        except (OSError, ValueError, AttributeError):
            pass
        return
    if not run_file.exists():
        return
    data = json.loads(run_file.read_text(encoding="utf-8"))
    info.started, info.finished = str(data.get("started", "")), str(data.get("finished", ""))
    info.exitstatus, info.collected, info.completed = (
        data.get("exitstatus"),
        data.get("collected"),
        data.get("completed"),
    )
    info.args = [redact(str(arg)) for arg in data.get("args", [])]
    info.pics, info.pixit = str(data.get("pics") or ""), str(data.get("pixit") or "")
    if data.get("stopped"):
        info.partial_reasons.append(f"the run {data['stopped']}")
    if (
        isinstance(info.collected, int)
        and isinstance(info.completed, int)
        and info.completed < info.collected
    ):
        info.partial_reasons.append(f"only {info.completed} of the {info.collected} collected tests finished")
    info.sources.append(RUN_FILE)


def load_run(
    reports_dir: Path, *, junit: Path | None = None, cucumber: Path | None = None
) -> tuple[list[ScenarioResult], RunInfo]:
    """Every scenario result of the run in ``reports_dir``, and what is known about the run.

    ``junit`` and ``cucumber`` default to ``junit.xml`` and ``cucumber.json`` in ``reports_dir``.

    Raises:
        ValueError: a report file exists but cannot be parsed.
    """
    info = RunInfo()
    try:
        _read_run_file(reports_dir, info)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{reports_dir / RUN_FILE}: {exc}") from exc
    junit = junit or reports_dir / "junit.xml"
    cucumber = cucumber or reports_dir / "cucumber.json"
    try:
        elements = _cucumber(cucumber) if cucumber.exists() else {}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{cucumber}: {exc}") from exc
    if cucumber.exists():
        info.sources.append(cucumber.name)
    if not junit.exists():
        if not elements:
            info.partial_reasons.append(f"no junit.xml and no scenario in cucumber.json under {reports_dir}")
        return [_from_cucumber(uri, element) for (uri, _), element in elements.items()], info
    info.sources.append(junit.name)
    try:
        root = ET.parse(junit).getroot()
    except (OSError, ET.ParseError) as exc:
        raise ValueError(f"{junit}: {exc}") from exc
    results: list[ScenarioResult] = []
    for case in root.iter("testcase"):
        props, lists = _properties(case)
        steps = lists["bdd.step"]
        deviations = tuple(redact(d) for d in lists[DEVIATION_PROPERTY])
        unchecked = tuple(redact(u) for u in lists[UNCHECKED_PROPERTY])
        verdict, reason, details = _junit_verdict(case)
        name = case.get("name", "")
        if "bdd.scenario" not in props:
            info.other_tests[verdict] += 1
            if verdict in (Verdict.FAIL, Verdict.ERROR):
                info.other_failures.append((f"{case.get('classname', '')}::{name}", reason))
            continue
        element = elements.get((props.get("bdd.feature", ""), name))
        ran = element.get("steps", []) if element is not None else None
        step_results = _step_statuses(verdict, steps, ran, deviations, unchecked)
        verdict, reason = _failure_verdict(verdict, reason, step_results, props.get(HARNESS_ERROR_PROPERTY))
        results.append(
            ScenarioResult(
                test=name,
                feature=props.get("bdd.feature", ""),
                feature_name=props.get("bdd.feature_name", ""),
                name=props["bdd.scenario"],
                tags=tuple(props.get("bdd.tags", "").split()),
                verdict=verdict,
                reason=reason,
                details=details,
                duration=float(case.get("time", "0") or 0),
                steps=tuple(step_results),
                deviations=deviations,
                unchecked=unchecked,
            )
        )
    return results, info
