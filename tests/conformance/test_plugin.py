"""The pytest plugin, run inside pytester against a tiny fake server: each outcome of a test turns
into the right verdict for exactly the right requirement."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conformance import fake_stripe

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with fake_stripe.serve() as url:
        yield url


@pytest.fixture
def suite(pytester: pytest.Pytester, base_url: str) -> pytest.Pytester:
    pytester.makeconftest(fake_stripe.CONFTEST)
    pytester.makepyfile(test_main=fake_stripe.TESTS_MAIN, test_leak=fake_stripe.TESTS_LEAK)
    fake_stripe.write_target(pytester.path / "target.yaml", base_url)
    return pytester


def run(suite: pytest.Pytester, *args: str) -> tuple[int, dict[str, Any]]:
    """Run the fake suite; the exit status and the JSON report."""
    result = suite.inline_run("--spt-target", "target.yaml", "--spt-json", "report.json", *args)
    report = json.loads((suite.path / "report.json").read_text(encoding="utf-8"))
    assert result.ret is not None
    return int(result.ret), report


def verdicts(report: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {r["id"]: (r["verdict"], r["note"]) for r in report["requirements"]}


def test_plugin_violation_fails_only_the_requirement_it_names(suite: pytest.Pytester) -> None:
    status, report = run(suite)
    found = verdicts(report)
    assert status == pytest.ExitCode.TESTS_FAILED
    assert found["SPT-ISS-004"][0] == "FAILED"
    assert found["SPT-ISS-003"][0] == "UNVERIFIED"
    assert found["SPT-ISS-003"][1].startswith("not reached: SPT-ISS-004 failed first")
    entry = next(r for r in report["requirements"] if r["id"] == "SPT-ISS-004")
    message = entry["evidence"][0]["message"]
    for part in ("Requirement: SPT-ISS-004 (MUST): ", "Received:    echoed 999", "Expected:    echoed 1000", "Tip:"):
        assert part in message


def test_plugin_check_finding_fails_the_check_requirement_not_the_test_requirement(suite: pytest.Pytester) -> None:
    _, report = run(suite)
    found = verdicts(report)
    assert found["SPT-ERR-004"][0] == "FAILED"
    assert found["SPT-ISS-005"][0] == "PASSED"
    entry = next(r for r in report["requirements"] if r["id"] == "SPT-ERR-004")
    assert [e["test"] for e in entry["evidence"] if e["outcome"] == "broken"] == [
        "check:test_main.py::test_meets_a_server_error"
    ]


def test_plugin_missing_capability_skips_with_the_reason(suite: pytest.Pytester) -> None:
    _, report = run(suite)
    assert verdicts(report)["SPT-CLK-001"] == ("SKIPPED", "the target does not offer clock")


def test_plugin_declared_capability_runs_the_test(suite: pytest.Pytester, base_url: str) -> None:
    fake_stripe.write_target(suite.path / "target.yaml", base_url, clock=True)
    _, report = run(suite)
    assert verdicts(report)["SPT-CLK-001"][0] == "PASSED"


def test_plugin_should_failure_warns_without_failing_the_run(suite: pytest.Pytester) -> None:
    status, report = run(suite, "--spt-only", "SPT-ISS-015")
    assert verdicts(report) == {"SPT-ISS-015": ("WARNING", "a SHOULD requirement does not hold")}
    assert status == pytest.ExitCode.OK


def test_plugin_only_deselects_tests_of_other_requirements(suite: pytest.Pytester) -> None:
    result = suite.inline_run("--spt-target", "target.yaml", "--spt-only", "SPT-ISS-001", "--spt-json", "r.json")
    passed, skipped, failed = result.listoutcomes()
    assert [r.nodeid for r in passed] == ["test_main.py::test_holds"]
    assert (skipped, failed) == ([], [])
    assert len(result.getcalls("pytest_deselected")[0].items) == 5
    report = json.loads((suite.path / "r.json").read_text(encoding="utf-8"))
    assert verdicts(report) == {"SPT-ISS-001": ("PASSED", "")}
    assert result.ret == pytest.ExitCode.OK


def test_plugin_unknown_requirement_id_is_a_usage_error(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_typo="import pytest\n\n@pytest.mark.requirement('SPT-ISS-999')\ndef test_typo():\n    pass\n")
    result = suite.runpytest("--spt-target", "target.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_typo.py::test_typo names unknown requirement(s) SPT-ISS-999*"])


def test_plugin_unknown_only_pattern_is_a_usage_error(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--spt-target", "target.yaml", "--spt-only", "NOPE")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*NOPE matches no requirement ID or area*"])


def test_plugin_counts_the_http_exchanges_of_every_test(suite: pytest.Pytester) -> None:
    _, report = run(suite)
    # test_holds and test_reads_a_leaky_response make one request each, test_meets_a_server_error two.
    assert report["exchanges"] == 4
    # The two whose checks found something fail at teardown, like the two that raise a Violation.
    assert report["tests"] == {"passed": 1, "failed": 4, "skipped": 1, "total": 6}


def test_plugin_reports_hold_no_key_secret_or_card_number(suite: pytest.Pytester) -> None:
    _status, report = run(suite, "--spt-junit", "report.xml", "--spt-html", "report.html")
    found = verdicts(report)
    # Both rest on a Stripe-wide convention: a WARNING against a target other than the reference.
    assert found["SPT-SEC-008"][0] == "WARNING"
    assert found["SPT-SEC-010"][0] == "WARNING"
    leak = next(r for r in report["requirements"] if r["id"] == "SPT-SEC-008")
    assert "/v1/leak" in leak["evidence"][0]["exchanges"][0]  # the evidence is there, scrubbed
    for name in ("report.json", "report.xml", "report.html"):
        text = (suite.path / name).read_text(encoding="utf-8")
        for secret in (fake_stripe.CARD_NUMBER, fake_stripe.WEBHOOK_SECRET, fake_stripe.AGENT_KEY):
            assert secret not in text, f"{secret[:8]}… leaked into {name}"


def test_plugin_expected_failure_of_a_broken_requirement_passes_the_run(suite: pytest.Pytester) -> None:
    (suite.path / "expected.yaml").write_text(
        "- id: SPT-ISS-004\n  reason: fixed in 4.2\n  expires: 2999-01-01\n", encoding="utf-8"
    )
    status, report = run(suite, "--spt-only", "SPT-ISS-004", "--spt-expected-failures", "expected.yaml")
    assert verdicts(report)["SPT-ISS-004"][0] == "EXPECTED"
    assert report["expected_failures"][0]["status"] == "applied"
    assert status == pytest.ExitCode.OK


def test_plugin_stale_expected_failure_fails_the_run(suite: pytest.Pytester) -> None:
    (suite.path / "expected.yaml").write_text(
        "- id: SPT-ISS-001\n  reason: was broken\n  expires: 2999-01-01\n", encoding="utf-8"
    )
    status, report = run(suite, "--spt-only", "SPT-ISS-001", "--spt-expected-failures", "expected.yaml")
    assert verdicts(report)["SPT-ISS-001"][0] == "PASSED"
    assert report["expected_failures"][0]["status"] == "stale"
    assert report["summary"]["exit_code"] == 1
    assert status == pytest.ExitCode.TESTS_FAILED


def test_plugin_bad_expected_failures_file_is_a_usage_error(suite: pytest.Pytester) -> None:
    (suite.path / "expected.yaml").write_text("- id: SPT-ISS-001\n  expires: 2999-01-01\n", encoding="utf-8")
    result = suite.runpytest("--spt-target", "target.yaml", "--spt-expected-failures", "expected.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*SPT-ISS-001 has no reason*"])


def test_plugin_without_target_is_inert(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = suite.runpytest("test_plain.py")
    result.assert_outcomes(passed=1)
    assert "SPT conformance" not in result.stdout.str()


def test_plugin_quick_runs_the_first_test_of_each_requirement_only(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_twice="""
import pytest

@pytest.mark.requirement("SPT-ISS-001")
def test_first(agent):
    agent.get("/v1/ok")

@pytest.mark.requirement("SPT-ISS-001")
def test_second_of_the_same(agent):
    agent.get("/v1/ok")

@pytest.mark.requirement("SPT-ISS-001", "SPT-ISS-002")
def test_adds_one(agent):
    agent.get("/v1/ok")
"""
    )
    result = suite.inline_run("--spt-target", "target.yaml", "--spt-quick", "test_twice.py")
    passed, _, _ = result.listoutcomes()
    assert [r.nodeid for r in passed] == ["test_twice.py::test_first", "test_twice.py::test_adds_one"]
