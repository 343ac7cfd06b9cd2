"""The evidence pipeline: marker → test → assertion → evidence, and the one serialised form of evidence.

Theory of operation. A test names the requirements it proves with `@pytest.mark.requirement`
(and, with `@pytest.mark.uses`, requirements it relies on as set-up steps). While it runs, each
`expect_*` that holds is counted in `conformance.violation.LEDGER`, each one that does not raises
a `Violation`, and every exchange is judged by the registered checks (`conformance.checks`).
When a phase of the test ends, `derive` turns all of that into `Evidence`, one item per
requirement, by these rules:

- a requirement **held** only when the test passed and an assertion about it held in this run; a
  test that passed without asserting anything about a requirement it names proves nothing about
  it (`not reached`, "no assertion about it ran");
- a violation is filed under its own requirement when the test declares it, when it is a set-up
  step (`setup=True`, or a requirement the test `uses`), or when it rests on a decision
  (`rests_on="D-NN"`: filed under that decision's requirement); the test's other requirements
  are then **not reached**, blocked by it;
- a violation naming an ID that is not in the catalogue, or one the test does not declare, is a
  **stray**: it fails the test's declared requirements, with a message naming the stray ID;
- a finding of a registered check is filed under that check's requirement; a check **held** in a
  test only if the test made an exchange the check is about (see `RegisteredCheck.applies`);
- a test that fails without a violation (an error, a timeout) breaks every requirement it names;
- `inconclusive(reason)` makes its requirements **inconclusive**, with the reason;
- selection chooses the tests: evidence about unselected requirements is dropped, except that a
  broken one is kept, so `--only` never hides a failure of a selected test.

Evidence travels from pytest-xdist workers to the controller in the reports' `user_properties`
as `to_json` dictionaries, and `conformance.verdicts.decide` turns it into verdicts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from conformance.catalog import Catalogue
from conformance.checks import RegisteredCheck
from conformance.client import Exchange
from conformance.verdicts import STOPPED_ON_ERROR, Evidence, Outcome
from conformance.violation import Inconclusive, Violation, ViolationGroup

__all__ = [
    "TestPhase",
    "derive",
    "from_json",
    "late",
    "requirement_ids",
    "scrubbed",
    "to_json",
    "used_ids",
    "violations_of",
]

CHECK_PREFIX = "check:"


def _marker_ids(item: pytest.Item, name: str) -> tuple[str, ...]:
    ids: list[str] = []
    for mark in item.iter_markers(name):
        ids.extend(str(arg) for arg in mark.args)
    return tuple(dict.fromkeys(ids))


def requirement_ids(item: pytest.Item) -> tuple[str, ...]:
    """The requirements a test proves: the arguments of its `requirement` markers."""
    return _marker_ids(item, "requirement")


def used_ids(item: pytest.Item) -> tuple[str, ...]:
    """The requirements a test relies on as set-up steps: the arguments of its `uses` markers."""
    return _marker_ids(item, "uses")


def violations_of(exc: BaseException | None) -> list[Violation]:
    """The violations an exception carries: itself, a group of them, or (Hypothesis reports
    several distinct bugs at once) an ExceptionGroup made only of them."""
    if isinstance(exc, Violation):
        return [exc]
    if isinstance(exc, ViolationGroup):
        return list(exc.violations)
    if isinstance(exc, BaseExceptionGroup):
        parts = [violations_of(inner) for inner in exc.exceptions]
        return [v for part in parts for v in part] if all(parts) else []
    return []


@dataclass(frozen=True)
class TestPhase:
    """What one phase (setup, call, teardown) of one test did, as the pipeline needs it."""

    __test__ = False  # not a pytest test class

    test: str  # the node id
    when: str
    declared: tuple[str, ...]
    uses: tuple[str, ...] = ()
    passed: bool = False
    failed: bool = False
    skipped: bool = False
    skip_reason: str = ""
    error: BaseException | None = None
    error_text: str = ""  # pytest's account of a failure that carried no exception
    held: Mapping[str, int] = dataclasses.field(default_factory=dict)  # the ledger, for the call phase
    soft: Sequence[Violation] = ()  # decision violations recorded without stopping the test
    exchanges: Sequence[Exchange] = ()  # the journal, on teardown
    findings: Sequence[Exception] = ()


def _filed(violation: Violation, catalogue: Catalogue) -> str:
    """The requirement a violation is filed under: its decision's, when it rests on one."""
    if violation.rests_on is not None:
        routed = catalogue.for_decision(violation.rests_on)
        if routed is not None:
            return routed.id
    return violation.requirement


