"""``conformance.html``: one self-contained page (inline CSS and SVG, no script, no network)."""

from __future__ import annotations

import base64
import re
import shlex
from html import escape
from typing import TYPE_CHECKING

from conformance.tp_table import GROUPS
from reports.results import SEVERITY, ScenarioResult, Verdict

if TYPE_CHECKING:
    from reports.conformance import Report, RequirementRow

__all__ = ["render"]

_CSS = """
body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;font-size:14px;color:#1d2530;margin:0 auto;
 max-width:1400px;padding:0 24px 48px;line-height:1.4}
.screens{display:flex;flex-wrap:wrap;gap:12px}.screens figure{margin:0;max-width:320px}
.screens img{max-width:320px;border:1px solid #c9d3df}
h1{font-size:22px;margin:20px 0 8px}h2{font-size:18px;border-bottom:2px solid #c9d3df;padding-bottom:4px;
 margin-top:32px}h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #c9d3df;padding:4px 7px;
 vertical-align:top;text-align:left}th{background:#eef2f7}
table.meta th{width:130px}td.num{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:12px}
.v{display:inline-block;padding:1px 6px;border-radius:3px;font-weight:bold;font-size:12px;
 white-space:nowrap;color:#fff}
.v-PASS{background:#2e7d32}.v-FAIL{background:#c62828}.v-ERROR{background:#d84315}
.v-INCONCLUSIVE{background:#f9a825;color:#222}.v-PROFILE-DEVIATION{background:#5c6bc0}.v-NOT-APPLICABLE{background:#78909c}
.v-NOT-RUN{background:#cfd8dc;color:#222}.v-UNCOVERED{background:#6a1b9a}
.v-NOT-TESTABLE{background:#eceff1;color:#555;border:1px solid #b0bec5}
.partial{background:#c62828;color:#fff;font-size:18px;font-weight:bold;padding:10px 14px;margin:12px 0}
.warn{background:#fff3e0;border-left:4px solid #ef6c00;padding:6px 10px}
#matrix-table{width:100%;table-layout:fixed}#matrix-table col.c-id{width:112px}
#matrix-table col.c-clause{width:74px}#matrix-table col.c-step{width:44px}#matrix-table col.c-text{width:31%}
#matrix-table col.c-kind{width:84px}#matrix-table col.c-testable{width:76px}
#matrix-table col.c-verdict{width:136px}#matrix-table th{font-size:13px}
#matrix-table td:nth-child(7){overflow-wrap:anywhere}
#chain-table{width:100%;table-layout:fixed}#chain-table col.c-id{width:112px}
#chain-table col.c-clause{width:110px}#chain-table col.c-rules{width:18%}#chain-table col.c-scen{width:18%}
#chain-table col.c-verdict{width:136px}#chain-table td{overflow-wrap:anywhere}
#purposes-table{width:100%;table-layout:fixed}#purposes-table col.c-id{width:150px}
#purposes-table col.c-group{width:90px}#purposes-table col.c-req{width:18%}
#purposes-table col.c-sel{width:20%}
#purposes-table td{overflow-wrap:anywhere}
table.proforma{width:100%}table.proforma td{overflow-wrap:anywhere}
tr.row-FAIL td:first-child{border-left:4px solid #c62828}
tr.row-UNCOVERED td:first-child{border-left:4px solid #6a1b9a}
ul.links{margin:0;padding-left:16px}ul.links li{margin:1px 0}
ol.steps{margin:6px 0;padding-left:24px}ol.steps li{margin:2px 0}
.st{font-size:11px;font-weight:bold;margin-left:6px}.st-passed{color:#2e7d32}.st-failed{color:#c62828}
.st-not-run,.st-unknown,.st-skipped,.st-not-checked{color:#78909c}.st-deviated{color:#3949ab}
li.step-failed{background:#ffebee}li.step-not-run,li.step-unknown{color:#78909c}
article{border:1px solid #c9d3df;border-radius:4px;padding:4px 14px 10px;margin:14px 0}
article.a-FAIL,article.a-ERROR{border-color:#c62828}
pre{background:#f6f8fa;border:1px solid #dde3ea;padding:8px;overflow-x:auto;font-size:12px}
.ladder-box{overflow-x:auto;border:1px solid #dde3ea;background:#fff;padding:4px}
p.source code{overflow-wrap:anywhere}
.muted{color:#66727f}.tag{font-size:11px;color:#455a64;background:#eceff1;padding:0 4px;margin-right:3px;
 border-radius:2px}nav ol{columns:2}
@media print{nav{display:none}article{break-inside:avoid}}
"""


