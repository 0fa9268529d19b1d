"""The conformance report of a run: ``conformance.html`` (one self-contained file) and ``conformance.md``.

It answers, for a standards discussion: what was tested (SUT, PICS), what passed and what failed
(failures first), which requirement of TR 23.701 5.2.2 each verdict backs (every requirement of
``features/requirements.toml``, uncovered ones said plainly), how each scenario went step by step with
its ladder diagram when the capture decoder wrote one, what the verdicts rest on (profile assumptions),
where the text itself is open, and the PICS proforma filled in with the SUT's answers (section 9).

The pytest plugin (``reports.plugin``) calls :func:`generate` at the end of every run; the console
script ``wimpu-conformance-report`` (:func:`main`) regenerates it from the files of a run.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from conformance.clause_chain import ClauseLinks, clause_links
from conformance.harness.wire_verdict import WireVerdict
from conformance.pics_proforma import Proforma, load_proforma
from conformance.tp_table import StepCoverage, TestPurpose, load_step_coverage, load_test_purposes
from reports import render_html, render_md
from reports.evidence import STALE_SLACK, capture_folders, captures_dir, draw_ladder
from reports.results import SEVERITY, RunInfo, ScenarioResult, Verdict, load_run
from reports.screens import ScreenSet, load_screen_sets
from reports.sources import (
    OpenPoint,
    load_pics,
    load_pics_header,
    load_requirements,
    open_points,
    pixit_sut,
    profile_assumptions,
    purposes_in_features,
)

if TYPE_CHECKING:
    from conformance.traceability import PicsItem, Requirement

__all__ = [
    "Ladder",
    "Report",
    "RequirementRow",
    "build",
    "find_root",
    "generate",
    "ladder_candidates",
    "main",
    "severity",
]

TITLE = "wIMPU conformance report: 3GPP TR 23.701 clause 5.2.2 (WebRTC access to IMS with wIMPU)"
DEFAULT_SUT = "bundled reference implementation, in-process"


@dataclass(frozen=True)
class Ladder:
    """The ladder diagram of one scenario: SVG text, where it came from, and the path Markdown links to.

    ``drawn`` is True when the SVG was drawn here from a ``.ladder.json`` (safe to inline); a
    pre-rendered ``.ladder.svg`` is embedded as an image instead, where no script of it can run.
    """

    svg: str
    source: str
    link: str
    drawn: bool
    capture: str = ""
    """The scenario's capture file next to the ladder (``.pcapng``), if there is one."""
    rules: str = ""
    """What the capture rules said of that capture when the scenario ended (``.verdicts.json``): the
    counts, then every finding that is not a pass, one per line; empty when there is no such file."""


@dataclass
class RequirementRow:
    """One requirement, the scenarios that cover it in this run and its overall verdict."""

    requirement: Requirement
    scenarios: list[tuple[str, ScenarioResult]]
    not_run: list[str]
    verdict: Verdict
    links: ClauseLinks = field(default_factory=lambda: ClauseLinks((), ()))
    "The reference functions that implement its clause and step, and the capture rules that judge it."


@dataclass
class Report:
    """Everything the renderers show, in the order they show it."""

    title: str
    generated: str
    run: RunInfo
    sut: str
    pics_path: str
    pics_header: dict[str, str]
    pics: list[PicsItem]
    scenarios: list[ScenarioResult]
    requirements: list[RequirementRow]
    assumptions: list[tuple[str, str]]
    open_points: list[OpenPoint]
    purposes: list[TestPurpose] = field(default_factory=list)
    "The test purposes as a table (docs/test-purposes.md): requirements, PICS selection, behaviour."
    steps: list[StepCoverage] = field(default_factory=list)
    "Each numbered step of the text with its test purposes per behaviour group, or why none."
    proforma: Proforma | None = None
    "The suite's PICS proforma (docs/pics-proforma.md), filled in with the answers of ``pics``."
    pics_of_run: bool = True
    """Whether ``pics`` is the PICS the run used (given, or recorded in run.json); otherwise it is
    ``features/pics.toml``, the reference implementation's answers."""
    ladders: dict[str, Ladder] = field(default_factory=dict)
    screens: list[ScreenSet] = field(default_factory=list)
    "Screenshots of the real clients' tests of this run (the browser WIC; section 10)."
    warnings: list[str] = field(default_factory=list)

    @property
    def counts(self) -> Counter[Verdict]:
        """Scenario verdicts, counted."""
        return Counter(result.verdict for result in self.scenarios)


