"""One self-contained HTML page: the requirement matrix, a filterable table, and every failure.

No external asset (no font, script or stylesheet is fetched), so the page can be attached to a
ticket or archived with a certification bundle. Every value from the run is escaped: evidence is
whatever the server under test sent back, and a hostile server must not script the reviewer's
browser. The little script only reads data attributes; it never interpolates run data.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from conformance.reports.headline import headline
from conformance.reports.model import EvidenceEntry, RequirementEntry, RunReport
from conformance.reports.text import verdict_line
from conformance.verdicts import VERDICT_ORDER, Verdict

__all__ = ["render_html", "write_html"]

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:80em;
padding:0 1em;color:#1d1d1f;overflow-wrap:anywhere}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0;max-width:100%}th,td{border:1px solid #ddd;padding:.25em .5em;
text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:#f6f6f6}
td.n{text-align:right;font-variant-numeric:tabular-nums}
#requirements{table-layout:fixed;width:100%}#requirements col.id{width:9.5em}#requirements col.level{width:6em}
#requirements col.verdict{width:7.5em}#requirements col.tests{width:4em}#requirements col.note{width:28%}
.PASSED{background:#dff3e3}.FAILED{background:#f9d6d5;font-weight:600}.WARNING{background:#fdf0c8}
.EXPECTED{background:#ecdff5}.INFO{background:#dcecf7}.SKIPPED{background:#eee;color:#666}.zero{color:#bbb}
.INCONCLUSIVE{background:#f3e6d3}.UNVERIFIED{background:#e8e8f3}
pre{background:#f7f7f9;border:1px solid #e3e3e8;padding:.6em;white-space:pre-wrap;overflow-wrap:anywhere;
font-size:12px;max-width:100%;box-sizing:border-box}code{overflow-wrap:anywhere}
.meta td{border:none;padding:.1em .8em .1em 0}.result{font-size:1.1em;font-weight:600;padding:.4em .6em}
#filters{margin:.6em 0}#filters input,#filters select{margin-right:.6em}
section.failure{border-left:4px solid #d33;padding-left:.8em;margin:1.2em 0;background:none;font-weight:normal}
section.WARNING{border-left-color:#d9a400}section.EXPECTED{border-left-color:#8a4fb3}
section.INFO{border-left-color:#2b7bb9}
details.finding{margin:.3em 0}details.finding>summary{cursor:pointer}details.finding>summary code{font-size:12px}
details details{margin-left:1.2em}
"""

