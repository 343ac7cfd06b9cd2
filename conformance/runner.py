"""`spt-conformance run`: resolve the target, check it answers, run the suite, tell the outcome.

Theory of operation. Everything that can be wrong before the first test is checked first, each
with its own exit code: a broken spec, a bad option, a wrong expected-failures file or a report
path that cannot be written (2); a target that cannot be built or holds a live key (2); a target
that does not answer or refuses the keys (3, one sentence, not eighty failures). Then the suite
runs in-process through `pytest.main`, isolated from whatever pytest configuration the current
directory has, with pytest's own terminal output replaced by `conformance.progress`. The plugin
leaves the run's `RunReport` (verdicts, counts, scrubbed evidence) in the config; we print its
summary and return its exit code.

With no target, the bundled reference server starts in this process on a free loopback port
with a throwaway database, and is certified with its decisions counted as requirements.

`--record DIR` records the run (`conformance.cassettes.record`); `spt-conformance replay` runs it
again offline (`conformance.cassettes.rerun`). What both share is `conformance.invocation`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import random
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx
import pytest

from conformance import __version__
from conformance.doctor.findings import Finding
from conformance.expected import ExpectedFailuresError, load_expected_failures
from conformance.invocation import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    LeanCollector,
    ReportCatcher,
    Stop,
    conclude,
    hypothesis_storage,
    pytest_arguments,
    write_private,
)
from conformance.options import RunOptions, problems
from conformance.preflight import TargetUnusable, preflight
from conformance.progress import Progress
from conformance.ratelimit import STRIPE_TEST_MODE_RATE
from conformance.reports.model import shown_url
from conformance.spec import Spec, SpecError, default_spec
from conformance.target import Target, TargetError, load_target, target_from_mapping

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_UNREACHABLE", "EXIT_USAGE", "RunRequest", "run"]

QUICK_WEBHOOK_BACKOFF = 0.1  # seconds: the bundled server's first webhook retry under --quick


@dataclass(frozen=True)
class RunRequest(RunOptions):
    """What `spt-conformance run` was asked to do: the run's options, and what to certify."""

    target_file: Path | None = None
    target_mapping: Mapping[str, Any] | None = None  # built from --base-url and the key flags
    suite: str = "conformance.suite"  # the package of tests; tests of the runner use a small fake


def _check_request(request: RunRequest, spec: Spec) -> None:
    found = problems(request, spec.catalogue)
    if found:
        raise Stop(EXIT_USAGE, found[0])
    if request.expected_failures is not None:
        try:
            load_expected_failures(request.expected_failures, spec.catalogue)
        except ExpectedFailuresError as exc:
            raise Stop(EXIT_USAGE, str(exc)) from None
    if request.workers not in (None, "0") and importlib.util.find_spec("xdist") is None:
        raise Stop(EXIT_USAGE, "--workers needs pytest-xdist, which is not installed: pip install pytest-xdist")
    if request.workers not in (None, "0") and request.receiver_port is not None:
        raise Stop(EXIT_USAGE, "--receiver-port listens on one port, so it cannot be shared by --workers processes")
    if importlib.util.find_spec(request.suite) is None:
        raise Stop(EXIT_USAGE, f"the test package {request.suite} cannot be imported; reinstall spt-conformance")
    if request.record is not None:
        from conformance.cassettes.record import prepare_directory

        if request.workers not in (None, "0"):
            raise Stop(EXIT_USAGE, "--record runs in one process (a recording replays in test order); drop --workers")
        problem = prepare_directory(request.record)
        if problem:
            raise Stop(EXIT_USAGE, problem)


def _resolve_target(request: RunRequest, workdir: Path, stack: contextlib.ExitStack) -> tuple[Target, Path]:
    """The target, and the file the plugin reads it from (in every xdist worker too)."""
    try:
        if request.target_file is not None:
            return load_target(request.target_file), request.target_file
        path = workdir / "target.yaml"
        if request.target_mapping is not None:
            target = target_from_mapping(request.target_mapping, "the command-line target")
            write_private(path, request.target_mapping)
            return target, path
    except TargetError as exc:
        raise Stop(EXIT_USAGE, str(exc)) from None
    try:
        from reference_impl.embedded import start
    except ImportError as exc:
        raise Stop(EXIT_UNREACHABLE, f"the bundled reference server cannot be loaded ({exc})") from None
    try:
        # --quick is a smoke run: the bundled server retries failed webhooks sooner (its
        # production backoff starts at 0.5 s); a full run certifies the shipped defaults.
        tuning: dict[str, Any] = {"webhook_backoff": QUICK_WEBHOOK_BACKOFF} if request.quick else {}
        server = stack.enter_context(start(db=":memory:", host="127.0.0.1", port=0, **tuning))
    except (OSError, RuntimeError) as exc:
        raise Stop(EXIT_UNREACHABLE, f"the bundled reference server did not start: {exc}") from None
    mapping = server.target()
    write_private(path, mapping)
    return target_from_mapping(mapping, "the bundled reference server", embedded=True), path


