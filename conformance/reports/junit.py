"""JUnit XML for CI dashboards: one testcase per requirement, not per pytest test.

A dashboard then tracks `SPT-USE-005` over time, whichever tests prove it. Requirements are
grouped in one testsuite per level, so a SHOULD that does not hold (WARNING) is a visible failure
of the SHOULD suite without looking like a broken MUST. The area is the classname; every testcase
carries its verdict as a property, its time is what its tests took, and a failure's `message` is
the finding in one line (received against expected), its text the four parts and the evidence.

    FAILED                         <failure type="FAILED">       (MUST suite)
    WARNING                        <failure type="WARNING">      (SHOULD suite)
    SKIPPED                        <skipped>
    EXPECTED, INCONCLUSIVE, …      <skipped type="EXPECTED">, <skipped type="INCONCLUSIVE">, …
    INFO                           passes; <system-out> says why, and the verdict property shows it
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET  # only writes XML here; never parses untrusted input
from pathlib import Path

from conformance.catalog import Level
from conformance.reports.headline import headline
from conformance.reports.model import RequirementEntry, RunReport
from conformance.verdicts import Verdict

__all__ = ["render_junit", "write_junit"]

# XML 1.0 forbids most control characters, which a misbehaving server may well send back.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_FAILURES = (Verdict.FAILED.value, Verdict.WARNING.value)


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _evidence_text(entry: RequirementEntry) -> str:
    blocks = []
    for failure in entry.failures:
        blocks.append(f"found by {failure.test}\n{failure.message}")
        blocks += [f"--- exchange {n} ---\n{exchange}" for n, exchange in enumerate(failure.exchanges, 1)]
    if entry.omitted_failures:
        blocks.append(f"({entry.omitted_failures} failure(s) above are shown without their exchanges)")
    return "\n\n".join(blocks)


def _message(entry: RequirementEntry) -> str:
    first = headline(entry.failures[0].message) if entry.failures else ""
    return _clean(first or entry.note or entry.verdict.lower())


def _testcase(parent: ET.Element, entry: RequirementEntry, seconds: float) -> None:
    case = ET.SubElement(
        parent,
        "testcase",
        classname=entry.area,
        name=_clean(f"{entry.id} {entry.statement}"),
        time=f"{seconds:.3f}",
    )
    # Properties first: pytest writes them there, and strict schemas expect that order.
    properties = ET.SubElement(case, "properties")
    ET.SubElement(properties, "property", name="verdict", value=entry.verdict)
    ET.SubElement(properties, "property", name="level", value=entry.level)
    ET.SubElement(properties, "property", name="source", value=_clean(entry.source))
    for test in entry.tests:
        ET.SubElement(properties, "property", name="test", value=_clean(test))
    verdict = entry.verdict
    if verdict in _FAILURES:
        failure = ET.SubElement(case, "failure", message=_message(entry), type=verdict)
        failure.text = _clean(_evidence_text(entry))
    elif verdict == Verdict.SKIPPED.value:
        ET.SubElement(case, "skipped", message=_clean(entry.note))
    elif verdict == Verdict.INFO.value:
        out = ET.SubElement(case, "system-out")
        out.text = _clean(f"{verdict}: {entry.note}\n\n{_evidence_text(entry)}".rstrip())
    elif verdict != Verdict.PASSED.value:  # EXPECTED, INCONCLUSIVE, and any later verdict: distinct types
        skipped = ET.SubElement(case, "skipped", message=_message(entry), type=verdict)
        skipped.text = _clean(f"{entry.note}\n\n{_evidence_text(entry)}".strip())


def _counts(entries: list[RequirementEntry], seconds: float) -> dict[str, str]:
    failures = sum(1 for e in entries if e.verdict in _FAILURES)
    silent = (Verdict.PASSED.value, Verdict.INFO.value)
    skipped = sum(1 for e in entries if e.verdict not in _FAILURES and e.verdict not in silent)
    return {
        "tests": str(len(entries)),
        "failures": str(failures),
        "errors": "0",
        "skipped": str(skipped),
        "time": f"{seconds:.3f}",
    }


def render_junit(report: RunReport) -> str:
    levels = [level.value for level in Level]
    by_level = {level: [e for e in report.requirements if e.level == level] for level in levels}
    by_level = {level: entries for level, entries in by_level.items() if entries}
    root = ET.Element(
        "testsuites", {"name": "spt-conformance", **_counts(list(report.requirements), report.duration_s)}
    )
    for level, entries in by_level.items():
        times = [report.duration_of(e) for e in entries]
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": _clean(f"spt-conformance {level}: {report.target.name}"),
                "timestamp": report.started_at,
                "hostname": socket.gethostname(),
                **_counts(entries, sum(times)),
            },
        )
        properties = ET.SubElement(suite, "properties")
        for name, value in (
            ("level", level),
            ("suite_version", report.suite_version),
            ("spec_digest", report.spec_digest),
            ("target", report.target.base_url),
            ("seed", "" if report.seed is None else str(report.seed)),
            ("exchanges", str(report.exchanges)),
            ("coverage", report.coverage.describe()),
            ("selection", report.selection.describe() if report.selection else ""),
            ("complete", "true" if report.complete else "false"),
        ):
            ET.SubElement(properties, "property", name=name, value=_clean(value))
        for entry, seconds in zip(entries, times, strict=True):
            _testcase(suite, entry, seconds)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(report: RunReport, path: Path) -> None:
    path.write_text(render_junit(report), encoding="utf-8")
