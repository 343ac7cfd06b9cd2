"""The end-of-run summary on the terminal: counts by area and level, then what failed and why."""

from __future__ import annotations

from collections import Counter

from conformance.reports.model import RequirementEntry, RunReport
from conformance.verdicts import STOPPED_ON_ERROR, VERDICT_ORDER, Verdict

__all__ = ["render_summary", "verdict_line"]

_COLOURS = {
    Verdict.PASSED.value: "32",  # green
    Verdict.FAILED.value: "31;1",  # bold red
    Verdict.WARNING.value: "33",  # yellow
    Verdict.EXPECTED.value: "35",  # magenta
    Verdict.INFO.value: "36",  # cyan
    Verdict.INCONCLUSIVE.value: "34",  # blue
    Verdict.UNVERIFIED.value: "33;2",  # dim yellow
    Verdict.SKIPPED.value: "2",  # dim
}
FAILURES_SHOWN = 3  # per requirement; the reports have the rest


def _paint(text: str, verdict: str, colour: bool) -> str:
    return f"\x1b[{_COLOURS[verdict]}m{text}\x1b[0m" if colour and verdict in _COLOURS else text


def _table(report: RunReport, colour: bool) -> list[str]:
    verdicts = [v.value for v in VERDICT_ORDER]
    widths = [max(len(v), 4) for v in verdicts]
    head = f"{'area':<6}{'level':<8}" + " ".join(f"{v:>{w}}" for v, w in zip(verdicts, widths, strict=True))
    lines = [head]
    totals = dict.fromkeys(verdicts, 0)
    for area, levels in report.by_area_level.items():
        for level, counts in levels.items():
            cells = []
            for verdict, width in zip(verdicts, widths, strict=True):
                count = counts[verdict]
                totals[verdict] += count
                text = f"{count if count else '·':>{width}}"
                cells.append(_paint(text, verdict, colour and count > 0))
            lines.append(f"{area:<6}{level:<8}" + " ".join(cells))
    lines.append(f"{'total':<14}" + " ".join(f"{totals[v]:>{w}}" for v, w in zip(verdicts, widths, strict=True)))
    return lines


LINE_LIMIT = 300  # characters of one evidence line on the terminal; the reports keep it whole


def _indent(text: str, prefix: str) -> list[str]:
    """Indented lines, each cut to LINE_LIMIT: a fuzzed URL can be thousands of characters long."""
    lines = []
    for line in text.splitlines():
        if len(line) > LINE_LIMIT:
            line = f"{line[:LINE_LIMIT]}… ({len(line) - LINE_LIMIT} more characters in the reports)"
        lines.append(prefix + line)
    return lines


def _failure_block(entry: RequirementEntry, colour: bool) -> list[str]:
    lines = [f"{_paint(entry.verdict, entry.verdict, colour)}  {entry.id} ({entry.level}): {entry.statement}"]
    if entry.note and entry.verdict != Verdict.FAILED.value:
        lines.append(f"    ({entry.note})")
    failures = entry.failures
    for failure in failures[:FAILURES_SHOWN]:
        where = failure.test.removeprefix("check:")
        how = "a registered check, in " if failure.test.startswith("check:") else ""
        lines.append(f"  found by {how}{where}")
        message = failure.message
        if not message.startswith(("Requirement:", STOPPED_ON_ERROR)):
            message = f"{STOPPED_ON_ERROR}\n{message}"
        lines += _indent(message, "    ")
    more = len(failures) - FAILURES_SHOWN  # every failure is in the JSON and HTML reports
    if more > 0:
        lines.append(f"  … and {more} more failure(s) of {entry.id}: see the JSON or HTML report")
    return lines


def verdict_line(report: RunReport) -> str:
    """The run's result in one line: the verdict, why, its coverage and the selection."""
    failed = len(report.with_verdict(Verdict.FAILED))
    stale = len(report.stale_expectations)
    coverage = report.coverage
    reasons = []
    if failed:
        reasons.append(f"{failed} requirement(s) failed")
    if stale:
        reasons.append(f"{stale} expected failure(s) now pass (stale entries)")
    if report.strict and coverage.gaps:
        reasons.append(f"{coverage.gaps} applicable MUST not verified (--strict)")
    scope = f"{coverage.describe()}; selection: {report.selection.describe() if report.selection else 'all'}"
    partial = "" if report.complete else " (partial)"
    if reasons:
        return f"Result: FAILED: {' and '.join(reasons)} (exit 1); {scope}"
    if coverage.unchecked:
        return f"Result: PASSED{partial}: no applicable MUST failed (exit 0); {scope}"
    return f"Result: PASSED{partial}: every applicable MUST requirement holds (exit 0); {scope}"


def render_summary(report: RunReport, *, colour: bool = False) -> str:
    counts = report.by_verdict
    target = report.target
    what = "the bundled reference server" if target.reference else target.name
    lines = [
        f"SPT conformance of {what} at {target.base_url}",
        f"{len(report.requirements)} requirements, {report.tests.total} tests "
        f"({report.tests.passed} passed, {report.tests.failed} failed, {report.tests.skipped} skipped), "
        f"{report.exchanges} HTTP exchanges, {report.duration_s:.1f} s"
        + (f", seed {report.seed}" if report.seed is not None else ""),
        "",
        *_table(report, colour),
    ]
    for verdict in (Verdict.FAILED, Verdict.WARNING):
        for entry in report.with_verdict(verdict):
            lines += ["", *_failure_block(entry, colour)]
    if report.expected_failures:
        lines += ["", "Expected failures:"]
        for item in report.expected_failures:
            lines.append(f"  {item.status:<8} {item.id} (until {item.expires}): {item.message}")
    for verdict in (Verdict.INCONCLUSIVE, Verdict.UNVERIFIED):
        unchecked = Counter(
            f"blocked by {', '.join(e.blocked_by)}" if e.blocked_by else e.note for e in report.with_verdict(verdict)
        )
        if unchecked:
            lines += ["", f"{verdict.value.capitalize()} ({counts[verdict.value]}):"]
            lines += [f"  {n:>3} × {reason}" for reason, n in unchecked.most_common(6)]
            if len(unchecked) > 6:
                lines.append(f"  … and {len(unchecked) - 6} other reason(s): see the reports")
    skipped = Counter(e.note for e in report.with_verdict(Verdict.SKIPPED))
    if skipped:
        lines += ["", f"Skipped ({counts[Verdict.SKIPPED.value]}):"]
        lines += [f"  {n:>3} × {reason}" for reason, n in skipped.most_common(6)]
        if len(skipped) > 6:
            lines.append(f"  … and {len(skipped) - 6} other reason(s): see the reports")
    result = verdict_line(report)
    lines += ["", _paint(result, Verdict.FAILED.value if report.exit_code else Verdict.PASSED.value, colour)]
    return "\n".join(lines)