def _broken(requirement: str, test: str, violation: Violation, catalogue: Catalogue) -> Evidence:
    message = violation.render(catalogue)
    if requirement != violation.requirement:
        message = (
            f"{message}\nRests on:    {violation.rests_on}, the reference server's choice, so this is filed under "
            f"{requirement} rather than {violation.requirement}"
        )
    exchanges = tuple(e.render() for e in violation.exchanges)
    return Evidence(requirement, test, Outcome.BROKEN, message, exchanges)


def _stray(requirement: str, phase: TestPhase, violation: Violation, catalogue: Catalogue) -> Evidence:
    why = (
        "which is not in the catalogue (a mistyped ID?)"
        if violation.requirement not in catalogue
        else "which this test does not declare (add it to the test's requirement or uses marker)"
    )
    message = (
        f"{phase.test} failed on an assertion filed under {violation.requirement}, {why}; it is reported "
        f"against the test's own requirement so that it cannot be lost:\n{violation.render(catalogue)}"
    )
    return Evidence(requirement, phase.test, Outcome.BROKEN, message, tuple(e.render() for e in violation.exchanges))


def _judge_violations(
    phase: TestPhase, violations: Iterable[Violation], catalogue: Catalogue, allowed: Iterable[str]
) -> tuple[list[Evidence], list[str]]:
    """Evidence for each violation and the requirements it blocks, in order."""
    evidence: list[Evidence] = []
    blockers: list[str] = []
    own = set(phase.declared) | set(phase.uses) | set(allowed)
    for violation in violations:
        filed = _filed(violation, catalogue)
        known = filed in catalogue
        if known and (filed in own or violation.setup or violation.rests_on is not None):
            evidence.append(_broken(filed, phase.test, violation, catalogue))
            blockers.append(filed)
        else:
            evidence += [_stray(r, phase, violation, catalogue) for r in phase.declared]
            blockers += [r for r in phase.declared if r not in blockers]
    return evidence, blockers


def _blocked(phase: TestPhase, evidence: Sequence[Evidence], blockers: Sequence[str]) -> list[Evidence]:
    broken = {e.requirement for e in evidence}
    if not blockers:
        return []
    first = blockers[0]
    return [
        Evidence(r, phase.test, Outcome.NOT_REACHED, f"not reached: {first} failed first in {phase.test}", (), first)
        for r in phase.declared
        if r not in broken
    ]


def _test_evidence(phase: TestPhase, catalogue: Catalogue) -> list[Evidence]:
    if phase.skipped:
        if isinstance(phase.error, Inconclusive) or phase.skip_reason.startswith("inconclusive"):
            reason = str(phase.error) if isinstance(phase.error, Inconclusive) else phase.skip_reason
            reason = reason.removeprefix("inconclusive: ")
            return [Evidence(r, phase.test, Outcome.INCONCLUSIVE, reason) for r in phase.declared]
        return [Evidence(r, phase.test, Outcome.SKIPPED, phase.skip_reason) for r in phase.declared]
    evidence: list[Evidence] = []
    if phase.soft:
        # Recorded without stopping the test, so they block nothing; only a decision requirement
        # may be checked this way (anything else is a stray).
        decisions = {
            v.requirement for v in phase.soft if v.requirement in catalogue and catalogue[v.requirement].decision
        }
        evidence, _ = _judge_violations(phase, phase.soft, catalogue, decisions)
    if phase.when == "call" and phase.passed:
        for requirement in phase.declared:
            if any(e.requirement == requirement for e in evidence):
                continue
            if phase.held.get(requirement, 0):
                evidence.append(Evidence(requirement, phase.test, Outcome.HELD))
            else:
                evidence.append(
                    Evidence(
                        requirement,
                        phase.test,
                        Outcome.NOT_REACHED,
                        f"not reached: {phase.test} passed without an assertion about it holding",
                    )
                )
    elif phase.failed and phase.when in ("setup", "call"):
        violations = violations_of(phase.error)
        if violations:
            found, blockers = _judge_violations(phase, violations, catalogue, ())
            evidence += found
            evidence += _blocked(phase, evidence, blockers)
        else:
            text = f"{type(phase.error).__name__}: {phase.error}" if phase.error is not None else phase.error_text
            message = f"{STOPPED_ON_ERROR}\n{text}"
            evidence += [Evidence(r, phase.test, Outcome.BROKEN, message) for r in phase.declared]
    return evidence