def _badge(verdict: Verdict) -> str:
    return f'<span class="v v-{verdict.value.replace(" ", "-")}">{escape(verdict.value)}</span>'


def _inline(text: str) -> str:
    """Escape, then render the Markdown of the docs that matters here: `code` and *emphasis*."""
    text = escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"<em>\1</em>", text)


def _header(report: Report) -> list[str]:
    run = report.run
    out = [f"<h1>{escape(report.title)}</h1>"]
    if run.partial:
        reasons = "; ".join(run.partial_reasons)
        out.append(f'<p class="partial" id="partial-run">PARTIAL RUN: {escape(reasons)}</p>')
    rows = [
        ("Run", f"{run.started or 'unknown'}" + (f" to {run.finished}" if run.finished else "")),
        ("Report generated", report.generated),
        ("System under test", report.sut),
        (
            "PICS",
            f"{report.pics_path}"
            + (f" ({report.pics_header['sut']})" if "sut" in report.pics_header else ""),
        ),
        ("Text", report.pics_header.get("text", "3GPP TR 23.701 clause 5.2.2")),
        ("Command", shlex.join(run.args) or "unknown"),
        ("Read from", ", ".join(run.sources) or "nothing"),
    ]
    out.append('<table class="meta">')
    out += [f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows]
    out.append("</table>")
    out += [f'<p class="warn">{escape(w)}</p>' for w in report.warnings]
    out.append(
        '<nav><ol><li><a href="#summary">Summary of verdicts</a></li><li><a href="#matrix">Traceability'
        ' matrix</a></li><li><a href="#scenarios">Scenarios</a></li><li><a href="#pics">PICS</a></li>'
        '<li><a href="#assumptions">Profile assumptions</a></li><li><a href="#open-points">Open points for'
        ' the text</a></li><li><a href="#chain">From clause to verdict</a></li>'
        '<li><a href="#purposes">Test purposes</a></li><li><a href="#pics-proforma">PICS proforma</a></li>'
        + ('<li><a href="#real-clients">Real clients</a></li>' if report.screens else "")
        + "</ol></nav>"
    )
    return out


