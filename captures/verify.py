"""Offline verification: a capture, checked flow by flow against the rules of TR 23.701 5.2.2.

:class:`Verifier` is sans-I/O: feed it decoded messages (:meth:`Verifier.receive_message`)
and decoding problems (:meth:`Verifier.receive_problem`); each flow that closes comes out
of :meth:`Verifier.results_ready` with its findings, and :meth:`Verifier.finish` closes
the rest. Memory stays bounded on large traces: only open flows and the capture's
:class:`captures.flows.Knowledge` are held, and the findings are written out as flows close.

:func:`run` drives it over a file for ``wimpu-conformance verify``: one block per flow
on ``out`` (a line per rule: verdict, rule, clause, frame and leg of the message, detail),
the problems on ``err`` one line each, a summary, and an optional JSON report written as
it goes. Exit status: 0 every rule passed, 1 a rule failed or the capture had problems,
4 nothing failed but a check of a solution-profile choice did not hold (PROFILE DEVIATION: the
text allows it), 3 nothing failed or deviated but something was inconclusive (or no rule
applied at all).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from .decode import Decoder, iter_messages
from .errors import CaptureFileError, Problem
from .flows import Ends, Flow, FlowTracker, Knowledge
from .model import TcpConnection, WireMessage
from .rules import RULES, Context, Finding, check
from .tls import KeyLog
from .topology import PlacedBlock, Topology

__all__ = ["EXIT_DEVIATION", "EXIT_FAIL", "EXIT_INCONCLUSIVE", "EXIT_PASS", "Summary", "Verifier", "run"]

EXIT_PASS, EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_DEVIATION = 0, 1, 3, 4
PROG = "wimpu-conformance"
_MAX_UNPARSABLE_LINES = 20


@dataclasses.dataclass
class Summary:
    """Counts of a verification (bounded: one counter per rule)."""

    flows: int = 0
    verdicts: Counter[str] = dataclasses.field(default_factory=Counter)
    by_rule: dict[str, Counter[str]] = dataclasses.field(default_factory=dict)
    problems: int = 0
    "Decoding problems, unparsable SIP and unreadable inputs."

    def add(self, finding: Finding) -> None:
        self.verdicts[finding.verdict] += 1
        self.by_rule.setdefault(finding.rule_id, Counter())[finding.verdict] += 1

    @property
    def exit_status(self) -> int:
        if self.verdicts["fail"] or self.problems:
            return EXIT_FAIL
        if self.verdicts["deviation"]:
            return EXIT_DEVIATION
        if self.verdicts["inconclusive"] or not self.verdicts["pass"]:
            return EXIT_INCONCLUSIVE
        return EXIT_PASS

    @property
    def verdict(self) -> str:
        """FAIL (a rule failed), PROBLEMS (none failed but the capture could not all be read),
        PROFILE DEVIATION, INCONCLUSIVE or PASS."""
        if self.verdicts["fail"]:
            return "FAIL"
        if self.problems:
            return "PROBLEMS"
        if self.verdicts["deviation"]:
            return "PROFILE DEVIATION"
        return "INCONCLUSIVE" if self.exit_status == EXIT_INCONCLUSIVE else "PASS"


class Verifier:
    """Messages and problems in, flows with their findings out.

    Args:
        ends: names and roles of the capture's ends (PIXIT or ports file).
        blocks: the PIXIT's wIMPU blocks, with their identity options.
        quiet: seconds of capture time without a message that close a flow.
        pics: the SUT's PICS answers (item id -> answer); None: every solution-profile choice is
            checked (a message that goes another way is a ``deviation``).
        origins: the web origins of the WWSFs authorised at the eP-CSCFs (5.2.2.5.2 step 2).
        clock_jumps: (capture time, seconds) of each forward move of the nodes' clock by the
            tester (``Knowledge.lapse``).
        complete: the capture holds every packet of the named nodes since they started
            (``CapturedTopology.complete``).
        timer_c: the eP-CSCF's Timer C on the nodes' clock (``CapturedTopology.timer_c``), if known.
    """

    def __init__(
        self,
        ends: Ends,
        blocks: Iterable[PlacedBlock] = (),
        *,
        quiet: float = 64.0,
        pics: Mapping[str, str] | None = None,
        origins: Iterable[str] = (),
        clock_jumps: Iterable[tuple[float, float]] = (),
        complete: bool = False,
        timer_c: float | None = None,
    ) -> None:
        knowledge = Knowledge(clock_jumps=clock_jumps, complete=complete)
        self.tracker = FlowTracker(ends, quiet=quiet, knowledge=knowledge)
        self._problems_received = 0
        self.context = Context(tuple(blocks), self.tracker.knowledge, pics, ends, tuple(origins), timer_c)
        self.summary = Summary()
        self.unparsable: list[tuple[WireMessage, str]] = []
        "The first unparsable SIP messages, with their leg."

    def receive_message(self, message: WireMessage) -> None:
        hop = self.tracker.receive(message)
        if message.is_sip and message.message is None:
            self.summary.problems += 1
            if len(self.unparsable) < _MAX_UNPARSABLE_LINES:
                self.unparsable.append((message, hop.leg))

    def receive_problem(self, problem: Problem) -> None:
        self.summary.problems += 1
        self.tracker.receive_problem(problem)

    def receive_problems(self, problems: Sequence[Problem]) -> None:
        """The problems of a decoder's list (which grows as it reads) not received yet."""
        for problem in problems[self._problems_received :]:
            self.receive_problem(problem)
        self._problems_received = max(self._problems_received, len(problems))

    def judge(
        self,
        messages: Iterable[WireMessage],
        problems: Sequence[Problem],
        connections: Sequence[TcpConnection] = (),
    ) -> Iterator[tuple[Flow, list[Finding]]]:
        """Every flow of ``messages`` with its findings, each as it closes, the rest when they end;
        ``problems`` and ``connections`` (the lists of the decoder reading ``messages``) received in
        the order they arose. The one loop of ``verify`` (:func:`run`) and of the suite's live
        checks, so a scenario's step and ``wimpu-conformance verify`` judge its capture the same way."""
        knowledge = self.tracker.knowledge
        for message in messages:
            self.receive_problems(problems)
            knowledge.receive_connections(connections)
            self.receive_message(message)
            yield from self.results_ready()
        self.receive_problems(problems)
        knowledge.receive_connections(connections)
        yield from self.finish()

    @classmethod
    def of(
        cls,
        topology: Topology,
        *,
        pics: Mapping[str, str] | None = None,
        quiet: float = 64.0,
        ports: Mapping[int, str] | None = None,
    ) -> Verifier:
        """The verifier of a capture of ``topology`` (a sidecar or a PIXIT): its nodes, blocks,
        WWSF origins, clock jumps, completeness and Timer C, and ``pics`` (default: the topology's own
        answers on the profile's choices, if it carries them); ``ports`` (a ports file's port ->
        node) names more ends beside the topology's. The one derivation of ``verify`` and of the
        suite's live checks."""
        answers = pics if pics is not None else getattr(topology, "profile_answers", None)
        ends = Ends.from_topology(topology)
        return cls(
            ends.with_ports(ports) if ports else ends,
            topology.blocks,
            quiet=quiet,
            pics=answers,
            origins=tuple(getattr(topology, "origins", ()) or ()),
            clock_jumps=tuple(getattr(topology, "clock_jumps", ()) or ()),
            complete=bool(getattr(topology, "complete", False)),
            timer_c=getattr(topology, "timer_c", None),
        )

    def learn(self, messages: Iterable[WireMessage]) -> Knowledge:
        """What the rules know of the capture's whole history after ``messages`` (registrations,
        block registrations, identities): the flows are tracked, not judged."""
        for message in messages:
            self.tracker.receive(message)
        return self.tracker.knowledge

    def _judge(self, flows: list[Flow]) -> list[tuple[Flow, list[Finding]]]:
        results = []
        for flow in sorted(flows, key=lambda f: f.hops[0].message.index if f.hops else 0):
            findings = check(flow, self.context)
            self.summary.flows += 1
            for finding in findings:
                self.summary.add(finding)
            results.append((flow, findings))
        return results

    def results_ready(self) -> list[tuple[Flow, list[Finding]]]:
        """The flows closed since the last call, with their findings."""
        return self._judge(self.tracker.flows_ready())

    def finish(self) -> list[tuple[Flow, list[Finding]]]:
        """The capture ended: the remaining flows, with their findings."""
        return self._judge(self.tracker.finish())