def severity(verdict: Verdict) -> int:
    """Rank of a verdict in every list of the report: most severe first."""
    return SEVERITY.index(verdict)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def overall(row_results: list[ScenarioResult], requirement: Requirement, covered: bool) -> Verdict:
    """The verdict of a requirement over the verdicts of its scenarios.

    The most severe first: FAIL, ERROR, INCONCLUSIVE, PROFILE DEVIATION, PASS, NOT APPLICABLE. A
    requirement whose scenarios only deviate from the solution profile is PROFILE DEVIATION: the
    text's checks held, it is never a FAIL of the text.
    """
    if not requirement.testable:
        return Verdict.NOT_TESTABLE
    verdicts = {result.verdict for result in row_results}
    for verdict in (
        Verdict.FAIL,
        Verdict.ERROR,
        Verdict.INCONCLUSIVE,
        Verdict.PROFILE_DEVIATION,
        Verdict.PASS,
        Verdict.NOT_APPLICABLE,
    ):
        if verdict in verdicts:
            return verdict
    return Verdict.NOT_RUN if covered else Verdict.UNCOVERED


def ladder_candidates(captures: Path, result: ScenarioResult) -> list[Path]:
    """Where the capture decoder may have written the ladder of ``result``, in order of preference.

    The convention is ``captures/<feature>/<test>.ladder.json``: ``<feature>`` is the feature file's
    path under ``features/`` without ``.feature`` (``registration/wic_registration``), ``<test>`` the
    pytest test name made file-name-safe (``test_a_wic_registers_for_the_first_time_alice-A1`` for
    ``test_a_wic_registers_for_the_first_time[alice-A1]``, what the step harness writes); the test name
    itself and the feature file's stem alone are accepted too. A pre-rendered ``.ladder.svg`` is used
    when there is no JSON.
    """
    folders = capture_folders(result.feature)
    names = list(dict.fromkeys([_slug(result.test), result.test, _slug(result.label)]))
    return [
        captures / folder / f"{name}{ext}"
        for ext in (".ladder.json", ".ladder.svg")
        for folder in folders
        for name in names
    ]


class _Stale(ValueError):
    """A ladder file older than the run: a previous run's capture."""


def _started(run: RunInfo) -> float | None:
    """When the run started (seconds since the epoch), if ``run.json`` says."""
    try:
        moment = datetime.fromisoformat(run.started)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _rules(path: Path) -> str:
    """The capture rules' verdicts on a scenario's capture (``wimpu-conformance verify --json``,
    written when the scenario ended), as :attr:`Ladder.rules`."""
    if not path.is_file():
        return ""
    try:
        verdict = WireVerdict.read(path, 0)
    except RuntimeError as exc:
        return f"unreadable: {exc}"
    counts = Counter(str(f.get("verdict")) for f in verdict.findings())
    head = ", ".join(f"{counts[v]} {v}" for v in ("pass", "fail", "deviation", "inconclusive") if counts[v])
    others = [
        f"{str(f['verdict']).upper()} {verdict.line(f)}" for f in verdict.findings() if f["verdict"] != "pass"
    ]
    return "\n".join([f"{head or 'no rule applied'} ({path.name})", *others])


def _ladder(
    captures: Path, output: Path, result: ScenarioResult, since: float | None = None
) -> Ladder | None:
    """The ladder of ``result``; :class:`_Stale` for a file older than the run (a previous run's)."""
    for path in ladder_candidates(captures, result):
        if not path.is_file():
            continue
        if since is not None and path.stat().st_mtime < since - STALE_SLACK:
            raise _Stale(str(path))
        link_path = (
            output
            / "ladders"
            / _slug(result.feature.removesuffix(".feature"))
            / (_slug(result.test) + ".svg")
        )
        link_path.parent.mkdir(parents=True, exist_ok=True)
        drawn = path.suffix == ".json"
        if drawn:
            svg = draw_ladder(path, title=result.label)
        else:
            svg = path.read_text(encoding="utf-8")
        link_path.write_text(svg, encoding="utf-8")
        stem = path.name.removesuffix(".ladder.json").removesuffix(".ladder.svg")
        capture = path.with_name(f"{stem}.pcapng")
        return Ladder(
            svg,
            str(path),
            link_path.relative_to(output).as_posix(),
            drawn,
            str(capture) if capture.is_file() else "",
            _rules(path.with_name(f"{stem}.verdicts.json")),
        )
    return None