def _summary(report: Report) -> list[str]:
    scen = report.counts
    reqs = {v: sum(1 for row in report.requirements if row.verdict is v) for v in SEVERITY}
    scenario_verdicts = {
        Verdict.PASS,
        Verdict.FAIL,
        Verdict.ERROR,
        Verdict.INCONCLUSIVE,
        Verdict.PROFILE_DEVIATION,
        Verdict.NOT_APPLICABLE,
    }
    out = [
        '<section id="summary"><h2>1 Summary of verdicts</h2>',
        '<table id="verdicts" class="verdicts">',
        "<thead><tr><th>Verdict</th><th>Scenarios</th><th>Requirements</th></tr></thead><tbody>",
    ]
    for verdict in SEVERITY:
        n_scen = str(scen.get(verdict, 0)) if verdict in scenario_verdicts else "\N{EN DASH}"
        out.append(
            f'<tr data-verdict="{escape(verdict.value)}"><td>{_badge(verdict)}</td>'
            f'<td class="num">{n_scen}</td><td class="num">{reqs[verdict]}</td></tr>'
        )
    out.append(
        f'<tr><th>Total</th><th class="num">{len(report.scenarios)}</th>'
        f'<th class="num">{len(report.requirements)}</th></tr></tbody></table>'
    )
    out.append(
        '<p class="muted">ERROR is a problem of the test system, not a failure of the SUT: a setup or '
        "teardown error, or a premise the harness did not bring about (its reason begins <code>harness "
        "error:</code>), a defect of the suite to report. NOT APPLICABLE: the PICS answers exclude the "
        "scenario. UNCOVERED: a testable requirement no scenario checks yet. NOT RUN: its scenarios "
        "exist but were not selected. "
        "PROFILE DEVIATION: every check of the text held, but the SUT did not follow a choice of this "
        "project's solution profile (<code>docs/solution-profile.md</code>): not a failure of the text, "
        "listed apart below.</p>"
    )
    bad = [r for r in report.scenarios if r.verdict in (Verdict.FAIL, Verdict.ERROR, Verdict.INCONCLUSIVE)]
    out.append('<h3 id="failures">Failures and inconclusive verdicts</h3>')
    if not bad:
        out.append("<p>None.</p>")
    else:
        out.append('<ol class="failures">')
        for r in bad:
            out.append(
                f'<li>{_badge(r.verdict)} <a href="#{r.anchor}">{escape(r.label)}</a> '
                f'<span class="muted">({escape(r.feature)})</span>'
                + (f"<br><code>{escape(r.reason)}</code>" if r.reason else "")
                + "</li>"
            )
        out.append("</ol>")
    out += _deviations(report)
    failed_reqs = [row for row in report.requirements if row.verdict in (Verdict.FAIL, Verdict.ERROR)]
    if failed_reqs:
        out.append(
            "<p>Requirements with a failed or erroneous scenario: "
            + ", ".join(
                f'<a href="#{escape(row.requirement.id)}">{escape(row.requirement.id)}</a>'
                for row in failed_reqs
            )
            + ".</p>"
        )
    others = report.run.other_tests
    if sum(others.values()):
        parts = ", ".join(
            f"{n} {v.value}" for v, n in sorted(others.items(), key=lambda kv: SEVERITY.index(kv[0]))
        )
        out.append(
            f'<p class="muted">Other tests of the run (unit, end-to-end, mutants): {escape(parts)}.</p>'
        )
        for name, reason in report.run.other_failures:
            out.append(f'<p class="warn"><code>{escape(name)}</code>: {escape(reason)}</p>')
    out.append("</section>")
    return out


def _deviations(report: Report) -> list[str]:
    """The deviations from solution-profile choices (a FAIL's too) and the profile checks the PICS left
    out, apart from the failures of the text."""
    out = ['<h3 id="deviations">Profile deviations (not failures of the text)</h3>']
    found = [(r, d) for r in report.scenarios for d in r.deviations]
    if not found:
        out.append("<p>None.</p>")
    else:
        out.append('<ol class="deviations">')
        out += [
            f'<li>{_badge(r.verdict)} <a href="#{r.anchor}">{escape(r.label)}</a> '
            f'<span class="muted">({escape(r.feature)})</span><br><code>{escape(d)}</code></li>'
            for r, d in found
        ]
        out.append("</ol>")
    unchecked = sorted({u for r in report.scenarios for u in r.unchecked})
    if unchecked:
        out.append('<p class="muted">Profile checks not made (the SUT\'s PICS says it chose otherwise):</p>')
        out.append("<ul>" + "".join(f"<li><code>{escape(u)}</code></li>" for u in unchecked) + "</ul>")
    return out