# ----- output ---------------------------------------------------------------------------------------


def _short(clause: str) -> str:
    return clause.removeprefix("TR 23.701 ")


def flow_lines(flow: Flow, findings: list[Finding]) -> list[str]:
    """The text block of one flow."""
    frames = [h.message.frame for h in flow.hops]
    head = f"{flow.id} {flow.label}  Call-ID {flow.call_id}  frames {min(frames)}-{max(frames)}"
    lines = [head + (f"  [{flow.note}]" if flow.note else "")]
    if not findings:
        lines.append("  (no rule applies)")
    for f in findings:
        where = f"frame {f.message.frame} {f.leg}: " if f.message is not None else ""
        lines.append(f"  {f.verdict.upper():<12}  {f.rule_id:<26}  {_short(f.clause):<34}  {where}{f.detail}")
    return lines


def summary_lines(summary: Summary) -> list[str]:
    v = summary.verdicts
    lines = [
        f"summary: {summary.flows} flows, {sum(v.values())} checks: {v['pass']} pass, {v['fail']} fail, "
        f"{v['deviation']} profile deviation, {v['inconclusive']} inconclusive; {summary.problems} problems",
        f"  {'rule':<26}  {'pass':>5}  {'fail':>5}  {'deviation':>9}  {'inconclusive':>12}  clause",
    ]
    for rule_id, rule in RULES.items():
        c = summary.by_rule.get(rule_id, Counter())
        if c:
            counts = f"{c['pass']:>5}  {c['fail']:>5}  {c['deviation']:>9}  {c['inconclusive']:>12}"
            lines.append(f"  {rule_id:<26}  {counts}  {_short(rule.clause)}")
    unchecked = [r for r in RULES if r not in summary.by_rule]
    if unchecked:
        lines.append(f"  not checked (no flow of the capture they apply to): {', '.join(unchecked)}")
    lines.append(f"verdict: {summary.verdict}")
    return lines