def _check_reachable(target: Target) -> None:
    with httpx.Client(base_url=target.base_url, timeout=15.0, headers={"User-Agent": "spt-conformance"}) as http:
        try:
            preflight(target, http)
        except TargetUnusable as exc:
            raise Stop(EXIT_UNREACHABLE, str(exc)) from None


def _check_target_file(request: RunRequest) -> None:
    """What the target file alone shows wrong (the same key twice, a placeholder, /v1), said
    before the specification and the suite are loaded: a mistyped file costs a second, not ten."""
    from conformance.doctor.findings import Severity
    from conformance.doctor.static import static_findings

    try:
        if request.target_file is not None:
            target = load_target(request.target_file)
        elif request.target_mapping is not None:
            target = target_from_mapping(request.target_mapping, "the command-line target")
        else:
            return
    except TargetError as exc:
        raise Stop(EXIT_USAGE, str(exc)) from None
    _stop_on([f for f in static_findings(target) if f.severity is Severity.CONFIG], EXIT_USAGE)


def _stop_on(stops: Sequence[Finding], code: int) -> None:
    """Stop the run with the doctor's findings: one sentence, or one line each."""
    if len(stops) == 1:
        raise Stop(code, stops[0].message)
    if stops:
        lines = "\n".join(finding.render() for finding in stops)
        raise Stop(code, f"this setup cannot give a meaningful certification:\n{lines}")


def _check_setup(request: RunRequest, target: Target, target_file: Path, workdir: Path, err: TextIO) -> Path:
    """The doctor's checks before the first test; the file the plugin reads the target from, with
    the capabilities the doctor detected where the target file left them to auto."""
    from conformance.doctor import Severity, diagnose, resolved

    diagnosis = diagnose(
        target,
        live=not request.no_doctor,
        events=request.events,
        public_url=request.public_url,
        receiver_port=request.receiver_port,
    )
    _stop_on(diagnosis.with_severity(Severity.STOP, Severity.CONFIG), diagnosis.exit_code)
    for finding in diagnosis.with_severity(Severity.WARN):
        err.write(f"spt-conformance: warning: {finding.check}: {finding.message}\n")
    if request.no_doctor:
        _check_reachable(target)
        return target_file
    settled = resolved(target, diagnosis)
    if settled == target:
        return target_file
    path = workdir / "target-resolved.yaml"
    write_private(path, settled.to_mapping())
    return path


def _worker_count(workers: str | None) -> str | None:
    """`auto` as the number of processes it means (the CPUs this process may use), so the run
    says how many it starts."""
    if workers not in ("auto", "logical"):
        return workers
    try:
        return str(len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return str(os.cpu_count() or 1)


def _describe(target: Target) -> str:
    if target.embedded:
        return f"the bundled reference server at {shown_url(target.base_url)}"
    return f"{target.name} at {shown_url(target.base_url)}"


def run(request: RunRequest, *, out: TextIO | None = None, err: TextIO | None = None, live: bool | None = None) -> int:
    """Run the suite as asked; return its exit code (0, 1, 2 or 3; see docs/verdicts.md)."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    live = out.isatty() if live is None else live
    try:
        _check_target_file(request)
        try:
            spec = default_spec()
        except SpecError as exc:
            raise Stop(EXIT_USAGE, f"the specification is broken:\n{exc.render()}") from None
        _check_request(request, spec)
        request = dataclasses.replace(request, workers=_worker_count(request.workers))
        seed = request.seed if request.seed is not None else random.randrange(1, 1_000_000)
        with contextlib.ExitStack() as stack:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="spt-run-")))
            target, target_file = _resolve_target(request, workdir, stack)
            target_file = _check_setup(request, target, target_file, workdir, err)
            workers = f", {request.workers} workers" if request.workers not in (None, "0") else ""
            out.write(f"spt-conformance {__version__}: certifying {_describe(target)} (seed {seed}{workers})\n")
            out.flush()
            args = pytest_arguments(
                request, target_file, suite=request.suite, reference=target.embedded, workdir=workdir, seed=seed
            )
            stack.enter_context(hypothesis_storage(workdir / "hypothesis"))
            progress = Progress(out, live=live, rate=STRIPE_TEST_MODE_RATE if target.is_stripe else None)
            catcher = ReportCatcher()
            code = pytest.main(args, plugins=[progress, catcher, LeanCollector()])
            exit_code = conclude(int(code), progress, catcher.report, request, out)
            if request.record is not None and (request.record / "manifest.json").is_file():
                out.write(f"\nRecorded: {request.record} (replay it with `spt-conformance replay {request.record}`)\n")
            return exit_code
    except Stop as stop:
        err.write(f"spt-conformance run: {stop}\n")
        err.flush()
        return stop.code