def _matrix_row(row: RequirementRow) -> str:
    req = row.requirement
    links = [
        f'<li>{_badge(r.verdict)} <code>{escape(tp)}</code> <a href="#{r.anchor}">{escape(r.label)}</a></li>'
        for tp, r in row.scenarios
    ]
    links += [f"<li>{_badge(Verdict.NOT_RUN)} {escape(label)}</li>" for label in row.not_run]
    if not req.testable:
        links.append(f'<li class="muted">not testable: {escape(req.rationale)}</li>')
    elif row.verdict is Verdict.UNCOVERED:
        listed = f" (lists {', '.join(req.covered_by)})" if req.covered_by else ""
        links.append(f"<li><strong>not covered by any scenario yet{escape(listed)}</strong></li>")
    if req.partial:
        links.append(f'<li class="muted">partial coverage: {escape(req.note)}</li>')
    verdict = _badge(row.verdict) + (' <span class="muted">(partial)</span>' if req.partial else "")
    return (
        f'<tr id="{escape(req.id)}" class="row-{row.verdict.value.replace(" ", "-")}"><td class="mono">'
        f"{escape(req.id)}</td><td>{escape(req.clause)}</td><td>{escape(req.step)}</td>"
        f"<td>{escape(req.text)}</td><td>{escape(req.kind)}</td><td>{'yes' if req.testable else 'no'}</td>"
        f'<td><ul class="links">{"".join(links)}</ul></td><td>{verdict}</td></tr>'
    )


def _matrix(report: Report) -> list[str]:
    out = [
        '<section id="matrix"><h2>2 Traceability matrix</h2>',
        '<p class="muted">Every requirement of <code>features/requirements.toml</code> (the "shall" '
        "sentences and numbered steps of the text), the scenarios of this run that check it, and its "
        "verdict: FAIL if any scenario failed, otherwise ERROR, INCONCLUSIVE, PROFILE DEVIATION, PASS, "
        "NOT APPLICABLE in that order (a requirement whose scenarios only deviate from the solution profile "
        "is PROFILE DEVIATION, not FAIL).</p>",
        '<table id="matrix-table"><colgroup><col class="c-id"><col class="c-clause"><col class="c-step">'
        '<col class="c-text"><col class="c-kind"><col class="c-testable"><col class="c-scen">'
        '<col class="c-verdict">'
        "</colgroup><thead><tr><th>Requirement</th><th>Clause</th><th>Step</th><th>Text</th>"
        "<th>Kind</th><th>Testable</th><th>Scenarios (test purpose) and verdicts</th><th>Verdict</th></tr>"
        "</thead><tbody>",
    ]
    out += [_matrix_row(row) for row in report.requirements]
    out.append("</tbody></table></section>")
    return out


def _ladder(report: Report, result: ScenarioResult) -> str:
    ladder = report.ladders.get(result.key)
    if ladder is None:
        return '<p class="muted">Ladder diagram: no capture.</p>'
    if ladder.drawn:
        body = ladder.svg.replace('<?xml version="1.0" encoding="UTF-8"?>', "")
    else:
        data = base64.b64encode(ladder.svg.encode()).decode()
        body = f'<img alt="ladder diagram" src="data:image/svg+xml;base64,{data}">'
    capture = f"; capture <code>{escape(ladder.capture)}</code>" if ladder.capture else ""
    rules = ""
    if ladder.rules:
        head, *others = ladder.rules.splitlines()
        tool = "<code>wimpu-conformance verify</code>"
        rules = f'<p class="muted source">Capture rules ({tool}): {escape(head)}</p>'
        if others:
            rules += "<pre>" + escape("\n".join(others)) + "</pre>"
    return (
        f'<div class="ladder-box">{body}</div>'
        f'<p class="muted source">From <code>{escape(ladder.source)}</code>{capture}.</p>' + rules
    )


def _scenario(report: Report, r: ScenarioResult) -> list[str]:
    out = [
        f'<article id="{r.anchor}" class="a-{r.verdict.value.replace(" ", "-")}">',
        f"<h3>{_badge(r.verdict)} {escape(r.label)}</h3>",
        f'<p class="muted">{escape(r.feature_name or r.feature)} (<code>{escape(r.feature)}</code>), test '
        f"<code>{escape(r.test)}</code>, {r.duration:.2f} s<br>"
        + " ".join(f'<span class="tag">@{escape(t)}</span>' for t in r.tags)  # a long row of tags wraps
        + "</p>",
    ]
    if r.reason:
        out.append(
            f"<p><strong>{'Reason' if r.verdict is not Verdict.FAIL else 'Failure'}:</strong> "
            f"<code>{escape(r.reason)}</code></p>"
        )
    if r.details:
        out.append(f"<details><summary>Details</summary><pre>{escape(r.details)}</pre></details>")
    out += [f"<p><strong>Profile deviation:</strong> <code>{escape(d)}</code></p>" for d in r.deviations]
    out += [f'<p class="muted">Profile check <code>{escape(u)}</code></p>' for u in r.unchecked]
    if r.steps:
        out.append('<ol class="steps">')
        for step in r.steps:
            status = step.status.replace(" ", "-")
            out.append(
                f'<li class="step-{status}"><strong>{escape(step.keyword)}</strong> {escape(step.text)}'
                f'<span class="st st-{status}">{escape(step.status)}</span></li>'
            )
        out.append("</ol>")
    out.append(_ladder(report, r))
    out.append("</article>")
    return out


