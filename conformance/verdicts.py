"""From evidence to one verdict per requirement, softened by level and basis.

Theory of operation. `conformance.evidence` turns each test into `Evidence` about requirements:
it held (an assertion about it held in this run), it was broken (a `Violation` filed under it),
it was skipped (the target does not offer what it needs), it was inconclusive (its precondition
could not be set up), or it was not reached (the test stopped on another requirement first, or
passed without asserting anything about it). A requirement's verdict is then:

- broken by any evidence: FAILED, softened by level (a SHOULD gives WARNING, a MAY gives INFO)
  and, against a target other than the reference server, by basis: a `convention` MUST gives
  WARNING and a `decision` gives INFO, because neither is Stripe's documented behaviour; under
  `--strict` neither is softened;
- otherwise PASSED if some evidence held;
- otherwise INCONCLUSIVE if a precondition could not be set up (with the reasons);
- otherwise UNVERIFIED if a test that names it stopped before checking it (`blocked_by` says on
  which requirement), or passed without checking it;
- otherwise SKIPPED, with the reasons.

"Not reached" is never PASSED. A broken requirement listed in the expected-failures file
(`conformance.expected`) is then reported as EXPECTED instead. How verdicts make the run's
result is `conformance.reports.model.RunReport.exit_code`'s rule.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from conformance.catalog import Basis, Catalogue, Level, Requirement

__all__ = [
    "STOPPED_ON_ERROR",
    "UNCHECKED",
    "VERDICT_ORDER",
    "Evidence",
    "Outcome",
    "RequirementResult",
    "Verdict",
    "decide",
    "fold_outcome",
]

# How a failure that is not a checked requirement's (an exception in the test) is introduced.
STOPPED_ON_ERROR = "the test stopped on an error, not on a checked requirement:"


class Outcome(enum.StrEnum):
    HELD = "held"
    BROKEN = "broken"
    SKIPPED = "skipped"
    NOT_REACHED = "not reached"
    INCONCLUSIVE = "inconclusive"


class Verdict(enum.StrEnum):
    PASSED = "PASSED"
    FAILED = "FAILED"
    WARNING = "WARNING"
    SKIPPED = "SKIPPED"
    INFO = "INFO"
    EXPECTED = "EXPECTED"  # broken, but listed in the expected-failures file with a reason
    INCONCLUSIVE = "INCONCLUSIVE"  # its precondition could not be set up on this target
    UNVERIFIED = "UNVERIFIED"  # named by a test that stopped (or passed) before checking it


# The order in which summaries and reports list verdicts: the worst first after PASSED.
VERDICT_ORDER = (
    Verdict.PASSED,
    Verdict.FAILED,
    Verdict.WARNING,
    Verdict.EXPECTED,
    Verdict.INFO,
    Verdict.INCONCLUSIVE,
    Verdict.UNVERIFIED,
    Verdict.SKIPPED,
)
# Verdicts that say a requirement was not checked in this run.
UNCHECKED = frozenset({Verdict.SKIPPED, Verdict.INCONCLUSIVE, Verdict.UNVERIFIED})


@dataclass(frozen=True)
class Evidence:
    requirement: str
    test: str  # the pytest node id, or "check:<name>" for a registered check
    outcome: Outcome
    message: str = ""
    exchanges: Sequence[str] = ()  # rendered, scrubbed exchanges
    blocked_by: str = ""  # for `not reached`: the requirement whose failure stopped the test


@dataclass(frozen=True)
class RequirementResult:
    requirement: Requirement
    verdict: Verdict
    evidence: tuple[Evidence, ...] = ()
    note: str = ""  # why: the skip reason, the INFO reason, the expected failure
    blocked_by: tuple[str, ...] = ()  # for UNVERIFIED: the requirements whose failures stopped its tests

    @property
    def failures(self) -> tuple[Evidence, ...]:
        return tuple(e for e in self.evidence if e.outcome is Outcome.BROKEN)


@dataclass
class _Tally:
    held: list[Evidence] = field(default_factory=list)
    broken: list[Evidence] = field(default_factory=list)
    skipped: list[Evidence] = field(default_factory=list)
    not_reached: list[Evidence] = field(default_factory=list)
    inconclusive: list[Evidence] = field(default_factory=list)

    def add(self, item: Evidence) -> None:
        {
            Outcome.HELD: self.held,
            Outcome.BROKEN: self.broken,
            Outcome.SKIPPED: self.skipped,
            Outcome.NOT_REACHED: self.not_reached,
            Outcome.INCONCLUSIVE: self.inconclusive,
        }[item.outcome].append(item)


def _reasons(items: Iterable[Evidence], default: str) -> str:
    return "; ".join(sorted({e.message for e in items if e.message})) or default


def decide(
    catalogue: Catalogue,
    evidence: Iterable[Evidence],
    *,
    selected: frozenset[str],
    reference_target: bool,
    strict: bool,
) -> list[RequirementResult]:
    """One result per selected requirement (and per requirement broken by a selected test, selected
    or not), in catalogue order."""
    tallies: Mapping[str, _Tally] = {r.id: _Tally() for r in catalogue}
    for item in evidence:
        tally = tallies.get(item.requirement)
        if tally is not None:
            tally.add(item)

    results = []
    for requirement in catalogue:
        tally = tallies[requirement.id]
        if requirement.id not in selected and not tally.broken:
            continue
        every = (*tally.broken, *tally.held, *tally.inconclusive, *tally.not_reached, *tally.skipped)
        blocked_by: tuple[str, ...] = ()
        if tally.broken:
            verdict, note = _soften(requirement, reference_target=reference_target, strict=strict)
            if requirement.id not in selected:
                note = " ".join(filter(None, [note, "(not selected, but broken by a selected test)"]))
        elif tally.held:
            verdict, note = Verdict.PASSED, ""
        elif tally.inconclusive:
            verdict, note = Verdict.INCONCLUSIVE, _reasons(tally.inconclusive, "inconclusive")
        elif tally.not_reached:
            verdict = Verdict.UNVERIFIED
            blocked_by = tuple(dict.fromkeys(e.blocked_by for e in tally.not_reached if e.blocked_by))
            note = _reasons(tally.not_reached, "not reached")
        else:
            verdict = Verdict.SKIPPED
            note = _reasons(tally.skipped, "no test checked it in this run")
        results.append(RequirementResult(requirement, verdict, tuple(every), note, blocked_by))
    return results


def _soften(requirement: Requirement, *, reference_target: bool, strict: bool) -> tuple[Verdict, str]:
    if requirement.level is Level.MAY:
        return Verdict.INFO, "optional behaviour (MAY) not offered"
    if not reference_target and not strict and requirement.basis is Basis.DECISION:
        return Verdict.INFO, (
            f"differs from the reference server's choice {requirement.decision or ''} (spec/DECISIONS.md); "
            "Stripe documents nothing here, so this is reported, not failed (use --strict to fail it)"
        )
    if requirement.level is Level.SHOULD:
        return Verdict.WARNING, "a SHOULD requirement does not hold"
    if not reference_target and not strict and requirement.basis is Basis.CONVENTION:
        return Verdict.WARNING, (
            "rests on a Stripe-wide convention rather than on SPT documentation, so this is a warning "
            "(use --strict to fail it)"
        )
    return Verdict.FAILED, ""


class PhaseReport(Protocol):
    """What `fold_outcome` reads of a pytest `TestReport` (this module imports no pytest)."""

    @property
    def nodeid(self) -> str: ...
    @property
    def when(self) -> str: ...
    @property
    def passed(self) -> bool: ...
    @property
    def failed(self) -> bool: ...
    @property
    def skipped(self) -> bool: ...


def fold_outcome(outcomes: dict[str, str], report: PhaseReport) -> None:
    """Fold one phase's report into the test's outcome: any failing phase (setup, call or
    teardown) makes it failed; otherwise the first skip or the passing call decides."""
    previous = outcomes.get(report.nodeid)
    if report.failed:
        outcomes[report.nodeid] = "failed"
    elif report.skipped and previous is None:
        outcomes[report.nodeid] = "skipped"
    elif report.when == "call" and report.passed and previous is None:
        outcomes[report.nodeid] = "passed"
