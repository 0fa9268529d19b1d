"""Every scenario capture of the reference passes the offline verifier, with the verdicts its live
run gave (issue 15, "one judge per requirement").

The session's default run of every feature (:func:`runs.in_process_run`, shared with
``test_out_of_process`` and ``test_mixed_run``: one nested run for all of them) leaves a capture per
scenario with its topology beside it (``<test>.topology.json``, written by the harness). Each capture
is then verified offline as a lab would: ``wimpu-conformance verify <test>.pcapng`` with nothing
written by hand, in this process, through the CLI function. The reference behaves correctly in every
scenario (every one passed), so no rule may FAIL on any of them: a FAIL is a rule that blames the
reference for what the text allows, or a harness that described the scenario wrongly. The scenarios
whose live run applied capture rules (``the capture of the session passes the verify rules ...``)
must get the same verdict offline, on the whole capture: pass. And every capture's live verdicts
(the rules run on it when its scenario ended, ``<test>.verdicts.json``) are those ``verify`` gives
offline, finding for finding.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any, cast

import pytest
from gherkin.parser import Parser
from gherkin.token_scanner import TokenScanner
from runs import ROOT, InProcessRun

from captures.cli import main
from captures.topology import sidecar_of
from conformance.pixit import load_pixit

pytestmark = pytest.mark.slow

FEATURES = ROOT / "features"
LIVE_RULES = re.compile(
    r"the capture of the session passes the verify rules (?P<rules>[A-Z0-9_]+(?: and [A-Z0-9_]+)*)"
)
"The Then step of ``steps/sessions.py`` (``capture_passes_rules``) that applies verify rules live."
SIDECAR_USED = "wimpu-conformance: verify: nodes and blocks from the topology beside the capture: "


@dataclasses.dataclass(frozen=True)
class Verified:
    """One scenario capture and what ``verify`` said of it."""

    capture: Path
    feature: str
    test: str
    scenario: str
    status: int
    out: list[str]
    err: list[str]
    report: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.feature}: {self.test}"

    @property
    def findings(self) -> list[dict[str, Any]]:
        return [f for flow in self.report["flows"] for f in flow["findings"]]


def live_rules(features: Path = FEATURES) -> dict[tuple[str, str], list[str]]:
    """(feature file under features/, scenario title) -> the verify rules its live run applies."""
    found: dict[tuple[str, str], list[str]] = {}

    def walk(children: list[dict[str, Any]], feature: str) -> None:
        for child in children:
            if "rule" in child:
                walk(child["rule"].get("children", []), feature)
            scenario = child.get("scenario")
            for step in scenario.get("steps", []) if scenario else []:
                match = LIVE_RULES.fullmatch(step["text"].strip())
                if match and scenario is not None:
                    found.setdefault((feature, scenario["name"]), []).extend(match["rules"].split(" and "))

    for path in sorted(features.rglob("*.feature")):
        document = cast(dict[str, Any], Parser().parse(TokenScanner(path.read_text(encoding="utf-8"))))
        walk(document["feature"].get("children", []), path.relative_to(features).as_posix())
    return found


@pytest.fixture(scope="module")
def offline(
    in_process_run: InProcessRun, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[Verified], float]:
    """Every capture of the run verified offline (its JSON verdicts written aside), and how long it took."""
    reports = tmp_path_factory.mktemp("offline-verdicts")
    started = time.monotonic()
    verified = []
    for number, capture in enumerate(sorted(in_process_run.captures.rglob("*.pcapng"))):
        wire = json.loads(capture.with_name(capture.name.removesuffix(".pcapng") + ".wire.json").read_text())
        report = reports / f"{number}.json"
        out, err = io.StringIO(), io.StringIO()
        status = main(
            ["verify", str(capture), "--json", str(report)], out=out, err=err, load_topology=load_pixit
        )
        verified.append(
            Verified(
                capture,
                wire["feature"],
                wire["test"],
                wire["scenario"],
                status,
                out.getvalue().splitlines(),
                err.getvalue().splitlines(),
                json.loads(report.read_text()),
            )
        )
    return verified, time.monotonic() - started


def test_every_scenario_left_a_capture_with_its_topology(
    in_process_run: InProcessRun, offline: tuple[list[Verified], float]
) -> None:
    verified, _ = offline
    scenarios = Counter(name.split("::", 1)[1] for name in in_process_run.verdicts)
    captured = Counter(v.test for v in verified)
    assert captured == scenarios, (
        f"scenarios without a capture: {sorted((scenarios - captured).elements())}; "
        f"captures of no scenario: {sorted((captured - scenarios).elements())}"
    )
    for v in verified:
        assert sidecar_of(v.capture).is_file(), f"{v.name}: no {sidecar_of(v.capture).name}"
        assert v.out and v.out[0] == SIDECAR_USED + str(sidecar_of(v.capture)), (
            f"{v.name}: verify did not say it used the topology beside the capture: {v.out[:1]} {v.err[:3]}"
        )


def test_no_rule_fails_on_a_capture_of_the_reference(offline: tuple[list[Verified], float]) -> None:
    verified, seconds = offline
    failed = [
        f"{v.name}: {f['rule']} ({f['clause']}) FAIL"
        + (f" [frame {f['frame']}, {f['leg']}]" if f["frame"] is not None else "")
        + f": {f['detail']}"
        for v in verified
        for f in v.findings
        if f["verdict"] == "fail"
    ]
    verdicts = Counter(f["verdict"] for v in verified for f in v.findings)
    problems = [f"{v.name}: {line}" for v in verified for line in v.report["problems"]]
    inconclusive = [
        f"{v.name}: {f['rule']}: {f['detail']}"
        for v in verified
        for f in v.findings
        if f["verdict"] == "inconclusive"
    ]
    print(
        f"\noffline verify: {len(verified)} scenario captures, {sum(verdicts.values())} rule findings "
        f"({verdicts['pass']} pass, {verdicts['inconclusive']} inconclusive, {verdicts['fail']} fail), "
        f"{len(problems)} problems, in {seconds:.1f} s"
    )
    for line in inconclusive + problems:
        print(f"  {line}")
    assert verified, "the run left no capture"
    assert sum(verdicts.values()) > len(verified), "hardly any rule judged anything: the topology is not used"
    assert not failed, (
        f"{len(failed)} FAIL(s) of the offline verifier on captures of the reference:\n" + "\n".join(failed)
    )


def test_the_rules_applied_live_pass_offline_on_the_whole_capture(
    in_process_run: InProcessRun, offline: tuple[list[Verified], float]
) -> None:
    verified, _ = offline
    wanted = live_rules()
    assert wanted, "no scenario applies verify rules live (the step's text changed?)"
    checked: Counter[str] = Counter()
    matched: set[tuple[str, str]] = set()
    for v in verified:
        rules = wanted.get((v.feature, v.scenario))
        if rules is None:
            continue
        matched.add((v.feature, v.scenario))
        live = [verdict for name, verdict in in_process_run.verdicts.items() if name.endswith(f"::{v.test}")]
        assert live == ["passed"], f"{v.name}: live verdict {live}"
        for rule in rules:
            found = [f for f in v.findings if f["rule"] == rule]
            assert found, f"{v.name}: {rule} passed live but judged no flow of the capture offline"
            differ = [f"{f['verdict'].upper()}: {f['detail']}" for f in found if f["verdict"] != "pass"]
            assert not differ, f"{v.name}: {rule} passed live, offline: " + "; ".join(differ)
            checked[rule] += len(found)
    assert matched == set(wanted), (
        f"scenarios with live rules but no capture: {sorted(set(wanted) - matched)}"
    )
    print(
        f"\nrules applied live, judged offline too: {sum(checked.values())} findings on "
        f"{sum(1 for v in verified if (v.feature, v.scenario) in wanted)} captures: {dict(checked)}"
    )


def _verdicts(report: dict[str, Any]) -> list[tuple[str, str, str, str, Any, Any]]:
    """(flow, rule, verdict, detail, frame, leg) of every finding of a ``verify --json`` report."""
    return [
        (flow["id"], f["rule"], f["verdict"], f["detail"], f["frame"], f["leg"])
        for flow in report["flows"]
        for f in flow["findings"]
    ]


def test_every_capture_gets_the_same_verdicts_live_and_offline(
    in_process_run: InProcessRun, offline: tuple[list[Verified], float]
) -> None:
    """One judge per requirement (issue 15): the live run judged each scenario's whole capture with
    the capture rules when the scenario ended and left the verdicts beside it
    (``<test>.verdicts.json``, conformance/harness/wire_verdict.py); ``verify`` run here on the same
    file, as a lab would, must give every flow the same finding of every rule, frame and leg
    included."""
    verified, _ = offline
    differ, compared = [], 0
    for v in verified:
        live_path = v.capture.with_name(v.capture.name.removesuffix(".pcapng") + ".verdicts.json")
        assert live_path.is_file(), f"{v.name}: the live run left no {live_path.name}"
        live = json.loads(live_path.read_text())
        if _verdicts(live) != _verdicts(v.report) or live["summary"] != v.report["summary"]:
            differ.append(
                f"{v.name}: live {live['summary']['verdicts']}, offline {v.report['summary']['verdicts']}"
            )
        compared += len(_verdicts(live))
    assert not differ, "live and offline verdicts differ:\n" + "\n".join(differ)
    assert compared > len(verified), "hardly any finding was compared"
    print(f"\nlive and offline verdicts agree on {len(verified)} captures, {compared} findings")


def test_live_rules_are_read_from_the_features() -> None:
    """The step is found where the features use it (so the comparison above is not empty by accident)."""
    found = live_rules()
    assert found[
        ("termination/forking.feature", next(s for f, s in found if f == "termination/forking.feature"))
    ] == [
        "TERM_FORK_ALL",
        "TERM_FORK_CANCEL",
    ]
    assert ["ORIG_PAI_IMPU"] in found.values()
