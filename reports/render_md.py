"""``conformance.md``: the content of the HTML report as Markdown, to paste into a 3GPP contribution.

Tables are GitHub-flavoured Markdown (pandoc converts them for a Word contribution); ladder diagrams
are linked SVG files under ``ladders/`` next to the report.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from conformance.tp_table import GROUPS, step_cell
from reports.results import SEVERITY, ScenarioResult, Verdict

if TYPE_CHECKING:
    from reports.conformance import Report, RequirementRow

__all__ = ["render"]


def _cell(text: str) -> str:
    """Text for one table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|") or " "


def _code(text: str) -> str:
    text = " ".join(text.split())
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}" if text else ""


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out + [""]


def _header(report: Report) -> list[str]:
    run = report.run
    out = [f"# {report.title}", ""]
    if run.partial:
        out += [f"**PARTIAL RUN**: {'; '.join(run.partial_reasons)}", ""]
    pics = report.pics_path + (f" ({report.pics_header['sut']})" if "sut" in report.pics_header else "")
    out += _table(
        ["", ""],
        [
            ["Run", (run.started or "unknown") + (f" to {run.finished}" if run.finished else "")],
            ["Report generated", report.generated],
            ["System under test", report.sut],
            ["PICS", pics],
            ["Text", report.pics_header.get("text", "3GPP TR 23.701 clause 5.2.2")],
            ["Command", _code(shlex.join(run.args)) or "unknown"],
            ["Read from", ", ".join(run.sources) or "nothing"],
        ],
    )
    out += [f"> Warning: {w}" for w in report.warnings]
    return out


def _summary(report: Report) -> list[str]:
    scen = report.counts
    scenario_verdicts = {
        Verdict.PASS,
        Verdict.FAIL,
        Verdict.ERROR,
        Verdict.INCONCLUSIVE,
        Verdict.PROFILE_DEVIATION,
        Verdict.NOT_APPLICABLE,
    }
    rows = [
        [
            v.value,
            str(scen.get(v, 0)) if v in scenario_verdicts else "-",
            str(sum(1 for row in report.requirements if row.verdict is v)),
        ]
        for v in SEVERITY
    ]
    rows.append(["**Total**", str(len(report.scenarios)), str(len(report.requirements))])
    out = ["## 1 Summary of verdicts", ""] + _table(["Verdict", "Scenarios", "Requirements"], rows)
    out += [
        "ERROR is a problem of the test system, not a failure of the SUT: a setup or teardown error, or a "
        "premise the harness did not bring about (its reason begins `harness error:`), a defect of the "
        "suite to report; "
        "NOT APPLICABLE: excluded by the PICS answers; UNCOVERED: a testable requirement no scenario checks "
        "yet; NOT RUN: its scenarios exist but were not selected. PROFILE DEVIATION: every check of the "
        "text held, but the SUT did not follow a choice of this project's solution profile "
        "(`docs/solution-profile.md`); it is not a failure of the text, and is listed apart below.",
        "",
        "### Failures and inconclusive verdicts",
        "",
    ]
    bad = [r for r in report.scenarios if r.verdict in (Verdict.FAIL, Verdict.ERROR, Verdict.INCONCLUSIVE)]
    out += [
        f"1. **{r.verdict.value}** {r.label} ({r.feature})" + (f": {_code(r.reason)}" if r.reason else "")
        for r in bad
    ] or ["None."]
    out.append("")
    out += _deviations(report)
    others = report.run.other_tests
    if sum(others.values()):
        parts = ", ".join(
            f"{n} {v.value}" for v, n in sorted(others.items(), key=lambda kv: SEVERITY.index(kv[0]))
        )
        out += [f"Other tests of the run (unit, end-to-end, mutants): {parts}.", ""]
        out += [f"- {_code(name)}: {reason}" for name, reason in report.run.other_failures]
    return out


def _deviations(report: Report) -> list[str]:
    """The scenarios that deviated from a solution-profile choice (a FAIL's deviations too), and the
    profile checks the PICS left out: apart from the failures of the text."""
    out = ["### Profile deviations (not failures of the text)", ""]
    found = [(r, d) for r in report.scenarios for d in r.deviations]
    out += [f"1. **{r.verdict.value}** {r.label} ({r.feature}): {_code(d)}" for r, d in found] or ["None."]
    out.append("")
    unchecked = sorted({u for r in report.scenarios for u in r.unchecked})
    if unchecked:
        out += ["Profile checks not made (the SUT's PICS says it chose otherwise):", ""]
        out += [f"- {_code(u)}" for u in unchecked] + [""]
    return out


