"""Expected failures: the file is validated strictly, and each rule of applying it holds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import yaml

from conformance.catalog import Catalogue, Level, Requirement
from conformance.expected import (
    EntryStatus,
    ExpectedFailure,
    ExpectedFailuresError,
    apply_expected_failures,
    load_expected_failures,
    parse_expected_failures,
)
from conformance.verdicts import Evidence, Outcome, RequirementResult, Verdict

A = Requirement("SPT-USE-001", Level.MUST, "a", "seed")
B = Requirement("SPT-USE-002", Level.MUST, "b", "seed")
C = Requirement("SPT-USE-003", Level.SHOULD, "c", "seed")
GONE = Requirement("SPT-USE-004", Level.MUST, "d", "seed", withdrawn="duplicate of SPT-USE-001")
CATALOGUE = Catalogue(MappingProxyType({"USE": "Use"}), (A, B, C, GONE))
TODAY = dt.date(2026, 6, 1)


def parse(text: str) -> tuple[ExpectedFailure, ...]:
    return parse_expected_failures(yaml.safe_load(text), "expected.yaml", CATALOGUE)


def test_parse_reads_unquoted_and_quoted_dates() -> None:
    entries = parse(
        "- {id: SPT-USE-001, reason: ' fix  in 4.2 ', expires: 2026-09-30}\n"
        "- {id: SPT-USE-002, reason: vendor bug, expires: '2026-10-01'}\n"
    )
    assert entries == (
        ExpectedFailure("SPT-USE-001", "fix in 4.2", dt.date(2026, 9, 30)),
        ExpectedFailure("SPT-USE-002", "vendor bug", dt.date(2026, 10, 1)),
    )


def test_parse_empty_file_is_no_entries() -> None:
    assert parse("") == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- {id: SPT-USE-001, expires: 2026-09-30}", "SPT-USE-001 has no reason"),
        ("- {id: SPT-USE-001, reason: '  ', expires: 2026-09-30}", "SPT-USE-001 has no reason"),
        ("- {id: SPT-USE-999, reason: r, expires: 2026-09-30}", "SPT-USE-999 is not a requirement ID"),
        ("- {id: 'SPT-USE-*', reason: r, expires: 2026-09-30}", "globs are not allowed"),
        ("- {id: SPT-USE-004, reason: r, expires: 2026-09-30}", "SPT-USE-004 is withdrawn"),
        ("- {id: SPT-USE-001, reason: r, expires: '2026-13-01'}", "expires must be a date written YYYY-MM-DD"),
        ("- {id: SPT-USE-001, reason: r, expires: next week}", "expires must be a date written YYYY-MM-DD"),
        ("- {id: SPT-USE-001, reason: r, expires: '2026-9-3'}", "expires must be a date written YYYY-MM-DD"),
        ("- {id: SPT-USE-001, reason: r, expires: 2026-09-30T10:00:00}", "not a date and time"),
        ("- {id: SPT-USE-001, reason: r}", "SPT-USE-001 has no expires date"),
        ("- {reason: r, expires: 2026-09-30}", "entry 1 has no id"),
        ("- {id: SPT-USE-001, reason: r, expires: 2026-09-30, owner: me}", "unknown field(s) owner"),
        ("- SPT-USE-001", "entry 1 must be a mapping"),
        ("id: SPT-USE-001", "must be a YAML list"),
        (
            "- {id: SPT-USE-001, reason: r, expires: 2026-09-30}\n- {id: SPT-USE-001, reason: s, expires: 2026-09-30}",
            "SPT-USE-001 is listed twice (entries 1 and 2)",
        ),
    ],
)
def test_parse_refuses_a_wrong_entry_naming_it(text: str, message: str) -> None:
    with pytest.raises(ExpectedFailuresError) as refused:
        parse(text)
    assert message in str(refused.value)
    assert str(refused.value).startswith("expected.yaml")


def test_load_names_an_unreadable_or_invalid_file(tmp_path: Path) -> None:
    with pytest.raises(ExpectedFailuresError, match="cannot read the expected-failures file"):
        load_expected_failures(tmp_path / "missing.yaml", CATALOGUE)
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {id: [\n", encoding="utf-8")
    with pytest.raises(ExpectedFailuresError, match="is not valid YAML"):
        load_expected_failures(bad, CATALOGUE)


def result(requirement: Requirement, verdict: Verdict, **kwargs: Any) -> RequirementResult:
    evidence = (Evidence(requirement.id, "t", Outcome.BROKEN),) if verdict is not Verdict.PASSED else ()
    return RequirementResult(requirement, verdict, evidence, **kwargs)


def entry(requirement: Requirement, expires: dt.date = dt.date(2026, 12, 31)) -> ExpectedFailure:
    return ExpectedFailure(requirement.id, "known gap", expires)


def test_apply_valid_entry_turns_a_failure_into_expected() -> None:
    results, outcomes = apply_expected_failures([result(A, Verdict.FAILED)], [entry(A)], TODAY)
    assert results[0].verdict is Verdict.EXPECTED
    assert results[0].note == "expected failure until 2026-12-31: known gap (otherwise FAILED)"
    assert outcomes[0].status is EntryStatus.APPLIED
    assert not outcomes[0].fails_run


def test_apply_valid_entry_covers_a_should_warning_too() -> None:
    results, outcomes = apply_expected_failures([result(C, Verdict.WARNING)], [entry(C)], TODAY)
    assert results[0].verdict is Verdict.EXPECTED
    assert outcomes[0].status is EntryStatus.APPLIED


def test_apply_entry_expiring_today_still_applies() -> None:
    results, _ = apply_expected_failures([result(A, Verdict.FAILED)], [entry(A, TODAY)], TODAY)
    assert results[0].verdict is Verdict.EXPECTED


def test_apply_expired_entry_is_not_applied_and_reported() -> None:
    results, outcomes = apply_expected_failures(
        [result(A, Verdict.FAILED)], [entry(A, TODAY - dt.timedelta(days=1))], TODAY
    )
    assert results[0].verdict is Verdict.FAILED
    assert outcomes[0].status is EntryStatus.EXPIRED
    assert "expired on 2026-05-31: not applied" in outcomes[0].message
    assert not outcomes[0].fails_run  # the failure itself fails the run


def test_apply_entry_of_a_passing_requirement_is_stale_and_fails_the_run() -> None:
    results, outcomes = apply_expected_failures([result(A, Verdict.PASSED)], [entry(A)], TODAY)
    assert results[0].verdict is Verdict.PASSED
    assert outcomes[0].status is EntryStatus.STALE
    assert outcomes[0].fails_run
    assert "now passes: remove the entry" in outcomes[0].message


def test_apply_entry_of_a_skipped_or_unselected_requirement_is_unused() -> None:
    skipped = RequirementResult(B, Verdict.SKIPPED, (), "the target does not offer clock")
    results, outcomes = apply_expected_failures([skipped], [entry(B), entry(A)], TODAY)
    assert results == [skipped]
    assert [(o.status, o.message) for o in outcomes] == [
        (EntryStatus.UNUSED, "not checked in this run: the target does not offer clock"),
        (EntryStatus.UNUSED, "not selected in this run"),
    ]
    assert not any(o.fails_run for o in outcomes)


def test_apply_leaves_requirements_without_entries_alone() -> None:
    given = [result(A, Verdict.FAILED), result(B, Verdict.FAILED)]
    results, _ = apply_expected_failures(given, [entry(B)], TODAY)
    assert [r.verdict for r in results] == [Verdict.FAILED, Verdict.EXPECTED]