def build(
    root: Path,
    reports_dir: Path,
    *,
    pics: Path | None = None,
    pixit: Path | None = None,
    captures: Path | None = None,
    junit: Path | None = None,
    cucumber: Path | None = None,
) -> Report:
    """Read everything the report needs and put it in order (no rendering, no writing but ladders)."""
    results, run = load_run(reports_dir, junit=junit, cucumber=cucumber)
    pics_of_run = pics is not None or bool(run.pics)
    pics = pics or (Path(run.pics) if run.pics else root / "features" / "pics.toml")
    if pixit is None and run.pixit:
        pixit = Path(run.pixit)
    requirements = load_requirements(root)
    planned = purposes_in_features(root)
    results = sorted(results, key=lambda r: (severity(r.verdict), r.feature, r.name, r.test))
    rows: list[RequirementRow] = []
    chain = clause_links(requirements)
    for requirement in requirements:
        linked = [(tp, r) for tp in requirement.covered_by for r in results if tp in r.test_purposes]
        ran_tps = {tp for tp, _ in linked}
        not_run = [
            f"{tp}: {label}"
            for tp in requirement.covered_by
            if tp not in ran_tps
            for label in planned.get(tp, [])
        ]
        covered = any(planned.get(tp) for tp in requirement.covered_by) or bool(linked)
        verdict = overall([r for _, r in linked], requirement, covered)
        rows.append(RequirementRow(requirement, linked, not_run, verdict, chain[requirement.id]))
    purposes = load_test_purposes(root) if (root / "features" / "tags.toml").is_file() else []
    report = Report(
        title=TITLE,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        run=run,
        sut=pixit_sut(pixit) if pixit else DEFAULT_SUT,
        pics_path=_display(pics, root),
        pics_header=load_pics_header(pics),
        pics=load_pics(root, pics),
        scenarios=results,
        requirements=rows,
        assumptions=profile_assumptions(root / "docs" / "solution-profile.md"),
        open_points=open_points(root / "docs" / "open-points.md"),
        purposes=purposes,
        steps=load_step_coverage(root, purposes) if (root / "features" / "steps.toml").is_file() else [],
        proforma=_proforma(root),
        pics_of_run=pics_of_run,
    )
    captures = captures or captures_dir(root)
    since = _started(run)
    stale: list[str] = []
    for result in results:
        try:
            ladder = _ladder(captures, reports_dir, result, since)
        except _Stale as exc:
            stale.append(str(exc))
            continue
        except (OSError, ValueError) as exc:
            report.warnings.append(f"ladder of {result.key} not drawn: {exc}")
            continue
        if ladder is not None:
            report.ladders[result.key] = dataclasses.replace(
                ladder,
                source=_display(Path(ladder.source), root),
                capture=_display(Path(ladder.capture), root) if ladder.capture else "",
            )
    report.screens, unreadable = load_screen_sets(captures, since)
    report.warnings += unreadable
    if stale:
        report.warnings.append(
            f"{len(stale)} ladder file(s) older than the run not shown (a previous run's captures; this "
            f"run wrote none for those scenarios), e.g. {stale[0]}"
        )
    return report


def _proforma(root: Path) -> Proforma | None:
    """The suite's PICS proforma: its items, status rules and selection expressions (not the SUT's)."""
    features = root / "features"
    if not (features / "selection.toml").is_file():
        return None
    return load_proforma(features / "pics.toml", features / "selection.toml")


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def generate(
    root: Path,
    reports_dir: Path,
    *,
    pics: Path | None = None,
    pixit: Path | None = None,
    captures: Path | None = None,
    junit: Path | None = None,
    cucumber: Path | None = None,
) -> list[Path]:
    """Write ``conformance.html`` and ``conformance.md`` into ``reports_dir``; the paths written.

    ``junit`` and ``cucumber`` name the run's files when they are not in ``reports_dir``.
    """
    reports_dir.mkdir(parents=True, exist_ok=True)
    report = build(
        root, reports_dir, pics=pics, pixit=pixit, captures=captures, junit=junit, cucumber=cucumber
    )
    html_path, md_path = reports_dir / "conformance.html", reports_dir / "conformance.md"
    html_path.write_text(render_html.render(report), encoding="utf-8")
    md_path.write_text(render_md.render(report), encoding="utf-8")
    return [html_path, md_path]


def find_root(start: Path) -> Path:
    """The checkout: the nearest directory at or above ``start`` with ``features/requirements.toml``."""
    for folder in [start, *start.parents]:
        if (folder / "features" / "requirements.toml").is_file():
            return folder
    return start


def main(argv: list[str] | None = None) -> int:
    """``wimpu-conformance-report``: regenerate the conformance report from the files of a run."""
    parser = argparse.ArgumentParser(prog="wimpu-conformance-report", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="the suite's checkout (default: found from the cwd)")
    parser.add_argument("--reports-dir", type=Path, help="the run's reports (default: <root>/reports)")
    parser.add_argument("--pics", type=Path, help="PICS file (default: the run's, else features/pics.toml)")
    parser.add_argument("--pixit", type=Path, help="PIXIT file describing the SUT (TOML)")
    parser.add_argument(
        "--captures",
        type=Path,
        help="captures directory (default: $WIMPU_CAPTURES_DIR, else <root>/captures)",
    )
    args = parser.parse_args(argv)
    root = (args.root or find_root(Path.cwd())).resolve()
    reports_dir = args.reports_dir or root / "reports"
    try:
        written = generate(root, reports_dir, pics=args.pics, pixit=args.pixit, captures=args.captures)
    except (OSError, ValueError) as exc:
        print(f"wimpu-conformance-report: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