def _matrix_cell(row: RequirementRow) -> str:
    req = row.requirement
    parts = [f"{r.verdict.value} {tp} {r.label}" for tp, r in row.scenarios]
    parts += [f"NOT RUN {label}" for label in row.not_run]
    if not req.testable:
        parts.append(f"not testable: {req.rationale}")
    elif row.verdict is Verdict.UNCOVERED:
        parts.append("**not covered by any scenario yet**")
    if req.partial:
        parts.append(f"partial coverage: {req.note}")
    return "<br>".join(_cell(p) for p in parts)


def _matrix(report: Report) -> list[str]:
    rows = [
        [
            r.requirement.id,
            r.requirement.clause,
            r.requirement.step,
            r.requirement.text,
            r.requirement.kind,
            "yes" if r.requirement.testable else "no",
            _matrix_cell(r),
            f"**{r.verdict.value}**" + (" (partial)" if r.requirement.partial else ""),
        ]
        for r in report.requirements
    ]
    head = ["Requirement", "Clause", "Step", "Text", "Kind", "Testable", "Scenarios and verdicts", "Verdict"]
    return ["## 2 Traceability matrix", ""] + _table(head, rows)


def _chain(report: Report) -> list[str]:
    rows = [
        [
            r.requirement.id,
            " step ".join(x for x in (r.requirement.clause, r.requirement.step) if x),
            "<br>".join(_code(f) for f in r.links.functions) or "-",
            ", ".join(_code(x) for x in r.links.rules) or "-",
            "<br>".join(_cell(f"{tp} {res.verdict.value}") for tp, res in r.scenarios) or "-",
            r.verdict.value,
        ]
        for r in report.requirements
    ]
    head = ["Requirement", "Clause", "Reference functions", "Capture rules", "Scenarios", "Verdict"]
    return [
        "## 7 From clause to verdict",
        "",
        "For each requirement: the functions of the bundled reference marked with its clause and step "
        "(`@clause`, `reference/spec.py`), the rules of `wimpu-conformance verify` that judge it on the "
        "wire, and the scenarios of this run with their verdicts.",
        "",
        *_table(head, rows),
        "",
    ]


def _purposes(report: Report) -> list[str]:
    rows = [
        [
            tp.id,
            tp.group,
            ", ".join(tp.requirements) or "-",
            _code(tp.selection),
            ", ".join(tp.configurations) or "-",
            tp.ensure(),
        ]
        for tp in report.purposes
    ]
    head = ["Test purpose", "Group", "Requirements", "PICS selection", "Configurations", "Expected behaviour"]
    return [
        "## 8 Test purposes",
        "",
        "Generated from the features (`docs/test-purposes.md` has the initial conditions too).",
        "",
        *_table(head, [[_cell(c) for c in row] for row in rows]),
        "",
        *_steps(report),
    ]


def _steps(report: Report) -> list[str]:
    """Section 8's matrix: each numbered step of the text, its test purposes per behaviour group."""
    if not report.steps:
        return []
    rows = [[f"{s.clause} step {s.step}: {s.text}", *(step_cell(s, g) for g in GROUPS)] for s in report.steps]
    return [
        "### Numbered steps and behaviour groups",
        "",
        "Where a group has no test purpose, `features/steps.toml` says why: *absent* (no such behaviour"
        " for the step) or **missing** (the behaviour exists, no test purpose tests it yet).",
        "",
        *_table(["Step", *GROUPS], [[_cell(c) for c in row] for row in rows]),
        "",
    ]


def _proforma(report: Report) -> list[str]:
    """Section 9: the PICS proforma (docs/pics-proforma.md) filled in with the answers of the run."""
    proforma = report.proforma
    if proforma is None:
        return []
    answers = {item.id: item.answer for item in report.pics}
    if report.pics_of_run:
        whose = f"the answers of the SUT's PICS used in this run, {_code(report.pics_path)}"
        answer_head = "Answer"
    else:
        whose = (
            "the answers of the reference implementation (`features/pics.toml`), not the SUT's: the run "
            "did not record its PICS"
        )
        answer_head = "Reference's answer"
    out = [
        "## 9 PICS proforma",
        "",
        f"The PICS proforma of `docs/pics-proforma.md` (ISO/IEC 9646-7 style), filled in with {whose}.",
        "",
        "### 9.1 Status rules",
        "",
        *_table(
            ["Rule", "Meaning", "Items"],
            [
                [_code(rule), text, ", ".join(proforma.rule_items(rule)) or "-"]
                for rule, text in proforma.rules.items()
            ],
        ),
    ]
    head = ["Item", "Question", "Clause", "Status", "Allowed answers", answer_head]
    head += ["Reference's answer"] if report.pics_of_run else []
    number = 1
    for number, group in enumerate(proforma.groups(), 2):
        rows = [
            [_code(i.id), i.question, i.clause, _code(i.status), " / ".join(i.answers),
             f"**{answers.get(i.id, 'unanswered')}**", *([i.answer] if report.pics_of_run else [])]
            for i in group.items
        ]  # fmt: skip
        out += [f"### 9.{number} {group.title}", "", *_table(head, rows)]
    rows = [
        [a.tp, _code(str(a.selection)), a.read, "yes" if a.applies else "**no**"]
        for a in proforma.applicability(answers)
    ]
    out += [f"### 9.{number + 1} Applicability of the test purposes", ""]
    return out + _table(["Test purpose", "PICS selection", "Answers read", "Applies"], rows)