def _tail(report: Report) -> list[str]:
    out = [
        '<section id="pics"><h2>4 PICS</h2>',
        f"<p>Answers of <code>{escape(report.pics_path)}</code>. A scenario carrying a gated tag applies "
        "only when its item is answered yes.</p>",
        "<table><thead><tr><th>Item</th><th>Clause</th><th>Question</th><th>Status</th><th>Answer</th>"
        "<th>Gates</th></tr></thead><tbody>",
    ]
    for item in report.pics:
        out.append(
            f'<tr><td class="mono">{escape(item.id)}</td><td>{escape(item.clause)}</td>'
            f"<td>{escape(item.question)}</td><td>{escape(item.status)}</td><td><strong>"
            f"{escape(item.answer)}</strong></td><td>{escape(' '.join('@' + g for g in item.gates))}</td>"
            "</tr>"
        )
    out.append("</tbody></table></section>")
    out.append(
        '<section id="assumptions"><h2>5 Profile assumptions</h2><p>The verdicts rest on these '
        "stage-3 choices of <code>docs/solution-profile.md</code> (first sentence of each section). "
        "3GPP never standardised this solution: W6, W7 and the wIMPU Registrar are this project's "
        "proposal.</p><dl>"
    )
    for title, sentence in report.assumptions:
        out.append(f"<dt><strong>{escape(title)}</strong></dt><dd>{_inline(sentence)}</dd>")
    out.append("</dl></section>")
    out.append(
        '<section id="open-points"><h2>6 Open points for the text</h2><p>Where TR 23.701 5.2.2 is '
        "ambiguous, silent or self-contradictory, and what the suite assumes "
        "(<code>docs/open-points.md</code>).</p>"
    )
    heading: str | None = None
    for point in report.open_points:
        if point.heading != heading:
            if heading is not None:
                out.append("</ol>")
            heading = point.heading
            out.append(f'<h3>{escape(heading)}</h3><ol class="open-points">')
        out.append(f'<li value="{escape(point.number)}">{_inline(point.text)}</li>')
    if heading is not None:
        out.append("</ol>")
    out.append("</section>")
    return out


def _chain(report: Report) -> list[str]:
    out = [
        '<section id="chain"><h2>7 From clause to verdict</h2><p class="muted">For each requirement: '
        "the functions of the bundled reference marked with its clause and step (<code>@clause</code>, "
        "<code>reference/spec.py</code>), the rules of <code>wimpu-conformance verify</code> that judge it "
        "on the wire, and the scenarios of this run with their verdicts.</p>",
        '<table id="chain-table"><colgroup><col class="c-id"><col class="c-clause"><col class="c-fun">'
        '<col class="c-rules"><col class="c-scen"><col class="c-verdict"></colgroup>'
        "<thead><tr><th>Requirement</th><th>Clause</th><th>Reference functions</th>"
        "<th>Capture rules</th><th>Scenarios</th><th>Verdict</th></tr></thead><tbody>",
    ]
    for row in report.requirements:
        req = row.requirement
        where = " step ".join(x for x in (req.clause, req.step) if x)
        functions = "<br>".join(f"<code>{escape(f)}</code>" for f in row.links.functions) or "-"
        rules = ", ".join(f"<code>{escape(r)}</code>" for r in row.links.rules) or "-"
        scenarios = (
            "<br>".join(
                f'<a href="#{res.anchor}">{escape(tp)}</a> {_badge(res.verdict)}' for tp, res in row.scenarios
            )
            or "-"
        )
        out.append(
            f'<tr><td class="mono"><a href="#{escape(req.id)}">{escape(req.id)}</a></td>'
            f"<td>{escape(where)}</td>"
            f"<td>{functions}</td><td>{rules}</td><td>{scenarios}</td><td>{_badge(row.verdict)}</td></tr>"
        )
    out.append("</tbody></table></section>")
    return out


