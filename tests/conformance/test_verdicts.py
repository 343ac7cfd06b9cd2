"""From evidence to one verdict per requirement: every branch of `decide`."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from conformance.catalog import Basis, Catalogue, Level, Requirement
from conformance.verdicts import Evidence, Outcome, RequirementResult, Verdict, decide

MUST = Requirement("SPT-USE-001", Level.MUST, "A payment within the cap succeeds.", "https://docs.stripe.com/x")
SHOULD = Requirement("SPT-USE-002", Level.SHOULD, "A used event reaches the seller.", "seed")
MAY = Requirement("SPT-USE-003", Level.MAY, "Partial captures are allowed.", "seed")
DECISION = Requirement("SPT-USE-004", Level.MUST, "Over-cap is refused with code X.", "decision:D-11")
CATALOGUE = Catalogue(MappingProxyType({"USE": "Use"}), (MUST, SHOULD, MAY, DECISION))
ALL = frozenset(r.id for r in CATALOGUE)


def one(
    requirement: Requirement, *outcomes: Outcome, reference: bool = False, strict: bool = False
) -> RequirementResult:
    evidence = [Evidence(requirement.id, f"t{n}", outcome, f"message {n}") for n, outcome in enumerate(outcomes)]
    results = decide(CATALOGUE, evidence, selected=ALL, reference_target=reference, strict=strict)
    return next(r for r in results if r.requirement is requirement)


def test_decide_held_only_is_passed() -> None:
    result = one(MUST, Outcome.HELD, Outcome.HELD)
    assert (result.verdict, result.note) == (Verdict.PASSED, "")


def test_decide_broken_must_is_failed_even_if_another_test_held_it() -> None:
    result = one(MUST, Outcome.HELD, Outcome.BROKEN)
    assert result.verdict is Verdict.FAILED
    assert [e.test for e in result.failures] == ["t1"]


def test_decide_broken_should_is_a_warning() -> None:
    assert one(SHOULD, Outcome.BROKEN).verdict is Verdict.WARNING


def test_decide_broken_may_is_info() -> None:
    result = one(MAY, Outcome.BROKEN)
    assert (result.verdict, result.note) == (Verdict.INFO, "optional behaviour (MAY) not offered")


@pytest.mark.parametrize(
    ("reference", "strict", "verdict"),
    [(False, False, Verdict.INFO), (True, False, Verdict.FAILED), (False, True, Verdict.FAILED)],
)
def test_decide_broken_decision_is_info_only_against_external_targets_unless_strict(
    reference: bool, strict: bool, verdict: Verdict
) -> None:
    result = one(DECISION, Outcome.BROKEN, reference=reference, strict=strict)
    assert result.verdict is verdict
    if verdict is Verdict.INFO:
        assert "D-11" in result.note
        assert "--strict" in result.note


def test_decide_skipped_only_is_skipped_with_the_reasons() -> None:
    result = one(MUST, Outcome.SKIPPED, Outcome.SKIPPED)
    assert (result.verdict, result.note) == (Verdict.SKIPPED, "message 0; message 1")


def test_decide_not_reached_only_is_unverified_never_passed() -> None:
    result = one(MUST, Outcome.NOT_REACHED)
    assert (result.verdict, result.note) == (Verdict.UNVERIFIED, "message 0")


def test_decide_unverified_names_what_blocked_it() -> None:
    evidence = [Evidence(MUST.id, "t", Outcome.NOT_REACHED, "not reached", (), "SPT-GRT-001")]
    (result,) = decide(CATALOGUE, evidence, selected=frozenset({MUST.id}), reference_target=False, strict=False)
    assert (result.verdict, result.blocked_by) == (Verdict.UNVERIFIED, ("SPT-GRT-001",))


def test_decide_inconclusive_is_its_own_verdict_with_the_reason() -> None:
    result = one(MUST, Outcome.INCONCLUSIVE, Outcome.NOT_REACHED, Outcome.SKIPPED)
    assert (result.verdict, result.note) == (Verdict.INCONCLUSIVE, "message 0")


def test_decide_broken_requirement_outside_the_selection_is_still_reported() -> None:
    evidence = [Evidence(MUST.id, "t", Outcome.BROKEN, "broken"), Evidence(SHOULD.id, "t", Outcome.HELD)]
    results = decide(CATALOGUE, evidence, selected=frozenset({SHOULD.id}), reference_target=False, strict=False)
    found = {r.requirement.id: r for r in results}
    assert found[MUST.id].verdict is Verdict.FAILED
    assert "not selected" in found[MUST.id].note
    assert set(found) == {MUST.id, SHOULD.id}


@pytest.mark.parametrize(
    ("basis", "reference", "strict", "verdict"),
    [
        (Basis.DOCUMENTED, False, False, Verdict.FAILED),
        (Basis.OBSERVED, False, False, Verdict.FAILED),
        (Basis.CONVENTION, False, False, Verdict.WARNING),
        (Basis.DECISION, False, False, Verdict.INFO),
        (Basis.CONVENTION, False, True, Verdict.FAILED),
        (Basis.DECISION, False, True, Verdict.FAILED),
        (Basis.CONVENTION, True, False, Verdict.FAILED),
        (Basis.DECISION, True, False, Verdict.FAILED),
    ],
)
def test_decide_a_broken_must_counts_by_its_basis(
    basis: Basis, reference: bool, strict: bool, verdict: Verdict
) -> None:
    requirement = Requirement("SPT-USE-009", Level.MUST, "x", "https://docs.stripe.com/x", basis=basis)
    catalogue = Catalogue(MappingProxyType({"USE": "Use"}), (requirement,))
    evidence = [Evidence(requirement.id, "t", Outcome.BROKEN, "broken")]
    (result,) = decide(
        catalogue, evidence, selected=frozenset({requirement.id}), reference_target=reference, strict=strict
    )
    assert result.verdict is verdict


def test_decide_no_evidence_is_skipped_as_unchecked() -> None:
    result = one(MUST)
    assert (result.verdict, result.note) == (Verdict.SKIPPED, "no test checked it in this run")


def test_decide_held_wins_over_skipped() -> None:
    assert one(MUST, Outcome.SKIPPED, Outcome.HELD).verdict is Verdict.PASSED


def test_decide_only_selected_requirements_in_catalogue_order_and_unknown_ids_ignored() -> None:
    evidence = [Evidence("SPT-NOPE-001", "t", Outcome.BROKEN), Evidence(MAY.id, "t", Outcome.HELD)]
    results = decide(CATALOGUE, evidence, selected=frozenset({MAY.id, MUST.id}), reference_target=False, strict=False)
    assert [(r.requirement.id, r.verdict) for r in results] == [(MUST.id, Verdict.SKIPPED), (MAY.id, Verdict.PASSED)]
