"""The pytest plugin: its hooks hand each test to the evidence pipeline and the verdicts to the reports.

It is loaded in every pytest session (entry point `pytest11`) but stays inert unless a target
is given, so `pytest --pyargs conformance.suite --spt-target FILE` runs the conformance suite
inside a vendor's own pytest session, and `spt-conformance run` drives the same code.

Theory of operation. Tests carry `@pytest.mark.requirement("SPT-…", …)`. After each phase of a
test, `pytest_runtest_makereport` hands what happened to `conformance.evidence.derive` and stores
the evidence in the report's `user_properties`, which pytest-xdist carries from workers to the
controller, together with the number of HTTP exchanges the test made. The controller's
`_Collector` gathers both, decides the verdicts at the end of the session
(`conformance.verdicts.decide`), applies the expected failures, and builds one scrubbed
`RunReport` from which the JSON, JUnit and HTML files and the terminal summary are all written.
The session's exit status is the report's: pytest's own count of failed tests does not decide it,
but every failed test has left broken evidence, so it cannot end in exit 0 unless an expected
failure covers what it broke. `spt-conformance run` reads that report with `run_report(config)`.
Recording and replaying are wired in `conformance.cassettes.wiring`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from conformance.cassettes.wiring import configure_cassettes, stop_cassettes
from conformance.checks import REGISTRY
from conformance.client import Journal
from conformance.evidence import TestPhase, derive, from_json, late, requirement_ids, scrubbed, to_json, used_ids
from conformance.expected import (
    ExpectedFailure,
    ExpectedFailuresError,
    apply_expected_failures,
    load_expected_failures,
)
from conformance.options import add_pytest_options, from_pytest, problems, recorded
from conformance.reports.model import RunCounts, RunReport, build_report
from conformance.reports.write import write_reports
from conformance.scrub import scrub_text
from conformance.session import RunState
from conformance.spec import SpecError, default_spec
from conformance.target import TargetError, load_target
from conformance.verdicts import Evidence, Outcome, RequirementResult, decide, fold_outcome
from conformance.violation import LEDGER, Violation, ViolationGroup

__all__ = [
    "JOURNAL_KEY",
    "REPORT_KEY",
    "STATE_KEY",
    "report_late",
    "requirement_ids",
    "run_report",
    "run_results",
    "run_state",
]

STATE_KEY = pytest.StashKey[RunState]()
JOURNAL_KEY = pytest.StashKey[Journal]()
EVIDENCE_PROPERTY = "spt_evidence"
EXCHANGES_PROPERTY = "spt_exchanges"  # the number of HTTP exchanges of one test, on its teardown report
RESULTS_KEY = pytest.StashKey[list[RequirementResult]]()
REPORT_KEY = pytest.StashKey[RunReport]()
EXPECTED_KEY = pytest.StashKey[tuple[ExpectedFailure, ...]]()
LATE_KEY = pytest.StashKey[list[Evidence]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("spt-conformance", "SPT conformance suite")
    group.addoption("--spt-target", metavar="FILE", help="target file of the server to certify")
    group.addoption("--spt-reference", action="store_true", help=argparse.SUPPRESS)
    group.addoption("--spt-replay", metavar="DIR", help=argparse.SUPPRESS)  # spt-conformance replay
    add_pytest_options(group)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(*ids): the SPT requirement IDs this test proves")
    config.addinivalue_line("markers", "uses(*ids): SPT requirements this test relies on as set-up steps")
    config.addinivalue_line("markers", "smoke: always part of the --quick profile (it catches what others miss)")
    target_file = config.getoption("--spt-target", default=None)
    if not target_file:
        return
    try:
        spec = default_spec()
        target = load_target(Path(target_file))
    except (SpecError, TargetError) as exc:
        raise pytest.UsageError(str(exc)) from None
    if config.getoption("--spt-reference"):
        target = type(target)(**{**target.__dict__, "embedded": True})
    options = from_pytest(config)
    found = problems(options, spec.catalogue, prefix="--spt-")
    if found:
        raise pytest.UsageError(found[0])
    if options.expected_failures is not None:
        try:
            config.stash[EXPECTED_KEY] = load_expected_failures(options.expected_failures, spec.catalogue)
        except ExpectedFailuresError as exc:
            raise pytest.UsageError(str(exc)) from None
    state = RunState(spec, target, options)
    config.stash[STATE_KEY] = state
    configure_cassettes(config, state)
    config.pluginmanager.register(_Collector(state), "spt-conformance-collector")


def pytest_unconfigure(config: pytest.Config) -> None:
    stop_cassettes(config)
    state = config.stash.get(STATE_KEY, None)
    if state is not None:
        state.close()


def run_state(config: pytest.Config) -> RunState | None:
    """The run's shared state, or None when no target was given."""
    return config.stash.get(STATE_KEY, None)