def _purposes(report: Report) -> list[str]:
    out = [
        '<section id="purposes"><h2>8 Test purposes</h2><p class="muted">Generated from the features '
        "(<code>docs/test-purposes.md</code> has the initial conditions too): the requirements each "
        "covers, its PICS selection expression and the test configurations it runs in (which nodes are "
        "the SUT: <code>conformance/configurations.py</code>), its behaviour group and its expected "
        "behaviour.</p>",
        '<table id="purposes-table"><colgroup><col class="c-id"><col class="c-group"><col class="c-req">'
        '<col class="c-sel"><col class="c-ensure"></colgroup><thead><tr><th>Test purpose</th><th>Group</th>'
        "<th>Requirements</th><th>PICS selection; configurations</th><th>Expected behaviour</th></tr>"
        "</thead><tbody>",
    ]
    for tp in report.purposes:
        out.append(
            f'<tr><td class="mono">{escape(tp.id)}</td><td>{escape(tp.group)}</td>'
            f"<td>{escape(', '.join(tp.requirements) or '-')}</td>"
            f"<td><code>{escape(tp.selection)}</code><br><span class=\"muted\">"
            f"{escape(', '.join(tp.configurations) or '-')}</span></td>"
            f"<td>{escape(tp.ensure())}</td></tr>"
        )
    out.append("</tbody></table>")
    out += _steps(report)
    out.append("</section>")
    return out


def _steps(report: Report) -> list[str]:
    """Section 8's matrix: each numbered step of the text, its test purposes per behaviour group, or
    why there is none (``features/steps.toml``)."""
    if not report.steps:
        return []
    out = [
        '<h3>Numbered steps and behaviour groups</h3><p class="muted">Where a group has no test purpose, '
        "<code>features/steps.toml</code> says why: <em>absent</em> (no such behaviour for the step) or "
        "<strong>missing</strong> (the behaviour exists, no test purpose tests it yet).</p>",
        f'<table id="steps-table">{_thead("Step", *GROUPS)}<tbody>',
    ]
    for step in report.steps:
        cells = []
        for group in GROUPS:
            if step.purposes[group]:
                ids = ", ".join(tp.removeprefix("TP_WIMPU_") for tp in step.purposes[group])
                cells.append(f'<span class="mono">{escape(ids)}</span>')
            elif group in step.missing:
                cells.append(f"<strong>missing</strong>: {escape(step.missing[group])}")
            else:
                cells.append(f"<em>absent</em>: {escape(step.absent.get(group, 'not declared'))}")
        cells.insert(0, escape(f"{step.clause} step {step.step}: {step.text}"))
        out.append(_rows([cells]))
    out.append("</tbody></table>")
    return out


def _rows(rows: list[list[str]]) -> str:
    """Table rows of cells already escaped."""
    return "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)


def _thead(*head: str) -> str:
    return "<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr></thead>"