def _check_evidence(phase: TestPhase, catalogue: Catalogue, registry: Mapping[str, RegisteredCheck]) -> list[Evidence]:
    """What the registered checks found in the test's exchanges, and which of them held."""
    if not phase.exchanges and not phase.findings:
        return []
    checked = {r.requirement for r in registry.values()}
    test = f"{CHECK_PREFIX}{phase.test}"
    check_phase = dataclasses.replace(phase, test=test)
    violations = [f for f in phase.findings if isinstance(f, Violation)]
    evidence, _ = _judge_violations(check_phase, violations, catalogue, checked)
    found = {e.requirement for e in evidence}
    for registered in registry.values():
        if registered.requirement in found:
            continue
        if any(registered.applies(exchange) for exchange in phase.exchanges):
            evidence.append(Evidence(registered.requirement, f"{CHECK_PREFIX}{registered.name}", Outcome.HELD))
    return evidence


def derive(
    phase: TestPhase,
    catalogue: Catalogue,
    registry: Mapping[str, RegisteredCheck],
    *,
    selected: frozenset[str],
    scrub: Callable[[str], str],
) -> list[Evidence]:
    """The evidence one phase of one test gives, scrubbed, for the selected requirements (and any
    requirement it broke, selected or not)."""
    evidence = _test_evidence(phase, catalogue)
    if phase.when == "teardown":
        evidence += _check_evidence(phase, catalogue, registry)
        if phase.failed and not any(e.outcome is Outcome.BROKEN for e in evidence):
            failure = _test_evidence(dataclasses.replace(phase, when="call"), catalogue)
            evidence += failure
    return scrubbed(evidence, selected=selected, scrub=scrub)


def scrubbed(evidence: Iterable[Evidence], *, selected: frozenset[str], scrub: Callable[[str], str]) -> list[Evidence]:
    """Evidence as it leaves the worker: scrubbed, about the selected requirements or broken."""
    return [
        dataclasses.replace(e, message=scrub(e.message), exchanges=tuple(scrub(x) for x in e.exchanges))
        if e.outcome is Outcome.BROKEN
        else e
        for e in evidence
        if e.requirement in selected or e.outcome is Outcome.BROKEN
    ]


def late(test: str, requirement: str, violation: Violation | None, catalogue: Catalogue) -> Evidence:
    """Evidence about a test that has already ended (an expectation judged at the end of the
    session): held when nothing was found, else broken under `requirement`."""
    if violation is None:
        return Evidence(requirement, test, Outcome.HELD)
    return dataclasses.replace(_broken(violation.requirement, test, violation, catalogue), requirement=requirement)


def to_json(evidence: Evidence) -> dict[str, Any]:
    """The one serialised form of evidence: what workers send, what recordings keep."""
    data: dict[str, Any] = {
        "requirement": evidence.requirement,
        "test": evidence.test,
        "outcome": evidence.outcome.value,
        "message": evidence.message,
        "exchanges": list(evidence.exchanges),
    }
    if evidence.blocked_by:
        data["blocked_by"] = evidence.blocked_by
    return data


def from_json(data: Mapping[str, Any]) -> Evidence:
    return Evidence(
        data["requirement"],
        data["test"],
        Outcome(data["outcome"]),
        data.get("message", ""),
        tuple(data.get("exchanges", ())),
        data.get("blocked_by", ""),
    )