def _scenario(report: Report, r: ScenarioResult) -> list[str]:
    out = [
        f"### {r.verdict.value}: {r.label}",
        "",
        f"{r.feature_name or r.feature} ({_code(r.feature)}), test {_code(r.test)}, {r.duration:.2f} s; "
        f"tags {' '.join(_code('@' + t) for t in r.tags)}",
        "",
    ]
    if r.reason:
        out += [f"{'Failure' if r.verdict is Verdict.FAIL else 'Reason'}: {_code(r.reason)}", ""]
    if r.details:
        out += ["```text", r.details.replace("```", "'''"), "```", ""]
    out += [f"Profile deviation: {_code(d)}" for d in r.deviations]
    out += [f"Profile check {_code(u)}" for u in r.unchecked]
    if r.deviations or r.unchecked:
        out.append("")
    out += [f"{n}. **{s.keyword}** {s.text} *({s.status})*" for n, s in enumerate(r.steps, 1)]
    if r.steps:
        out.append("")
    ladder = report.ladders.get(r.key)
    alt = r.label.replace("[", "\\[").replace("]", "\\]")
    out += [f"![Ladder diagram of {alt}]({ladder.link})" if ladder else "Ladder diagram: no capture.", ""]
    if ladder is not None and ladder.capture:
        out += [f"Capture: {_code(ladder.capture)}", ""]
    if ladder is not None and ladder.rules:
        head, *others = ladder.rules.splitlines()
        out += [f"Capture rules (`wimpu-conformance verify`): {head}", ""]
        out += [*(f"- {_code(line)}" for line in others), *([""] if others else [])]
    return out


def _tail(report: Report) -> list[str]:
    out = ["## 4 PICS", "", f"Answers of {_code(report.pics_path)}.", ""]
    out += _table(
        ["Item", "Clause", "Question", "Status", "Answer", "Gates"],
        [
            [p.id, p.clause, p.question, p.status, f"**{p.answer}**", " ".join("@" + g for g in p.gates)]
            for p in report.pics
        ],
    )
    out += [
        "## 5 Profile assumptions",
        "",
        "The verdicts rest on these stage-3 choices of `docs/solution-profile.md` (first sentence of each "
        "section). 3GPP never standardised this solution: W6, W7 and the wIMPU Registrar are this "
        "project's proposal.",
        "",
    ]
    out += [f"- **{heading}**: {sentence}" for heading, sentence in report.assumptions]
    out += [
        "",
        "## 6 Open points for the text",
        "",
        "Where TR 23.701 5.2.2 is ambiguous, silent or self-contradictory, and what the suite assumes "
        "(`docs/open-points.md`).",
        "",
    ]
    heading = None
    for point in report.open_points:
        if point.heading != heading:
            heading = point.heading
            out += ["", f"### {heading}", ""]
        out.append(f"{point.number}. {point.text}")
    return out + [""]


def _screens(report: Report) -> list[str]:
    """Section 10: the screenshots of the real clients' tests (the browser WIC)."""
    if not report.screens:
        return []
    out = [
        "## 10 Real clients",
        "",
        "Screenshots of the tests that drive a real client (`tests/interop/`).",
        "",
    ]
    for screens in report.screens:
        out += [f"### {screens.title}: {screens.status}", "", f"`{screens.test}`", ""]
        out += [f"{n}. {s.stage}: `{s.path}`" for n, s in enumerate(screens.screens, 1)]
        out.append("")
    return out


def render(report: Report) -> str:
    """The whole document."""
    out = _header(report) + _summary(report) + _matrix(report)
    out += [
        "## 3 Scenarios",
        "",
        "Failures first; each scenario with its Gherkin steps and their status.",
        "",
    ]
    if not report.scenarios:
        out += ["**No scenario results.**", ""]
    for result in report.scenarios:
        out += _scenario(report, result)
    out += _tail(report)
    out += _chain(report)
    out += _purposes(report)
    out += _proforma(report)
    out += _screens(report)
    out.append(f"*Generated by `reports.conformance` on {report.generated}.*")
    return "\n".join(out) + "\n"