def run_report(config: pytest.Config) -> RunReport | None:
    """The scrubbed report of the run, once the session has finished (None on xdist workers)."""
    return config.stash.get(REPORT_KEY, None)


def run_results(config: pytest.Config) -> list[RequirementResult] | None:
    """The verdicts of the run before expected failures are applied (what recordings keep)."""
    return config.stash.get(RESULTS_KEY, None)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under -n, the tests that share the target's clock go to one worker (conformance.scheduling)."""
    if run_state(config) is None:
        return None
    from conformance.scheduling import SharedClockScheduling

    return SharedClockScheduling(config, log)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    state = run_state(config)
    if state is None:
        return
    catalogue = state.spec.catalogue
    for item in items:
        unknown = [i for i in (*requirement_ids(item), *used_ids(item)) if i not in catalogue]
        if unknown:
            raise pytest.UsageError(f"{item.nodeid} names unknown requirement(s) {', '.join(unknown)}")
    keep = [item for item in items if set(requirement_ids(item)) & state.selected]
    if state.options.quick:
        keep = _smoke(keep, state.selected)
    dropped = [item for item in items if item not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    # After the selection, which depends on the order of collection: see conformance.scheduling.
    from conformance.scheduling import run_order

    items[:] = run_order(keep, lambda item: item.nodeid)


def _smoke(items: list[pytest.Item], selected: frozenset[str]) -> list[pytest.Item]:
    """The --quick profile: every test marked `smoke` (it catches what the others miss), then for
    each requirement still uncovered one test that names it, and no more, so that every
    requirement is still checked once. Tests that name fewer requirements are chosen first: a test
    written for a requirement checks it surely, a generated test that names many may not reach it
    in a few examples. Deterministic, so every xdist worker keeps the same tests. A requirement
    its chosen test does not reach is reported UNVERIFIED, not PASSED."""
    covered: set[str] = set()
    kept: set[int] = set()
    for index, item in enumerate(items):
        if item.get_closest_marker("smoke") is not None:
            kept.add(index)
            covered |= set(requirement_ids(item)) & selected
    ranked = sorted(range(len(items)), key=lambda i: (len(set(requirement_ids(items[i])) & selected), i))
    for index in ranked:
        ids = set(requirement_ids(items[index])) & selected
        if ids - covered:
            kept.add(index)
            covered |= ids
    return [item for index, item in enumerate(items) if index in kept]


def pytest_runtest_setup(item: pytest.Item) -> None:
    state = run_state(item.config)
    if state is None:
        return
    LEDGER.reset()
    needs: set[str] = set()
    for requirement in requirement_ids(item):
        needs |= state.spec.catalogue[requirement].needs
    missing = state.target.missing(needs)
    if missing:
        pytest.skip(f"the target does not offer {', '.join(missing)}")


def report_late(config: pytest.Config, test: str, requirement: str, violation: Violation | None) -> None:
    """Evidence for a test that has already ended: it leaves with the next report this process makes."""
    state = run_state(config)
    if state is not None:
        config.stash.setdefault(LATE_KEY, []).append(late(test, requirement, violation, state.spec.catalogue))


def _secrets(state: RunState) -> list[str]:
    with state.context._lock:
        return sorted({*state.target.secrets(), *state.context.secrets}, key=len, reverse=True)


def _phase(item: pytest.Item, report: pytest.TestReport, call: pytest.CallInfo[None]) -> TestPhase:
    held, soft = LEDGER.take() if report.when == "call" else ({}, [])
    journal = item.stash.get(JOURNAL_KEY, None) if report.when == "teardown" else None
    reason = ""
    if report.skipped:
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else "skipped"
    return TestPhase(
        test=item.nodeid,
        when=report.when,
        declared=requirement_ids(item),
        uses=used_ids(item),
        passed=report.passed,
        failed=report.failed,
        skipped=report.skipped,
        skip_reason=reason.removeprefix("Skipped: "),
        error=call.excinfo.value if call.excinfo is not None else None,
        error_text=str(report.longrepr) if report.failed else "",
        held=dict(held),
        soft=tuple(soft),
        exchanges=tuple(journal.exchanges) if journal is not None else (),
        findings=tuple(journal.findings) if journal is not None else (),
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    state = run_state(item.config)
    if state is None:
        return
    secrets = _secrets(state)
    evidence = derive(
        _phase(item, report, call),
        state.spec.catalogue,
        REGISTRY,
        selected=state.selected,
        scrub=lambda text: scrub_text(text, secrets),
    )
    pending = item.config.stash.get(LATE_KEY, [])
    if pending:
        item.config.stash[LATE_KEY] = []
        evidence += scrubbed(pending, selected=state.selected, scrub=lambda text: scrub_text(text, secrets))
    if evidence:
        report.user_properties.append((EVIDENCE_PROPERTY, [to_json(e) for e in evidence]))
    if report.when == "teardown":
        journal = item.stash.get(JOURNAL_KEY, None)
        report.user_properties.append((EXCHANGES_PROPERTY, len(journal.exchanges) if journal is not None else 0))
    if call.excinfo is not None and isinstance(call.excinfo.value, Violation | ViolationGroup):
        report.longrepr = scrub_text(call.excinfo.value.render(state.spec.catalogue), secrets)


class _Collector:
    """Gathers evidence as reports arrive (on the xdist controller, or in a plain session) and
    decides the verdicts when the session ends."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self.evidence: list[Evidence] = []
        self.exchanges = 0
        self.outcomes: dict[str, str] = {}  # node id → passed, failed, skipped
        self.durations: dict[str, float] = {}  # node id → seconds (setup, call and teardown), for JUnit
        self.started_at = dt.datetime.now(dt.UTC)
        self.started = time.perf_counter()

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.started_at = dt.datetime.now(dt.UTC)
        self.started = time.perf_counter()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        late: list[str] = []
        for name, value in report.user_properties:
            if name == EVIDENCE_PROPERTY and isinstance(value, list):
                arrived = [from_json(item) for item in value]
                self.evidence.extend(arrived)
                late += [e.test for e in arrived if e.test != report.nodeid and e.outcome is Outcome.BROKEN]
            elif name == EXCHANGES_PROPERTY and isinstance(value, int):
                self.exchanges += value
        fold_outcome(self.outcomes, report)
        for test in late:  # judged after it ended, and broken: that test failed after all
            if test in self.outcomes:
                self.outcomes[test] = "failed"
        self.durations[report.nodeid] = self.durations.get(report.nodeid, 0.0) + report.duration

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        config = session.config
        if hasattr(config, "workerinput"):
            return  # a worker: its evidence travels to the controller in the reports
        state = self.state
        results = decide(
            state.spec.catalogue,
            self.evidence,
            selected=state.selected,
            reference_target=state.target.embedded,
            strict=state.options.strict,
        )
        config.stash[RESULTS_KEY] = results
        if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            self._finish_recording(config, results)
        entries: tuple[ExpectedFailure, ...] = config.stash.get(EXPECTED_KEY, ())
        results, expected = apply_expected_failures(results, entries, dt.date.today())
        outcomes = list(self.outcomes.values())
        report = build_report(
            catalogue=state.spec.catalogue,
            spec_digest=state.spec.digest,
            target=state.target,
            results=results,
            expected=expected,
            options=_options(config, state),
            seed=state.options.seed,
            tests=RunCounts(outcomes.count("passed"), outcomes.count("failed"), outcomes.count("skipped")),
            exchanges=self.exchanges,
            started_at=self.started_at.isoformat(timespec="seconds"),
            duration_s=time.perf_counter() - self.started,
            secrets=_secrets(state),
            selected=state.selected,
            strict=state.options.strict,
            test_durations=self.durations,
        )
        config.stash[REPORT_KEY] = report
        if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            return  # interrupted or unusable: no report file would tell the truth
        try:
            write_reports(
                report, {"json": state.options.json, "junit": state.options.junit, "html": state.options.html}
            )
        except OSError as exc:
            print(f"spt-conformance: cannot write a report: {exc}", file=sys.stderr)
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
            return
        session.exitstatus = pytest.ExitCode.TESTS_FAILED if report.exit_code else pytest.ExitCode.OK

    @staticmethod
    def _finish_recording(config: pytest.Config, results: list[RequirementResult]) -> None:
        from conformance.cassettes.record import Recorder
        from conformance.cassettes.session import cassette_session

        recorder = cassette_session(config)
        if isinstance(recorder, Recorder):
            recorder.finish(results)


def _options(config: pytest.Config, state: RunState) -> dict[str, Any]:
    return {**recorded(state.options), "workers": getattr(config.option, "numprocesses", None) or 0}


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    report = run_report(config)
    if report is None:
        return
    from conformance.reports.text import render_summary

    terminalreporter.section("SPT conformance")
    for line in render_summary(report, colour=bool(terminalreporter.hasmarkup)).splitlines():
        terminalreporter.write_line(line)
