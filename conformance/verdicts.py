"""From test outcomes to one verdict per requirement.

Theory of operation. Every test names the requirements it proves; every exchange is checked by
the registered checks. Each yields `Evidence` about one requirement: it held, it was broken (a
`Violation` naming it), it could not be checked (skipped, with the reason), or it was not reached
(the test stopped on another requirement first). A requirement's verdict is then:

- FAILED if any evidence broke it — softened by level and source: a SHOULD gives WARNING, a MAY
  gives INFO, and a `decision:` requirement against a target other than the reference server
  gives INFO unless the run is strict, because the behaviour is our choice, not Stripe's;
- PASSED if some evidence held and none broke it;
- SKIPPED otherwise, with the reasons.

A broken requirement listed in the expected-failures file (`conformance.expected`) is then
reported as EXPECTED instead. Only a FAILED verdict makes the run fail (exit 1).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from conformance.catalog import Catalogue, Level, Requirement

__all__ = ["VERDICT_ORDER", "Evidence", "Outcome", "RequirementResult", "Verdict", "decide", "fold_outcome"]


class Outcome(enum.StrEnum):
    HELD = "held"
    BROKEN = "broken"
    SKIPPED = "skipped"
    NOT_REACHED = "not reached"


class Verdict(enum.StrEnum):
    PASSED = "PASSED"
    FAILED = "FAILED"
    WARNING = "WARNING"
    SKIPPED = "SKIPPED"
    INFO = "INFO"
    EXPECTED = "EXPECTED"  # broken, but listed in the expected-failures file with a reason


# The order in which summaries and reports list verdicts: the worst first after PASSED.
VERDICT_ORDER = (
    Verdict.PASSED,
    Verdict.FAILED,
    Verdict.WARNING,
    Verdict.EXPECTED,
    Verdict.INFO,
    Verdict.SKIPPED,
)


@dataclass(frozen=True)
class Evidence:
    requirement: str
    test: str  # the pytest node id, or "check:<name>" for a registered check
    outcome: Outcome
    message: str = ""
    exchanges: Sequence[str] = ()  # rendered, scrubbed exchanges


@dataclass(frozen=True)
class RequirementResult:
    requirement: Requirement
    verdict: Verdict
    evidence: tuple[Evidence, ...] = ()
    note: str = ""  # why: the skip reason, the INFO reason, the expected failure

    @property
    def failures(self) -> tuple[Evidence, ...]:
        return tuple(e for e in self.evidence if e.outcome is Outcome.BROKEN)


@dataclass
class _Tally:
    held: list[Evidence] = field(default_factory=list)
    broken: list[Evidence] = field(default_factory=list)
    skipped: list[Evidence] = field(default_factory=list)
    not_reached: list[Evidence] = field(default_factory=list)


def decide(
    catalogue: Catalogue,
    evidence: Iterable[Evidence],
    *,
    selected: frozenset[str],
    reference_target: bool,
    strict: bool,
) -> list[RequirementResult]:
    """One result per selected requirement, in catalogue order."""
    tallies: Mapping[str, _Tally] = {r.id: _Tally() for r in catalogue}
    for item in evidence:
        tally = tallies.get(item.requirement)
        if tally is None:
            continue
        {
            Outcome.HELD: tally.held,
            Outcome.BROKEN: tally.broken,
            Outcome.SKIPPED: tally.skipped,
            Outcome.NOT_REACHED: tally.not_reached,
        }[item.outcome].append(item)

    results = []
    for requirement in catalogue:
        if requirement.id not in selected:
            continue
        tally = tallies[requirement.id]
        every = (*tally.broken, *tally.held, *tally.skipped, *tally.not_reached)
        if tally.broken:
            verdict, note = _soften(requirement, reference_target=reference_target, strict=strict)
        elif tally.held:
            verdict, note = Verdict.PASSED, ""
        else:
            verdict = Verdict.SKIPPED
            reasons = sorted({e.message for e in (*tally.skipped, *tally.not_reached) if e.message})
            note = "; ".join(reasons) or "no test checked it in this run"
        results.append(RequirementResult(requirement, verdict, tuple(every), note))
    return results


def _soften(requirement: Requirement, *, reference_target: bool, strict: bool) -> tuple[Verdict, str]:
    if requirement.decision and not reference_target and not strict:
        return Verdict.INFO, (
            f"differs from the reference server's choice {requirement.decision} (spec/DECISIONS.md); "
            "Stripe documents nothing here, so this is reported, not failed (use --strict to fail it)"
        )
    if requirement.level is Level.SHOULD:
        return Verdict.WARNING, "a SHOULD requirement does not hold"
    if requirement.level is Level.MAY:
        return Verdict.INFO, "optional behaviour (MAY) not offered"
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