_WHERE = re.compile(r"\[?([0-9a-fA-F.:]+?)\]?:(\d+) -> \[?([0-9a-fA-F.:]+?)\]?:(\d+)")


def problem_line(problem: Problem, ends: Ends) -> str:
    """A decoding problem, with the node names of the connection's ends when known."""
    text = f"{PROG}: {problem}"
    match = _WHERE.search(problem.where)
    if match:
        a = ends.end((match.group(1), int(match.group(2))))
        b = ends.end((match.group(3), int(match.group(4))))
        if a.name != f"{match.group(1)}:{match.group(2)}" or b.name != f"{match.group(3)}:{match.group(4)}":
            text = f"{PROG}: {problem.kind.value}: {problem.where} ({a.name} -> {b.name}): {problem.detail}"
    return text


def _finding_json(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule_id,
        "clause": f.clause,
        "verdict": f.verdict,
        "detail": f.detail,
        "frame": f.message.frame if f.message is not None else None,
        "leg": f.leg or None,
        "choice": f.choice or None,
    }


def _flow_json(flow: Flow, findings: list[Finding]) -> dict[str, Any]:
    frames = [h.message.frame for h in flow.hops]
    return {
        "id": flow.id,
        "kinds": sorted(k.value for k in flow.kinds),
        "call_id": flow.call_id,
        "frames": [min(frames), max(frames)],
        "messages": len(flow.hops),
        "note": flow.note or None,
        "findings": [_finding_json(f) for f in findings],
    }


