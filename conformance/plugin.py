"""The pytest plugin: options, the `requirement` marker, and per-requirement verdicts.

It is loaded in every pytest session (entry point `pytest11`) but stays inert unless a target
is given, so `pytest --pyargs conformance.suite --spt-target FILE` runs the conformance suite
inside a vendor's own pytest session, and `spt-conformance run` drives the same code.

Theory of operation. Tests carry `@pytest.mark.requirement("SPT-…", …)`. After each phase of a
test, `pytest_runtest_makereport` turns what happened into `Evidence` per requirement (see
`conformance.verdicts`) and stores it in the report's `user_properties`, which pytest-xdist
carries from workers to the controller, together with the number of HTTP exchanges the test
made. The controller gathers both in `pytest_runtest_logreport`, decides the verdicts at the end
of the session, applies the expected failures, and builds one scrubbed `RunReport` from which the
JSON, JUnit and HTML files and the terminal summary are all written. `spt-conformance run`
reads that report with `run_report(config)`.

With `--spt-record DIR` the run is recorded (`conformance.cassettes.record`), and with
`--spt-replay DIR` it is replayed from a recording (`conformance.cassettes.replay`): both are
plugin objects registered here, reached by the suite's fixtures through
`conformance.cassettes.session.cassette_session`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from conformance.checks import REGISTRY
from conformance.client import Journal
from conformance.expected import (
    ExpectedFailure,
    ExpectedFailuresError,
    apply_expected_failures,
    load_expected_failures,
)
from conformance.options import RunOptions, add_pytest_options, from_pytest, problems, recorded
from conformance.reports.model import RunCounts, RunReport, build_report, write_json
from conformance.scrub import scrub_text
from conformance.session import RunState
from conformance.spec import SpecError, default_spec
from conformance.target import TargetError, load_target
from conformance.verdicts import Evidence, Outcome, RequirementResult, decide, fold_outcome
from conformance.violation import Violation, ViolationGroup

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
    _configure_cassettes(config, state)
    config.pluginmanager.register(_Collector(state), "spt-conformance-collector")


def _configure_cassettes(config: pytest.Config, state: RunState) -> None:
    from conformance.cassettes.session import CassetteError, read_manifest, set_cassette_session

    record, replay = config.getoption("--spt-record"), config.getoption("--spt-replay")
    if not record and not replay:
        return
    if record and replay:
        raise pytest.UsageError("--spt-record and --spt-replay exclude each other")
    if getattr(config.option, "numprocesses", None) or hasattr(config, "workerinput"):
        raise pytest.UsageError(
            "a recording is made and replayed in one process (session-wide objects are made in test "
            "order); drop -n / --workers"
        )
    session: Any
    if record:
        from conformance.cassettes.record import Recorder, prepare_directory

        problem = prepare_directory(Path(record))
        if problem:
            raise pytest.UsageError(problem)
        session = Recorder(Path(record), state)
    else:
        from conformance.cassettes.replay import Replayer

        try:
            manifest = read_manifest(Path(replay))
        except CassetteError as exc:
            raise pytest.UsageError(str(exc)) from None
        session = Replayer(Path(replay), manifest, state)
    set_cassette_session(config, session)
    config.pluginmanager.register(session, "spt-conformance-cassettes")
    session.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    from conformance.cassettes.session import cassette_session

    cassettes: Any = cassette_session(config)
    if cassettes is not None:
        cassettes.stop()
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


def report_late(config: pytest.Config, test: str, requirement: str, violation: Violation | None) -> None:
    """Evidence for a test that has already ended (an expectation judged after the run's final
    quiet period): it leaves with the next report this process makes."""
    state = run_state(config)
    if state is None:
        return
    if violation is None:
        evidence = Evidence(requirement, test, Outcome.HELD)
    else:
        evidence = Evidence(
            violation.requirement,
            test,
            Outcome.BROKEN,
            violation.render(state.spec.catalogue),
            tuple(e.render() for e in violation.exchanges),
        )
    config.stash.setdefault(LATE_KEY, []).append(evidence)


def _late(config: pytest.Config) -> list[Evidence]:
    late = config.stash.get(LATE_KEY, [])
    config.stash[LATE_KEY] = []
    return late


def requirement_ids(item: pytest.Item) -> tuple[str, ...]:
    ids: list[str] = []
    for mark in item.iter_markers("requirement"):
        ids.extend(str(arg) for arg in mark.args)
    return tuple(dict.fromkeys(ids))


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    state = run_state(config)
    if state is None:
        return
    catalogue = state.spec.catalogue
    for item in items:
        unknown = [i for i in requirement_ids(item) if i not in catalogue]
        if unknown:
            raise pytest.UsageError(f"{item.nodeid} names unknown requirement(s) {', '.join(unknown)}")
    keep = [item for item in items if set(requirement_ids(item)) & state.selected]
    if state.options.quick:
        keep = _smoke(keep, state.selected)
    dropped = [item for item in items if item not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def _smoke(items: list[pytest.Item], selected: frozenset[str]) -> list[pytest.Item]:
    """The --quick profile: every test marked `smoke`, then, for each requirement still
    uncovered, the most focused test naming it (fewest requirements, then collection order), so
    that every requirement is still checked once and a broad generated test does not stand in
    for the focused ones. Kept in collection order; deterministic, so every xdist worker keeps
    the same tests."""
    covered: set[str] = set()
    kept: set[int] = set()
    for index, item in enumerate(items):
        if item.get_closest_marker("smoke") is not None:
            kept.add(index)
            covered |= set(requirement_ids(item)) & selected
    by_focus = sorted(range(len(items)), key=lambda i: (len(requirement_ids(items[i])), i))
    for index in by_focus:
        ids = set(requirement_ids(items[index])) & selected
        if ids - covered:
            kept.add(index)
            covered |= ids
    return [item for index, item in enumerate(items) if index in kept]


def pytest_runtest_setup(item: pytest.Item) -> None:
    state = run_state(item.config)
    if state is None:
        return
    needs: set[str] = set()
    for requirement in requirement_ids(item):
        needs |= state.spec.catalogue[requirement].needs
    missing = state.target.missing(needs)
    if missing:
        pytest.skip(f"the target does not offer {', '.join(missing)}")


def _violations(exc: BaseException | None) -> list[Violation]:
    """The violations an exception carries: itself, a group of them, or (Hypothesis reports
    several distinct bugs at once) an ExceptionGroup made only of them."""
    if isinstance(exc, Violation):
        return [exc]
    if isinstance(exc, ViolationGroup):
        return list(exc.violations)
    if isinstance(exc, BaseExceptionGroup):
        parts = [_violations(inner) for inner in exc.exceptions]
        return [v for part in parts for v in part] if all(parts) else []
    return []


def _evidence_for(
    state: RunState, item: pytest.Item, report: pytest.TestReport, call: pytest.CallInfo[None]
) -> list[Evidence]:
    ids = requirement_ids(item)
    catalogue = state.spec.catalogue
    evidence: list[Evidence] = _late(item.config)
    exc = call.excinfo.value if call.excinfo is not None else None
    if report.skipped:
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else "skipped"
        evidence += [Evidence(r, item.nodeid, Outcome.SKIPPED, reason.removeprefix("Skipped: ")) for r in ids]
    elif report.when == "call" and report.passed:
        evidence += [Evidence(r, item.nodeid, Outcome.HELD) for r in ids]
    elif report.failed and report.when in ("setup", "call"):
        violations = _violations(exc)
        if violations:
            broken = {v.requirement for v in violations}
            for violation in violations:
                evidence.append(
                    Evidence(
                        violation.requirement,
                        item.nodeid,
                        Outcome.BROKEN,
                        violation.render(catalogue),
                        tuple(e.render() for e in violation.exchanges),
                    )
                )
            first = violations[0].requirement
            evidence += [
                Evidence(r, item.nodeid, Outcome.NOT_REACHED, f"not reached: {first} failed first in {item.nodeid}")
                for r in ids
                if r not in broken
            ]
        else:
            message = f"{type(exc).__name__}: {exc}" if exc is not None else str(report.longrepr)
            evidence += [Evidence(r, item.nodeid, Outcome.BROKEN, message) for r in ids]
    if report.when == "teardown":
        journal = item.stash.get(JOURNAL_KEY, None)
        if journal is not None and journal.exchanges:
            found: set[str] = set()
            for finding in journal.findings:
                if isinstance(finding, Violation):
                    found.add(finding.requirement)
                    evidence.append(
                        Evidence(
                            finding.requirement,
                            f"check:{item.nodeid}",
                            Outcome.BROKEN,
                            finding.render(catalogue),
                            tuple(e.render() for e in finding.exchanges),
                        )
                    )
            for registered in REGISTRY.values():
                if registered.requirement not in found:
                    evidence.append(Evidence(registered.requirement, f"check:{registered.name}", Outcome.HELD))
    scrub = _scrubber(state)
    return [
        dataclasses.replace(e, message=scrub(e.message), exchanges=tuple(scrub(x) for x in e.exchanges))
        if e.outcome is Outcome.BROKEN
        else e
        for e in evidence
        if e.requirement in state.selected
    ]


def _secrets(state: RunState) -> list[str]:
    with state.context._lock:
        return sorted({*state.target.secrets(), *state.context.secrets}, key=len, reverse=True)


def _scrubber(state: RunState) -> Callable[[str], str]:
    """Evidence leaves the worker scrubbed: it travels to the controller and into reports."""
    secrets = _secrets(state)
    return lambda text: scrub_text(text, secrets)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    state = run_state(item.config)
    if state is None:
        return
    evidence = _evidence_for(state, item, report, call)
    if evidence:
        report.user_properties.append((EVIDENCE_PROPERTY, [_to_json(e) for e in evidence]))
    if report.when == "teardown":
        journal = item.stash.get(JOURNAL_KEY, None)
        report.user_properties.append((EXCHANGES_PROPERTY, len(journal.exchanges) if journal is not None else 0))
    if call.excinfo is not None and isinstance(call.excinfo.value, Violation | ViolationGroup):
        report.longrepr = _scrubber(state)(call.excinfo.value.render(state.spec.catalogue))


def _to_json(evidence: Evidence) -> dict[str, Any]:
    return {
        "requirement": evidence.requirement,
        "test": evidence.test,
        "outcome": evidence.outcome.value,
        "message": evidence.message,
        "exchanges": list(evidence.exchanges),
    }


def _from_json(data: dict[str, Any]) -> Evidence:
    return Evidence(
        data["requirement"], data["test"], Outcome(data["outcome"]), data["message"], tuple(data["exchanges"])
    )


class _Collector:
    """Gathers evidence as reports arrive (on the xdist controller, or in a plain session) and
    decides the verdicts when the session ends."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self.evidence: list[Evidence] = []
        self.exchanges = 0
        self.outcomes: dict[str, str] = {}  # node id → passed, failed, skipped
        self.started_at = dt.datetime.now(dt.UTC)
        self.started = time.perf_counter()

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.started_at = dt.datetime.now(dt.UTC)
        self.started = time.perf_counter()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == EVIDENCE_PROPERTY and isinstance(value, list):
                arrived = [_from_json(item) for item in value]
                self.evidence.extend(arrived)
                # A broken expectation judged after its test ended fails that test too.
                for late in arrived:
                    if late.outcome is Outcome.BROKEN and late.test in self.outcomes and late.test != report.nodeid:
                        self.outcomes[late.test] = "failed"
            elif name == EXCHANGES_PROPERTY and isinstance(value, int):
                self.exchanges += value
        fold_outcome(self.outcomes, report)

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
        )
        config.stash[REPORT_KEY] = report
        if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            return  # interrupted or unusable: no report file would tell the truth
        try:
            _write_reports(state.options, report)
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


def _write_reports(options: RunOptions, report: RunReport) -> None:
    from conformance.reports.html import write_html
    from conformance.reports.junit import write_junit

    writers: dict[Path | None, Callable[[RunReport, Path], None]] = {
        options.json: write_json,
        options.junit: write_junit,
        options.html: write_html,
    }
    for path, write in writers.items():
        if path is not None:
            write(report, path)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    report = run_report(config)
    if report is None:
        return
    from conformance.reports.text import render_summary

    terminalreporter.section("SPT conformance")
    for line in render_summary(report, colour=bool(terminalreporter.hasmarkup)).splitlines():
        terminalreporter.write_line(line)