def _proforma(report: Report) -> list[str]:
    """Section 9: the PICS proforma (docs/pics-proforma.md) filled in with the answers of the run."""
    proforma = report.proforma
    if proforma is None:
        return []
    answers = {item.id: item.answer for item in report.pics}
    if report.pics_of_run:
        whose = f"the answers of the SUT's PICS used in this run, <code>{escape(report.pics_path)}</code>"
        answer_head = "Answer"
    else:
        whose = (
            "the answers of the reference implementation (<code>features/pics.toml</code>), not the SUT's: "
            "the run did not record its PICS"
        )
        answer_head = "Reference's answer"
    out = [
        '<section id="pics-proforma"><h2>9 PICS proforma</h2><p>The PICS proforma of '
        f"<code>docs/pics-proforma.md</code> (ISO/IEC 9646-7 style), filled in with {whose}.</p>",
        '<h3>9.1 Status rules</h3><table class="proforma">' + _thead("Rule", "Meaning", "Items") + "<tbody>",
        _rows(
            [
                [
                    f"<code>{escape(rule)}</code>",
                    escape(text),
                    escape(", ".join(proforma.rule_items(rule)) or "-"),
                ]
                for rule, text in proforma.rules.items()
            ]
        ),
        "</tbody></table>",
    ]
    head = ["Item", "Question", "Clause", "Status", "Allowed answers", answer_head]
    head += ["Reference's answer"] if report.pics_of_run else []
    number = 1
    for number, group in enumerate(proforma.groups(), 2):
        rows = [
            [f'<span class="mono">{escape(i.id)}</span>', escape(i.question), escape(i.clause),
             f"<code>{escape(i.status)}</code>", escape(" / ".join(i.answers)),
             f"<strong>{escape(answers.get(i.id, 'unanswered'))}</strong>",
             *([escape(i.answer)] if report.pics_of_run else [])]
            for i in group.items
        ]  # fmt: skip
        out.append(
            f'<h3>9.{number} {escape(group.title)}</h3><table class="proforma">{_thead(*head)}<tbody>'
            f"{_rows(rows)}</tbody></table>"
        )
    rows = [
        [f'<span class="mono">{escape(a.tp)}</span>', f"<code>{escape(str(a.selection))}</code>",
         escape(a.read), "yes" if a.applies else "<strong>no</strong>"]
        for a in proforma.applicability(answers)
    ]  # fmt: skip
    out.append(
        f'<h3>9.{number + 1} Applicability of the test purposes</h3><table class="proforma" '
        f'id="proforma-applicability">{_thead("Test purpose", "PICS selection", "Answers read", "Applies")}'
        f"<tbody>{_rows(rows)}</tbody></table></section>"
    )
    return out


def _screens(report: Report) -> list[str]:
    """Section 10: the screenshots of the real clients' tests, embedded (the page stays one file)."""
    if not report.screens:
        return []
    out = [
        '<section id="real-clients"><h2>10 Real clients</h2><p class="muted">Screenshots of the tests '
        "that drive a real client (<code>tests/interop/</code>), one per stage.</p>"
    ]
    for screens in report.screens:
        out.append(
            f"<h3>{escape(screens.title)}: {escape(screens.status)}</h3>"
            f'<p class="mono">{escape(screens.test)}</p><div class="screens">'
        )
        for number, screen in enumerate(screens.screens, 1):
            try:
                data = base64.b64encode(screen.path.read_bytes()).decode()
            except OSError as exc:
                out.append(f"<p>{number}. {escape(screen.stage)}: not readable ({escape(str(exc))})</p>")
                continue
            out.append(
                f'<figure><img alt="{escape(screen.stage)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{number}. {escape(screen.stage)}</figcaption></figure>"
            )
        out.append("</div>")
    return [*out, "</section>"]


def render(report: Report) -> str:
    """The whole page."""
    body = _header(report) + _summary(report) + _matrix(report)
    body.append(
        '<section id="scenarios"><h2>3 Scenarios</h2><p class="muted">Failures first. Each scenario '
        "with its Gherkin steps and their status, and the ladder diagram of its capture.</p>"
    )
    if not report.scenarios:
        body.append("<p><strong>No scenario results.</strong></p>")
    for result in report.scenarios:
        body += _scenario(report, result)
    body.append("</section>")
    body += _tail(report)
    body += _chain(report)
    body += _purposes(report)
    body += _proforma(report)
    body += _screens(report)
    body.append(
        '<footer class="muted"><p>Generated by <code>reports.conformance</code> on '
        f"{escape(report.generated)}.</p></footer>"
    )
    title = ("PARTIAL RUN - " if report.run.partial else "") + report.title
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
