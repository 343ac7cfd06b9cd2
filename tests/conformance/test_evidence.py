"""The evidence pipeline end to end, in a pytest session against a tiny fake server: no failure is
lost, nothing passes without an assertion that held, and what was not checked is counted."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conformance import fake_stripe

pytest_plugins = ["pytester"]

FAKE_TESTS = """
import pytest

from conformance.violation import expect, expect_decision, expect_ok, inconclusive


@pytest.mark.requirement("SPT-ISS-001")
def test_mistyped_id(agent):
    expect(False, "SPT-ISS-01", received="a refusal", expected="a token")


@pytest.mark.requirement("SPT-ISS-002")
def test_undeclared_id(agent):
    expect(False, "SPT-REV-001", received="a refusal", expected="a revoked token")


@pytest.mark.requirement("SPT-ISS-003")
def test_passes_without_asserting(agent):
    agent.get("/v1/ok")


@pytest.mark.requirement("SPT-GRT-001")
def test_granted_view_is_readable(agent):
    expect(False, "SPT-GRT-001", received="404", expected="200")


@pytest.mark.requirement("SPT-GRT-002")
def test_needs_the_granted_view_first(agent):
    expect(False, "SPT-GRT-001", received="404", expected="200", setup=True)


@pytest.mark.requirement("SPT-GRT-003")
def test_also_needs_the_granted_view_first(agent):
    expect(False, "SPT-GRT-001", received="404", expected="200", setup=True)


@pytest.mark.requirement("SPT-GRT-004")
def test_precondition_cannot_be_set_up(agent):
    inconclusive("the agent could not retrieve its PaymentMethod pm_x (404)")


@pytest.mark.requirement("SPT-ISS-004")
def test_step_resting_on_a_decision(agent):
    expect(False, "SPT-ISS-004", received="400", expected="404", rests_on="D-24")


@pytest.mark.requirement("SPT-ISS-010", "SPT-EXP-001")
def test_decision_differs_then_the_invariant_is_checked(agent):
    accepted = expect_ok(agent.get("/v1/ok"), "SPT-EXP-001")  # stands for: the target issued it
    if not expect_decision(False, "SPT-ISS-010", received="a past expires_at accepted", expected="a refusal"):
        expect(accepted["object"] == "thing", "SPT-EXP-001", received="spent", expected="unusable")


@pytest.fixture
def breaks_on_teardown():
    yield
    raise RuntimeError("the fixture could not clean up")


@pytest.mark.requirement("SPT-ISS-014")
def test_fails_at_teardown_without_a_violation(agent, breaks_on_teardown):
    expect_ok(agent.get("/v1/ok"), "SPT-ISS-014")
