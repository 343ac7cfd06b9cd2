"""No requirement Stripe documents can be failed by a step that rests on one of our decisions.

A step that checks the reference server's choice names it (`rests_on="D-NN"`, or
`expect_decision` on the decision's requirement); the evidence pipeline files its failure under
that decision's requirement, which a target other than the reference server gets as INFO.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from conformance.catalog import Basis
from conformance.checks import REGISTRY
from conformance.evidence import TestPhase, derive
from conformance.spec import default_spec
from conformance.verdicts import Outcome, Verdict, decide
from conformance.violation import Violation

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = default_spec().catalogue
SOURCES = sorted((ROOT / "conformance").rglob("*.py"))
DOCUMENTED = next(r for r in CATALOGUE if r.basis is Basis.DOCUMENTED and r.level.value == "MUST")


def _keyword_literals(name: str) -> list[tuple[Path, str]]:
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == name and isinstance(keyword.value, ast.Constant):
                        found.append((path, str(keyword.value.value)))
    return found


def test_every_decision_a_step_rests_on_has_a_decision_requirement() -> None:
    for path, decision in _keyword_literals("rests_on"):
        routed = CATALOGUE.for_decision(decision)
        assert routed is not None, f"{path.name}: rests_on={decision!r} names no requirement's decision"
        assert routed.basis is Basis.DECISION


def test_expect_decision_names_only_decision_requirements() -> None:
    named = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "expect_decision":
                literal = next(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
                named.append(literal)
                assert CATALOGUE[literal].basis is Basis.DECISION, f"{path.name}: expect_decision on {literal}"
    assert named, "the suite checks decisions without stopping somewhere (revoke twice, a past expires_at)"


def _phase(violation: Violation, **kwargs: object) -> TestPhase:
    return TestPhase(test="t.py::t", when="call", declared=(DOCUMENTED.id,), failed=True, error=violation, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("decision", sorted({r.decision for r in CATALOGUE if r.decision}))
def test_a_documented_step_resting_on_a_decision_fails_only_the_decision(decision: str) -> None:
    violation = Violation(DOCUMENTED.id, received="x", expected="y", rests_on=decision)
    evidence = derive(_phase(violation), CATALOGUE, REGISTRY, selected=frozenset(r.id for r in CATALOGUE), scrub=str)
    broken = {e.requirement for e in evidence if e.outcome is Outcome.BROKEN}
    assert broken == {CATALOGUE.for_decision(decision).id}  # type: ignore[union-attr]
    results = decide(
        CATALOGUE, evidence, selected=frozenset(r.id for r in CATALOGUE), reference_target=False, strict=False
    )
    failed = [r.requirement.id for r in results if r.verdict is Verdict.FAILED]
    assert failed == []  # against another server a decision is INFO; nothing Stripe documents failed


def test_a_decision_recorded_without_stopping_on_a_documented_requirement_is_a_stray() -> None:
    soft = Violation(DOCUMENTED.id, received="x", expected="y")
    own = next(r.id for r in CATALOGUE if r.id != DOCUMENTED.id)
    phase = TestPhase(test="t.py::t", when="call", declared=(own,), passed=True, soft=(soft,))
    evidence = derive(phase, CATALOGUE, REGISTRY, selected=frozenset({own}), scrub=str)
    (broken,) = [e for e in evidence if e.outcome is Outcome.BROKEN]
    assert broken.requirement == own
    assert re.search(rf"{DOCUMENTED.id}, which this test does not declare", broken.message)
