"""The outcome of one run as a value, and its JSON form; the other formats render this value.

Theory of operation. When a session ends, the plugin turns the per-requirement verdicts into one
`RunReport` through `build_report`, which scrubs every string in it (keys of the target, any
Stripe-shaped secret, webhook secrets, card numbers, CVCs) before anything else sees it. The
terminal summary (`report_text`), JUnit XML (`report_junit`) and the HTML page (`report_html`)
are all rendered from that scrubbed value, so no format can leak what another one hides.

Coverage is part of the value: which requirements were selected (`Selection`) and how many of the
applicable MUST requirements were verified, skipped, inconclusive or left unverified, and by which
failures (`Coverage`); every format states it, and `RunReport.exit_code` is the run's one rule.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from conformance import __version__
from conformance.catalog import Catalogue, Level
from conformance.expected import ExpectedOutcome
from conformance.reports.coverage import Coverage, Selection, grouped
from conformance.scrub import scrub_text
from conformance.target import Target
from conformance.verdicts import UNCHECKED, VERDICT_ORDER, Outcome, RequirementResult, Verdict

__all__ = [
    "FORMAT",
    "EvidenceEntry",
    "ExpectedEntry",
    "RequirementEntry",
    "RunCounts",
    "RunReport",
    "TargetInfo",
    "build_report",
    "output_path_problem",
    "shown_url",
    "write_json",
]

FORMAT = "spt-conformance-report/1"
# Failures of one requirement whose exchanges are kept: enough to read what went wrong; a server
# that fails a check on every response would otherwise put thousands of identical exchanges in
# the report. Every failure is kept, with its message; past these, without its exchanges.
MAX_FAILURES_PER_REQUIREMENT = 20


@dataclass(frozen=True)
class EvidenceEntry:
    test: str  # the pytest node id, or "check:<node id>" for a registered check
    outcome: str  # held, broken, skipped, not reached
    message: str = ""  # for a failure, the four-part message
    exchanges: tuple[str, ...] = ()  # rendered request/response pairs, for failures


@dataclass(frozen=True)
class RequirementEntry:
    id: str
    level: str
    area: str
    statement: str
    source: str
    verdict: str
    note: str
    tests: tuple[str, ...]  # the tests that named it and ran
    checks_held: int  # tests in which the registered check for it found nothing wrong
    evidence: tuple[EvidenceEntry, ...]
    basis: str = "documented"
    blocked_by: tuple[str, ...] = ()  # for UNVERIFIED: the requirements whose failures stopped its tests
    selected: bool = True  # False: reported only because a selected test broke it
    omitted_failures: int = 0  # failures kept without their exchanges (past MAX_FAILURES_PER_REQUIREMENT)

    @property
    def failures(self) -> tuple[EvidenceEntry, ...]:
        return tuple(e for e in self.evidence if e.outcome == Outcome.BROKEN.value)


@dataclass(frozen=True)
class ExpectedEntry:
    id: str
    reason: str
    expires: str
    status: str  # applied, expired, stale, unused
    message: str


@dataclass(frozen=True)
class TargetInfo:
    name: str
    base_url: str  # without any user:password part
    reference: bool  # the bundled reference server, whose decisions count as requirements
    stripe_version: str | None
    capabilities: tuple[str, ...]


@dataclass(frozen=True)
class RunCounts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped


@dataclass(frozen=True)
class RunReport:
    suite_version: str
    spec_digest: str
    target: TargetInfo
    started_at: str  # ISO 8601, UTC
    duration_s: float
    seed: int | None
    options: Mapping[str, Any]
    tests: RunCounts
    exchanges: int
    requirements: tuple[RequirementEntry, ...]
    expected_failures: tuple[ExpectedEntry, ...] = ()
    areas: Mapping[str, str] = field(default_factory=dict)  # area code → title, in catalogue order
    selection: Selection | None = None
    strict: bool = False
    test_durations: Mapping[str, float] = field(default_factory=dict)  # node id → seconds

    def duration_of(self, entry: RequirementEntry) -> float:
        """The seconds the tests that named `entry` took (a test naming two counts for both)."""
        return sum(self.test_durations.get(test, 0.0) for test in entry.tests)

    def with_verdict(self, *verdicts: Verdict) -> tuple[RequirementEntry, ...]:
        wanted = {v.value for v in verdicts}
        return tuple(r for r in self.requirements if r.verdict in wanted)

    @property
    def by_verdict(self) -> dict[str, int]:
        counts = {v.value: 0 for v in VERDICT_ORDER}
        for entry in self.requirements:
            counts[entry.verdict] += 1
        return counts

    @property
    def by_area_level(self) -> dict[str, dict[str, dict[str, int]]]:
        """area → level → verdict → count, for the areas and levels that have requirements."""
        table: dict[str, dict[str, dict[str, int]]] = {}
        for entry in self.requirements:
            levels = table.setdefault(entry.area, {})
            counts = levels.setdefault(entry.level, {v.value: 0 for v in VERDICT_ORDER})
            counts[entry.verdict] += 1
        order = [level.value for level in Level]
        area_order = list(self.areas) or sorted(table)
        return {
            area: {level: table[area][level] for level in order if level in table[area]}
            for area in area_order
            if area in table
        }

    @property
    def stale_expectations(self) -> tuple[ExpectedEntry, ...]:
        return tuple(e for e in self.expected_failures if e.status == "stale")

    @property
    def coverage(self) -> Coverage:
        verdicts = {r.id: r.verdict for r in self.requirements}
        musts = [r for r in self.requirements if r.level == Level.MUST.value and r.selected]
        unchecked = {v.value for v in UNCHECKED}
        blockers = []
        for entry in musts:
            if entry.verdict == Verdict.UNVERIFIED.value:
                named = [
                    f"{b} ({'expected failure' if verdicts.get(b) == Verdict.EXPECTED.value else verdicts.get(b, '?')})"
                    for b in entry.blocked_by
                ]
                blockers.append(f"blocked by {', '.join(named)}" if named else "no assertion about it ran")
        return Coverage(
            applicable=len(musts),
            verified=sum(1 for r in musts if r.verdict not in unchecked),
            skipped=grouped(r.note for r in musts if r.verdict == Verdict.SKIPPED.value),
            inconclusive=grouped(r.note for r in musts if r.verdict == Verdict.INCONCLUSIVE.value),
            unverified=grouped(blockers),
        )

    @property
    def complete(self) -> bool:
        """The whole catalogue was selected and no applicable MUST was left unverified or inconclusive:
        only such a run can stand for full conformance (a bundle of any other run says it is partial)."""
        full = self.selection is None or (self.selection.full and not self.selection.quick)
        return full and self.coverage.gaps == 0

    @property
    def exit_code(self) -> int:
        """1 when a requirement FAILED or an expected failure is stale, and under --strict also when an
        applicable MUST was left unverified or inconclusive; 0 otherwise."""
        if self.with_verdict(Verdict.FAILED) or self.stale_expectations:
            return 1
        return 1 if self.strict and self.coverage.gaps else 0

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["tests"]["total"] = self.tests.total
        for entry in data["requirements"]:
            entry["evidence"] = [{k: v for k, v in e.items() if v not in ("", ())} for e in entry["evidence"]]
        return {
            "format": FORMAT,
            **data,
            "summary": {
                "exit_code": self.exit_code,
                "verdicts": self.by_verdict,
                "areas": self.by_area_level,
                "coverage": {**dataclasses.asdict(self.coverage), "text": self.coverage.describe()},
                "selection": self.selection.describe() if self.selection is not None else "",
                "complete": self.complete,
            },
        }


def shown_url(url: str) -> str:
    """The URL without any user:password part, as reports and the terminal may show it."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _requirement_entry(result: RequirementResult, selected: frozenset[str] | None) -> RequirementEntry:
    requirement = result.requirement
    tests: list[str] = []
    evidence: list[EvidenceEntry] = []
    checked = 0
    failures = 0
    omitted = 0
    for item in result.evidence:
        if item.test.startswith("check:") and item.outcome is Outcome.HELD:
            checked += 1  # one per test; listing them would repeat every node id per check
            continue
        if not item.test.startswith("check:") and item.test not in tests:
            tests.append(item.test)
        exchanges = tuple(item.exchanges)
        if item.outcome is Outcome.BROKEN:
            failures += 1
            if failures > MAX_FAILURES_PER_REQUIREMENT and exchanges:
                omitted += 1  # every failure is kept; past the cap, without its exchanges
                exchanges = ()
        evidence.append(EvidenceEntry(item.test, item.outcome.value, item.message, exchanges))
    return RequirementEntry(
        id=requirement.id,
        level=requirement.level.value,
        area=requirement.area,
        statement=requirement.statement,
        source=requirement.source,
        verdict=result.verdict.value,
        note=result.note,
        tests=tuple(tests),
        checks_held=checked,
        evidence=tuple(evidence),
        omitted_failures=omitted,
        basis=requirement.basis.value,
        blocked_by=result.blocked_by,
        selected=selected is None or requirement.id in selected,
    )


