"""JUnit XML for CI dashboards: one testcase per requirement, not per pytest test.

A dashboard then tracks `SPT-USE-005` over time, whichever tests prove it. The area is the
classname, so dashboards group requirements the way the catalogue does. FAILED is a <failure>
with the four-part message and the evidence; SKIPPED and EXPECTED are <skipped> with the reason;
WARNING and INFO pass, with their story in <system-out>.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET  # only writes XML here; never parses untrusted input
from pathlib import Path

from conformance.reports.model import RequirementEntry, RunReport
from conformance.verdicts import Verdict

__all__ = ["render_junit", "write_junit"]

# XML 1.0 forbids most control characters, which a misbehaving server may well send back.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _evidence_text(entry: RequirementEntry) -> str:
    blocks = []
    for failure in entry.failures:
        blocks.append(f"found by {failure.test}\n{failure.message}")
        blocks += [f"--- exchange {n} ---\n{exchange}" for n, exchange in enumerate(failure.exchanges, 1)]
    if entry.omitted_failures:
        blocks.append(f"… {entry.omitted_failures} more failure(s) omitted")
    return "\n\n".join(blocks)


def _testcase(parent: ET.Element, entry: RequirementEntry) -> None:
    case = ET.SubElement(
        parent,
        "testcase",
        classname=entry.area,
        name=_clean(f"{entry.id} {entry.statement}"),
        time="0",
    )
    # Properties first: pytest writes them there, and strict schemas expect that order.
    properties = ET.SubElement(case, "properties")
    ET.SubElement(properties, "property", name="level", value=entry.level)
    ET.SubElement(properties, "property", name="source", value=_clean(entry.source))
    for test in entry.tests:
        ET.SubElement(properties, "property", name="test", value=_clean(test))
    verdict = entry.verdict
    if verdict == Verdict.FAILED.value:
        first = entry.failures[0].message.splitlines()[0] if entry.failures else entry.note
        failure = ET.SubElement(case, "failure", message=_clean(first or "failed"), type=f"{entry.level} FAILED")
        failure.text = _clean(_evidence_text(entry))
    elif verdict in (Verdict.SKIPPED.value, Verdict.INCONCLUSIVE.value, Verdict.UNVERIFIED.value):
        blocked = f"blocked by {', '.join(entry.blocked_by)}: " if entry.blocked_by else ""
        label = "" if verdict == Verdict.SKIPPED.value else f"{verdict}: "
        ET.SubElement(case, "skipped", message=_clean(f"{label}{blocked}{entry.note}"), type=verdict.lower())
    elif verdict == Verdict.EXPECTED.value:
        skipped = ET.SubElement(case, "skipped", message=_clean(entry.note), type="expected failure")
        skipped.text = _clean(_evidence_text(entry))
    elif verdict in (Verdict.WARNING.value, Verdict.INFO.value):
        out = ET.SubElement(case, "system-out")
        out.text = _clean(f"{verdict}: {entry.note}\n\n{_evidence_text(entry)}".rstrip())


def render_junit(report: RunReport) -> str:
    counts = report.by_verdict
    total = len(report.requirements)
    failures = counts[Verdict.FAILED.value]
    skipped = sum(
        counts[v.value] for v in (Verdict.SKIPPED, Verdict.EXPECTED, Verdict.INCONCLUSIVE, Verdict.UNVERIFIED)
    )
    attributes = {
        "tests": str(total),
        "failures": str(failures),
        "errors": "0",
        "skipped": str(skipped),
        "time": f"{report.duration_s:.3f}",
    }
    root = ET.Element("testsuites", {"name": "spt-conformance", **attributes})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": _clean(f"spt-conformance: {report.target.name}"),
            "timestamp": report.started_at,
            "hostname": socket.gethostname(),
            **attributes,
        },
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
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
    for entry in report.requirements:
        _testcase(suite, entry)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(report: RunReport, path: Path) -> None:
    path.write_text(render_junit(report), encoding="utf-8")