_SCRIPT = """
(function(){
  var text=document.getElementById('q'),verdict=document.getElementById('v'),area=document.getElementById('a');
  function apply(){
    var q=text.value.toLowerCase(),v=verdict.value,a=area.value,shown=0;
    document.querySelectorAll('#requirements tbody tr').forEach(function(row){
      var ok=(!v||row.dataset.verdict===v)&&(!a||row.dataset.area===a)&&
             (!q||row.textContent.toLowerCase().indexOf(q)>=0);
      row.hidden=!ok;if(ok){shown++;}
    });
    document.getElementById('shown').textContent=shown;
  }
  [text,verdict,area].forEach(function(el){el.addEventListener('input',apply);});
  document.querySelectorAll('[data-filter-verdict]').forEach(function(cell){
    cell.addEventListener('click',function(){
      verdict.value=cell.dataset.filterVerdict;area.value=cell.dataset.filterArea||'';apply();
      document.getElementById('requirements').scrollIntoView();
    });
  });
})();
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _meta(report: RunReport) -> str:
    target = report.target
    rows = [
        (
            "target",
            f"{target.name} ({target.base_url})" + (", the bundled reference server" if target.reference else ""),
        ),
        ("capabilities", ", ".join(target.capabilities) or "none declared"),
        ("started", report.started_at),
        ("duration", f"{report.duration_s:.1f} s"),
        ("seed", "random" if report.seed is None else report.seed),
        (
            "tests",
            f"{report.tests.total} ({report.tests.passed} passed, {report.tests.failed} failed, "
            f"{report.tests.skipped} skipped)",
        ),
        ("HTTP exchanges", report.exchanges),
        ("suite", f"spt-conformance {report.suite_version}, spec sha256 {report.spec_digest[:16]}"),
    ]
    body = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="meta">{body}</table>'


def _matrix(report: RunReport) -> str:
    verdicts = [v.value for v in VERDICT_ORDER]
    head = "<tr><th>area</th>" + "".join(f'<th class="{v}">{v}</th>' for v in verdicts) + "</tr>"
    rows = []
    for area, levels in report.by_area_level.items():
        totals = dict.fromkeys(verdicts, 0)
        for counts in levels.values():
            for verdict in verdicts:
                totals[verdict] += counts[verdict]
        cells = "".join(
            f'<td class="n {v if totals[v] else "zero"}" data-filter-verdict="{v}" data-filter-area="{_e(area)}">'
            f"{totals[v]}</td>"
            for v in verdicts
        )
        title = _e(report.areas.get(area, ""))
        rows.append(f'<tr><th title="{title}">{_e(area)}</th>{cells}</tr>')
    totals = report.by_verdict
    foot = "<tr><th>total</th>" + "".join(
        f'<td class="n {v if totals[v] else "zero"}" data-filter-verdict="{v}">{totals[v]}</td>' for v in verdicts
    )
    return f"<table>{head}{''.join(rows)}{foot}</tr></table>"


def _filters(report: RunReport) -> str:
    verdicts = "".join(f'<option value="{v.value}">{v.value}</option>' for v in VERDICT_ORDER)
    areas = "".join(f'<option value="{_e(a)}">{_e(a)}</option>' for a in report.by_area_level)
    return (
        '<div id="filters"><input id="q" type="search" placeholder="filter: ID, words…" size="30">'
        f'<select id="v"><option value="">every verdict</option>{verdicts}</select>'
        f'<select id="a"><option value="">every area</option>{areas}</select>'
        f'<span id="shown">{len(report.requirements)}</span> shown</div>'
    )


def _link(entry: RequirementEntry) -> str:
    if entry.failures:
        return f'<a href="#{_e(entry.id)}">{_e(entry.id)}</a>'
    return _e(entry.id)


def _table(report: RunReport) -> str:
    rows = "".join(
        f'<tr data-verdict="{_e(r.verdict)}" data-area="{_e(r.area)}"><td>{_link(r)}</td><td>{_e(r.level)}</td>'
        f'<td class="{_e(r.verdict)}">{_e(r.verdict)}</td><td>{_e(r.statement)}</td><td>{_e(r.note)}</td>'
        f"<td>{len(r.tests)}</td></tr>"
        for r in report.requirements
    )
    columns = "".join(f'<col class="{c}">' for c in ("id", "level", "verdict", "statement", "note", "tests"))
    head = "<tr><th>requirement</th><th>level</th><th>verdict</th><th>statement</th><th>note</th><th>tests</th></tr>"
    return f'<table id="requirements"><colgroup>{columns}</colgroup><thead>{head}</thead><tbody>{rows}</tbody></table>'


def _without_requirement(message: str) -> str:
    """The finding without its `Requirement:` line: the section above already states it once."""
    return "\n".join(line for line in message.splitlines() if not line.startswith("Requirement:"))


def _finding(failure: EvidenceEntry) -> str:
    """One failure, folded: its one-line finding as the summary; its parts and exchanges inside."""
    exchanges = "".join(
        f"<details><summary>exchange {number}</summary><pre>{_e(exchange)}</pre></details>"
        for number, exchange in enumerate(failure.exchanges, 1)
    )
    return (
        f'<details class="finding"><summary><code>{_e(failure.test)}</code> — {_e(headline(failure.message))}'
        f"</summary><pre>{_e(_without_requirement(failure.message))}</pre>{exchanges}</details>"
    )


def _failure(entry: RequirementEntry) -> str:
    parts = [
        f'<section class="failure {_e(entry.verdict)}" id="{_e(entry.id)}">',
        f"<h3>{_e(entry.verdict)} · {_e(entry.id)} ({_e(entry.level)})</h3>",
        f"<p>{_e(entry.statement)}<br><small>source: {_e(entry.source)}</small></p>",
    ]
    if entry.note:
        parts.append(f"<p><em>{_e(entry.note)}</em></p>")
    parts.append(f"<p>{len(entry.failures)} failure(s), each folded: open one to read it and its exchanges.</p>")
    parts += [_finding(failure) for failure in entry.failures]
    if entry.omitted_failures:
        parts.append(f"<p>The last {entry.omitted_failures} failure(s) are kept without their exchanges.</p>")
    parts.append("</section>")
    return "".join(parts)


def _expected(report: RunReport) -> str:
    if not report.expected_failures:
        return ""
    rows = "".join(
        f"<tr><td>{_e(x.id)}</td><td>{_e(x.status)}</td><td>{_e(x.expires)}</td><td>{_e(x.reason)}</td>"
        f"<td>{_e(x.message)}</td></tr>"
        for x in report.expected_failures
    )
    head = "<tr><th>requirement</th><th>status</th><th>expires</th><th>reason</th><th>outcome</th></tr>"
    return f"<h2>Expected failures</h2><table>{head}{rows}</table>"


def render_html(report: RunReport) -> str:
    order = [v.value for v in VERDICT_ORDER if v is not Verdict.PASSED]
    with_failures = [r for r in report.requirements if r.failures and r.verdict != Verdict.PASSED.value]
    with_failures.sort(key=lambda r: order.index(r.verdict) if r.verdict in order else len(order))
    failures = "".join(_failure(r) for r in with_failures)
    result_class = "FAILED" if report.exit_code else "PASSED"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>SPT conformance: {_e(report.target.name)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>SPT conformance: {_e(report.target.name)}</h1>{_meta(report)}"
        f'<p class="result {result_class}">{_e(verdict_line(report))}</p>'
        f"<h2>Requirement matrix</h2>{_matrix(report)}"
        f"<h2>Requirements</h2>{_filters(report)}{_table(report)}"
        f"{_expected(report)}"
        f"<h2>Failures and their evidence</h2>{failures or '<p>None.</p>'}"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def write_html(report: RunReport, path: Path) -> None:
    path.write_text(render_html(report), encoding="utf-8")