def _scrub(value: Any, secrets: Sequence[str]) -> Any:
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, tuple | list):
        return type(value)(_scrub(v, secrets) for v in value)
    if isinstance(value, Mapping):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _scrub(getattr(value, f.name), secrets) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    return value


def build_report(
    *,
    catalogue: Catalogue,
    spec_digest: str,
    target: Target,
    results: Iterable[RequirementResult],
    expected: Iterable[ExpectedOutcome] = (),
    options: Mapping[str, Any],
    seed: int | None,
    tests: RunCounts,
    exchanges: int,
    started_at: str,
    duration_s: float,
    secrets: Iterable[str] = (),
    selected: frozenset[str] | None = None,
    strict: bool = False,
    test_durations: Mapping[str, float] | None = None,
) -> RunReport:
    """The scrubbed report of a run: the target's keys and `secrets` appear nowhere in it."""
    report = RunReport(
        suite_version=__version__,
        spec_digest=spec_digest,
        target=TargetInfo(
            name=target.name,
            base_url=shown_url(target.base_url),
            reference=target.embedded,
            stripe_version=target.stripe_version,
            capabilities=tuple(sorted(target.capabilities)),
        ),
        started_at=started_at,
        duration_s=round(duration_s, 3),
        seed=seed,
        options=dict(options),
        tests=tests,
        exchanges=exchanges,
        requirements=tuple(_requirement_entry(r, selected) for r in results),
        expected_failures=tuple(
            ExpectedEntry(o.entry.requirement, o.entry.reason, o.entry.expires.isoformat(), o.status.value, o.message)
            for o in expected
        ),
        areas=dict(catalogue.areas),
        selection=Selection(
            selected=len(selected) if selected is not None else len(catalogue.active),
            total=len(catalogue.active),
            only=tuple(options.get("only", ())),
            skip=tuple(options.get("skip", ())),
            quick=bool(options.get("quick", False)),
        ),
        strict=strict,
        test_durations={test: round(seconds, 4) for test, seconds in (test_durations or {}).items()},
    )
    known = sorted({s for s in (*target.secrets(), *secrets) if s}, key=len, reverse=True)
    scrubbed: RunReport = _scrub(report, known)
    return scrubbed


def output_path_problem(option: str, value: str | Path | None) -> str | None:
    """Why a report file could not be written there, checked before the run rather than after it."""
    if not value:
        return None
    path = Path(value)
    if path.is_dir():
        return f"{option} {path}: is a directory; give a file name, such as {path / 'report'}"
    parent = path.parent
    if not parent.is_dir():
        return f"{option} {path}: the directory {parent} does not exist; create it first"
    return None


def write_json(report: RunReport, path: Path) -> None:
    path.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