class _JsonReport:
    """The JSON report, written as flows close (the flows array is streamed)."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.file = path.open("w", encoding="utf-8")
        self.file.write(json.dumps(header)[:-1] + ', "flows": [\n')
        self.first = True

    def flow(self, flow: Flow, findings: list[Finding]) -> None:
        self.file.write(("" if self.first else ",\n") + json.dumps(_flow_json(flow, findings)))
        self.first = False

    def close(self, problems: list[str], summary: Summary) -> None:
        tail = {
            "problems": problems,
            "summary": {
                "flows": summary.flows,
                "verdicts": dict(summary.verdicts),
                "rules": {r: dict(c) for r, c in summary.by_rule.items()},
                "problems": summary.problems,
                "verdict": summary.verdict,
                "exit_status": summary.exit_status,
            },
        }
        self.file.write("\n], " + json.dumps(tail)[1:] + "\n")
        self.file.close()


def run(
    capture: Path,
    verifier: Verifier,
    *,
    keylog: Path | None = None,
    json_path: Path | None = None,
    out: TextIO,
    err: TextIO,
) -> int:
    """Verify ``capture`` with ``verifier`` (:meth:`Verifier.of` a topology); returns the exit
    status (see the module docstring)."""
    ends = verifier.tracker.ends
    lines: list[str] = []
    keys = KeyLog()
    if keylog is not None:
        try:
            keys = KeyLog.from_file(keylog)
        except (OSError, ValueError) as exc:
            reason = "no such file" if isinstance(exc, FileNotFoundError) else str(exc)
            lines.append(
                f"{PROG}: error: key log {keylog}: {reason}; verifying with the secrets in the capture only"
            )
            verifier.summary.problems += 1
            print(lines[-1], file=err)
    report = None
    if json_path is not None:
        try:
            report = _JsonReport(json_path, {"capture": str(capture), "rules": list(RULES)})
        except OSError as exc:
            print(f"{PROG}: error: cannot write {json_path}: {exc.strerror}", file=err)
            return EXIT_FAIL
    decoder = Decoder(keys)

    def emit(results: list[tuple[Flow, list[Finding]]]) -> None:
        for flow, findings in results:
            print("\n".join(flow_lines(flow, findings)), file=out)
            if report is not None:
                report.flow(flow, findings)

    try:
        messages = iter_messages(capture, decoder=decoder)
        for result in verifier.judge(messages, decoder.problems, decoder.connections):
            emit([result])
    except CaptureFileError as exc:  # the file ends badly: judge what was read
        lines.append(f"{PROG}: error: {exc}")
        verifier.summary.problems += 1
        print(lines[-1], file=err)
        verifier.receive_problems(decoder.problems)
        verifier.tracker.knowledge.receive_connections(decoder.connections)
        emit(verifier.finish())
    for problem in decoder.problems:
        lines.append(problem_line(problem, ends))
        print(lines[-1], file=err)
    for message, leg in verifier.unparsable:
        lines.append(f"{PROG}: unparsable-sip: frame {message.frame} {leg}: {message.error}")
        print(lines[-1], file=err)
    hidden = verifier.summary.problems - len(lines)
    if verifier.unparsable and hidden > 0:
        lines.append(f"{PROG}: unparsable-sip: {hidden} more not shown")
        print(lines[-1], file=err)
    print("\n".join(summary_lines(verifier.summary)), file=out)
    if report is not None:
        report.close(lines, verifier.summary)
    return verifier.summary.exit_status