"""


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with fake_stripe.serve() as url:
        yield url


@pytest.fixture
def suite(pytester: pytest.Pytester, base_url: str) -> pytest.Pytester:
    pytester.makeconftest(fake_stripe.CONFTEST)
    pytester.makepyfile(test_fake=FAKE_TESTS)
    fake_stripe.write_target(pytester.path / "target.yaml", base_url)
    (pytester.path / "expected.yaml").write_text(
        "- id: SPT-GRT-001\n  reason: the granted view lands in 4.2\n  expires: 2999-01-01\n", encoding="utf-8"
    )
    return pytester


def run(suite: pytest.Pytester, *args: str) -> tuple[int, dict[str, Any], str]:
    result = suite.runpytest(
        "--spt-target", "target.yaml", "--spt-json", "report.json", "-p", "no:cacheprovider", *args
    )
    report = json.loads((suite.path / "report.json").read_text(encoding="utf-8"))
    return int(result.ret), report, result.stdout.str()


def entry(report: dict[str, Any], requirement: str) -> dict[str, Any]:
    return next(r for r in report["requirements"] if r["id"] == requirement)


def broken_messages(report: dict[str, Any], requirement: str) -> str:
    return "\n".join(e["message"] for e in entry(report, requirement)["evidence"] if e["outcome"] == "broken")


def test_evidence_mistyped_id_fails_the_declared_requirement_and_names_the_stray(suite: pytest.Pytester) -> None:
    status, report, _ = run(suite, "-k", "mistyped")
    assert entry(report, "SPT-ISS-001")["verdict"] == "FAILED"
    assert "SPT-ISS-01, which is not in the catalogue" in broken_messages(report, "SPT-ISS-001")
    assert status == pytest.ExitCode.TESTS_FAILED


def test_evidence_undeclared_id_fails_the_declared_requirement_and_names_it(suite: pytest.Pytester) -> None:
    status, report, _ = run(suite, "-k", "undeclared")
    assert entry(report, "SPT-ISS-002")["verdict"] == "FAILED"
    assert "SPT-REV-001, which this test does not declare" in broken_messages(report, "SPT-ISS-002")
    assert status == pytest.ExitCode.TESTS_FAILED


def test_evidence_selection_never_hides_a_failure_of_a_selected_test(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_two="import pytest\nfrom conformance.violation import expect\n\n"
        "@pytest.mark.requirement('SPT-USE-001', 'SPT-USE-002')\n"
        "def test_two(agent):\n    expect(False, 'SPT-USE-002', received='x', expected='y')\n"
    )
    status, report, _ = run(suite, "--spt-only", "SPT-USE-001", "test_two.py")
    use_002 = entry(report, "SPT-USE-002")
    assert (use_002["verdict"], use_002["selected"]) == ("FAILED", False)
    assert entry(report, "SPT-USE-001")["verdict"] == "UNVERIFIED"
    assert status == pytest.ExitCode.TESTS_FAILED


def test_evidence_a_test_that_asserts_nothing_about_its_requirement_does_not_pass_it(suite: pytest.Pytester) -> None:
    status, report, output = run(suite, "-k", "without_asserting")
    assert entry(report, "SPT-ISS-003")["verdict"] == "UNVERIFIED"
    assert status == pytest.ExitCode.OK  # nothing failed; the result line says what was not verified
    assert "1 unverified: no assertion about it ran" in output
    strict_status, strict, _ = run(suite, "-k", "without_asserting", "--spt-strict")
    assert strict["summary"]["exit_code"] == 1
    assert strict_status == pytest.ExitCode.TESTS_FAILED


def test_evidence_expected_failure_cascade_is_counted_and_named(suite: pytest.Pytester) -> None:
    grt = ("--spt-only", "SPT-GRT-00[1-3]")
    status, report, output = run(suite, *grt, "--spt-expected-failures", "expected.yaml")
    assert entry(report, "SPT-GRT-001")["verdict"] == "EXPECTED"
    for requirement in ("SPT-GRT-002", "SPT-GRT-003"):
        blocked = entry(report, requirement)
        assert (blocked["verdict"], blocked["blocked_by"]) == ("UNVERIFIED", ["SPT-GRT-001"])
    line = next(line for line in output.splitlines() if line.startswith("Result: "))
    assert line.startswith(
        "Result: PASSED (partial): no applicable MUST failed (exit 0); 1 of 3 applicable MUST verified"
    )
    assert "2 unverified: blocked by SPT-GRT-001 (expected failure)" in line
    assert report["summary"]["coverage"]["unverified"] == [["blocked by SPT-GRT-001 (expected failure)", 2]]
    # pytest shows three failed tests, yet the run's verdict is PASSED: the exit status is the verdict's.
    assert "3 failed" in output
    assert status == pytest.ExitCode.OK
    strict_status, _, strict_output = run(suite, *grt, "--spt-expected-failures", "expected.yaml", "--spt-strict")
    assert "2 applicable MUST not verified (--strict)" in strict_output
    assert strict_status == pytest.ExitCode.TESTS_FAILED


def test_evidence_without_an_expected_failure_the_cascade_fails_the_run(suite: pytest.Pytester) -> None:
    status, report, output = run(suite, "-k", "granted")
    assert entry(report, "SPT-GRT-001")["verdict"] == "FAILED"
    assert "2 unverified: blocked by SPT-GRT-001 (FAILED)" in output
    assert status == pytest.ExitCode.TESTS_FAILED


def test_evidence_precondition_is_inconclusive_with_its_reason_never_failed(suite: pytest.Pytester) -> None:
    status, report, output = run(
        suite, "--spt-only", "SPT-GRT-004", "--spt-junit", "report.xml", "--spt-html", "r.html"
    )
    grt = entry(report, "SPT-GRT-004")
    assert grt["verdict"] == "INCONCLUSIVE"
    assert "could not retrieve its PaymentMethod pm_x" in grt["note"]
    assert status == pytest.ExitCode.OK
    assert "1 inconclusive: the agent could not retrieve its PaymentMethod pm_x (404)" in output
    junit = (suite.path / "report.xml").read_text(encoding="utf-8")
    assert 'type="INCONCLUSIVE"' in junit
    assert 'name="coverage" value="0 of 1 applicable MUST verified; 1 inconclusive' in junit
    assert "0 of 1 applicable MUST verified; 1 inconclusive" in (suite.path / "r.html").read_text(encoding="utf-8")


def test_evidence_a_step_resting_on_a_decision_is_filed_under_the_decision(suite: pytest.Pytester) -> None:
    status, report, _ = run(suite, "-k", "resting_on")
    assert entry(report, "SPT-ISS-004")["verdict"] == "UNVERIFIED"  # documented: never failed by a decision
    decided = entry(report, "SPT-ISS-010")
    assert decided["verdict"] == "INFO"
    assert "Rests on:    D-24" in broken_messages(report, "SPT-ISS-010")
    assert status == pytest.ExitCode.OK
    strict_status, strict, _ = run(suite, "-k", "resting_on", "--spt-strict")
    assert entry(strict, "SPT-ISS-010")["verdict"] == "FAILED"
    assert strict_status == pytest.ExitCode.TESTS_FAILED


def test_evidence_a_decision_that_does_not_hold_leaves_the_invariant_checked(suite: pytest.Pytester) -> None:
    status, report, _ = run(suite, "-k", "invariant")
    assert entry(report, "SPT-ISS-010")["verdict"] == "INFO"
    assert entry(report, "SPT-EXP-001")["verdict"] == "PASSED"
    assert status == pytest.ExitCode.OK


def test_evidence_a_test_failing_without_a_violation_fails_its_requirements(suite: pytest.Pytester) -> None:
    status, report, _ = run(suite, "-k", "teardown")
    assert entry(report, "SPT-ISS-014")["verdict"] == "FAILED"
    assert "RuntimeError: the fixture could not clean up" in broken_messages(report, "SPT-ISS-014")
    assert status == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize("answer", ["html", "empty"])
def test_evidence_a_server_that_answers_nothing_useful_passes_no_requirement(
    answer: str, tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    """The real suite (its quick profile, the wire, error and granted-view areas, where the registered checks
    run most) against a server answering every request with one HTML page, or with `{}`."""
    with fake_stripe.serve(answer=answer) as url:
        target = fake_stripe.write_target(tmp_path / "target.yaml", url, clock=True, test_helpers=True)
        report = tmp_path / "report.json"
        done = subprocess.run(
            [
                sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
                "--pyargs", "conformance.suite", "--spt-target", str(target), "--spt-quick",
                "--spt-max-wait", "1", "--spt-json", str(report),
                *(arg for area in ("WIRE", "ERR", "GRT") for arg in ("--spt-only", area)),
            ],
            cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    data = json.loads(report.read_text(encoding="utf-8"))
    passed = [r["id"] for r in data["requirements"] if r["verdict"] == "PASSED"]
    assert passed == [], done.stdout[-3000:]
    assert data["summary"]["verdicts"]["FAILED"] > 0
    assert done.returncode == pytest.ExitCode.TESTS_FAILED


def test_evidence_judged_after_a_test_ended_reaches_its_requirement(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_late="""
import pytest
from conformance.plugin import report_late
from conformance.violation import Violation, expect


@pytest.mark.requirement("SPT-ISS-005")
def test_first(agent):
    expect(True, "SPT-ISS-005", received="", expected="")


@pytest.mark.requirement("SPT-ISS-006")
def test_second(request, agent):
    expect(True, "SPT-ISS-006", received="", expected="")
    late = Violation("SPT-ISS-005", received="a second used event", expected="exactly one")
    report_late(request.config, "test_late.py::test_first", "SPT-ISS-005", late)
"""
    )
    status, report, _ = run(suite, "test_late.py")
    assert entry(report, "SPT-ISS-005")["verdict"] == "FAILED"
    assert "a second used event" in broken_messages(report, "SPT-ISS-005")
    assert report["tests"]["failed"] == 1  # test_first, judged late
    assert status == pytest.ExitCode.TESTS_FAILED
