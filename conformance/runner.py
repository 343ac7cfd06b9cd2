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

`--record DIR` records the run (`conformance.cassettes.record`); `replay` runs the suite again
from such a recording, with no server and no network: the recorded target, seed and selection
are passed again, the tests judge the recorded responses afresh, and the verdicts are compared
with the recorded ones.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx
import pytest
import yaml

from conformance import __version__
from conformance.expected import ExpectedFailuresError, load_expected_failures
from conformance.plugin import run_report, run_results
from conformance.preflight import TargetUnusable, preflight
from conformance.progress import Progress
from conformance.ratelimit import STRIPE_TEST_MODE_RATE
from conformance.reports.model import RunReport, output_path_problem, shown_url
from conformance.reports.text import render_summary
from conformance.spec import Spec, SpecError, default_spec
from conformance.target import Target, TargetError, load_target, target_from_mapping

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "ReplayOutcome",
    "ReplayRequest",
    "RunRequest",
    "replay",
    "replay_outcome",
    "run",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # Ctrl-C: not a verdict, the shell's convention
QUICK_MAX_WAIT = 5.0  # seconds: --quick is for pre-commit hooks
DEFAULT_MAX_WAIT = 30.0
QUICK_WEBHOOK_BACKOFF = 0.1  # seconds: the bundled server's first webhook retry under --quick


@dataclass(frozen=True)
class RunRequest:
    """What `spt-conformance run` was asked to do (the CLI's options, parsed)."""

    target_file: Path | None = None
    target_mapping: Mapping[str, Any] | None = None  # built from --base-url and the key flags
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    seed: int | None = None
    max_examples: int | None = None
    quick: bool = False
    strict: bool = False
    max_wait: float | None = None
    events: str = "auto"
    public_url: str | None = None
    receiver_port: int | None = None  # a fixed port for the webhook receiver, for a tunnel
    expected_failures: Path | None = None
    json: Path | None = None
    junit: Path | None = None
    html: Path | None = None
    workers: str | None = None  # a number, or "auto"; None or "0" runs in this process
    suite: str = "conformance.suite"  # the package of tests; tests of the runner use a small fake
    record: Path | None = None  # record the run's exchanges as cassettes in this directory


class _Stop(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class _ReportCatcher:
    """Takes the plugin's report before the config goes away."""

    report: RunReport | None = None

    results: list[Any] | None = None
    misses: list[str] | None = None

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        from conformance.cassettes.session import cassette_session

        self.report = run_report(config)
        self.results = run_results(config)
        session = cassette_session(config)
        self.misses = list(getattr(session, "misses", []) or [])


def _check_request(request: RunRequest, spec: Spec) -> None:
    unknown = [p for p in (*request.only, *request.skip) if not spec.catalogue.matching(p)]
    if unknown:
        raise _Stop(
            EXIT_USAGE,
            f"--only/--skip {', '.join(unknown)} matches no requirement ID or area; "
            "see `spt-conformance spec requirements`",
        )
    if request.only and not spec.catalogue.select(request.only, request.skip):
        raise _Stop(EXIT_USAGE, "--only and --skip together leave no requirement to check")
    if request.expected_failures is not None:
        try:
            load_expected_failures(request.expected_failures, spec.catalogue)
        except ExpectedFailuresError as exc:
            raise _Stop(EXIT_USAGE, str(exc)) from None
    for option, path in (("--json", request.json), ("--junit", request.junit), ("--html", request.html)):
        problem = output_path_problem(option, path)
        if problem:
            raise _Stop(EXIT_USAGE, problem)
    if request.workers not in (None, "0") and importlib.util.find_spec("xdist") is None:
        raise _Stop(EXIT_USAGE, "--workers needs pytest-xdist, which is not installed: pip install pytest-xdist")
    if request.workers not in (None, "0") and request.receiver_port is not None:
        raise _Stop(EXIT_USAGE, "--receiver-port listens on one port, so it cannot be shared by --workers processes")
    if importlib.util.find_spec(request.suite) is None:
        raise _Stop(EXIT_USAGE, f"the test package {request.suite} cannot be imported; reinstall spt-conformance")
    if request.record is not None:
        from conformance.cassettes.record import prepare_directory

        if request.workers not in (None, "0"):
            raise _Stop(EXIT_USAGE, "--record runs in one process (a recording replays in test order); drop --workers")
        problem = prepare_directory(request.record)
        if problem:
            raise _Stop(EXIT_USAGE, problem)


def _write_private(path: Path, mapping: Mapping[str, Any]) -> None:
    """The target file holds keys: readable by this user only, in a directory only it can list."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        yaml.safe_dump(dict(mapping), out, sort_keys=False)


def _resolve_target(request: RunRequest, workdir: Path, stack: contextlib.ExitStack) -> tuple[Target, Path]:
    """The target, and the file the plugin reads it from (in every xdist worker too)."""
    try:
        if request.target_file is not None:
            return load_target(request.target_file), request.target_file
        path = workdir / "target.yaml"
        if request.target_mapping is not None:
            target = target_from_mapping(request.target_mapping, "the command-line target")
            _write_private(path, request.target_mapping)
            return target, path
    except TargetError as exc:
        raise _Stop(EXIT_USAGE, str(exc)) from None
    try:
        from reference_impl.embedded import start
    except ImportError as exc:
        raise _Stop(EXIT_UNREACHABLE, f"the bundled reference server cannot be loaded ({exc})") from None
    try:
        # --quick is a smoke run: the bundled server retries failed webhooks sooner (its
        # production backoff starts at 0.5 s); a full run certifies the shipped defaults.
        tuning: dict[str, Any] = {"webhook_backoff": QUICK_WEBHOOK_BACKOFF} if request.quick else {}
        server = stack.enter_context(start(db=":memory:", host="127.0.0.1", port=0, **tuning))
    except (OSError, RuntimeError) as exc:
        raise _Stop(EXIT_UNREACHABLE, f"the bundled reference server did not start: {exc}") from None
    mapping = server.target()
    _write_private(path, mapping)
    return target_from_mapping(mapping, "the bundled reference server", embedded=True), path


def _check_reachable(target: Target) -> None:
    with httpx.Client(base_url=target.base_url, timeout=15.0, headers={"User-Agent": "spt-conformance"}) as http:
        try:
            preflight(target, http)
        except TargetUnusable as exc:
            raise _Stop(EXIT_UNREACHABLE, str(exc)) from None


def _suite_paths(suite: str) -> tuple[Path, Path]:
    """The suite's directory, and the directory its top-level package sits in (the rootdir, so
    node ids read `conformance/suite/test_use.py::…` wherever the package is installed)."""
    found = importlib.util.find_spec(suite)
    if found is None or not found.submodule_search_locations:
        raise _Stop(EXIT_USAGE, f"{suite} is not a package of tests")
    directory = Path(next(iter(found.submodule_search_locations))).resolve()
    return directory, directory.parents[suite.count(".")]


def pytest_arguments(request: RunRequest, target_file: Path, *, reference: bool, workdir: Path, seed: int) -> list[str]:
    """The pytest command line of a run. One place, so new options (recording) slot in here."""
    suite_dir, rootdir = _suite_paths(request.suite)
    ini = workdir / "pytest.ini"
    if not ini.exists():
        # An empty configuration: the user's pytest.ini, pyproject.toml or conftest.py in the
        # current directory must not change how the suite runs.
        ini.write_text("[pytest]\n", encoding="utf-8")
    args = [
        "-c",
        str(ini),
        "--rootdir",
        str(rootdir),
        "--confcutdir",
        str(suite_dir),
        "-p",
        "no:terminal",  # the runner prints its own progress and summary
        "-p",
        "no:cacheprovider",
        "--strict-markers",
        # No assertion rewriting: the suite judges through conformance.violation, and pytest would
        # rewrite every module of every plugin's distribution (Schemathesis, Hypothesis, this one)
        # on each run where bytecode is not written (PYTHONDONTWRITEBYTECODE, read-only installs).
        "--assert=plain",
        "--spt-target",
        str(target_file),
        "--spt-seed",
        str(seed),
        "--hypothesis-seed",
        str(seed),
        "--spt-max-wait",
        str(
            request.max_wait if request.max_wait is not None else QUICK_MAX_WAIT if request.quick else DEFAULT_MAX_WAIT
        ),
        "--spt-events",
        request.events,
    ]
    flags = {"--spt-reference": reference, "--spt-strict": request.strict, "--spt-quick": request.quick}
    args += [flag for flag, on in flags.items() if on]
    valued: Sequence[tuple[str, object]] = (
        ("--spt-max-examples", request.max_examples),
        ("--spt-public-url", request.public_url),
        ("--spt-receiver-port", request.receiver_port),
        ("--spt-expected-failures", request.expected_failures),
        ("--spt-json", request.json),
        ("--spt-junit", request.junit),
        ("--spt-html", request.html),
        ("--spt-record", request.record),
    )
    for flag, value in valued:
        if value is not None:
            args += [flag, str(value)]
    for pattern in request.only:
        args += ["--spt-only", pattern]
    for pattern in request.skip:
        args += ["--spt-skip", pattern]
    if request.workers not in (None, "0"):
        args += ["-n", str(request.workers)]
    return [*args, "--pyargs", request.suite]


@contextlib.contextmanager
def _hypothesis_storage(directory: Path) -> Iterator[None]:
    """Hypothesis keeps an example database under the current directory by default: a run must
    not leave `.hypothesis/` in the user's project, nor replay examples from an earlier run
    (a run is reproduced by its seed). Workers inherit the variable.

    Its Unicode tables (`unicode_data/`, which depend on nothing but the Unicode version, and
    take more than a second to build) are kept between runs in the user's cache directory."""
    name = "HYPOTHESIS_STORAGE_DIRECTORY"
    previous = os.environ.get(name)
    os.environ[name] = str(directory)
    tables = _unicode_cache()
    with contextlib.suppress(OSError):
        if tables is not None and tables.is_dir():
            shutil.copytree(tables, directory / "unicode_data", dirs_exist_ok=True)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if tables is not None and (directory / "unicode_data").is_dir():
                shutil.copytree(directory / "unicode_data", tables, dirs_exist_ok=True)
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def _unicode_cache() -> Path | None:
    """Where Hypothesis's Unicode tables are kept between runs ($SPT_CONFORMANCE_CACHE, else the
    XDG cache directory); None when there is no home to keep them in."""
    if os.environ.get("SPT_CONFORMANCE_CACHE"):
        return Path(os.environ["SPT_CONFORMANCE_CACHE"]) / "hypothesis-unicode"
    base = os.environ.get("XDG_CACHE_HOME") or (str(Path.home() / ".cache") if Path.home().is_dir() else "")
    return Path(base) / "spt-conformance" / "hypothesis-unicode" if base else None


def _describe(target: Target) -> str:
    if target.embedded:
        return f"the bundled reference server at {shown_url(target.base_url)}"
    return f"{target.name} at {shown_url(target.base_url)}"


def _conclude(code: int, progress: Progress, report: RunReport | None, request: RunRequest, out: TextIO) -> int:
    # First: pytest stops on collection errors by raising its Interrupted, which also looks like Ctrl-C.
    if progress.collection_errors:
        errors = "\n\n".join(progress.collection_errors)
        raise _Stop(EXIT_USAGE, f"the conformance tests could not be loaded:\n{errors}")
    if progress.interrupted:
        raise _Stop(EXIT_INTERRUPTED, "interrupted; no verdict")
    if progress.internal_errors or code == pytest.ExitCode.INTERNAL_ERROR:
        errors = "\n\n".join(progress.internal_errors) or "(no detail)"
        raise _Stop(EXIT_USAGE, f"internal error in the suite (please report it):\n{errors}")
    if code == pytest.ExitCode.USAGE_ERROR and report is None:
        raise _Stop(EXIT_USAGE, "pytest refused the run (see the error above)")
    if report is None or code == pytest.ExitCode.NO_TESTS_COLLECTED or report.tests.total == 0:
        raise _Stop(EXIT_USAGE, "no conformance test proves the selected requirements; check --only and --skip")
    out.write("\n" + render_summary(report, colour=progress.live) + "\n")
    written = [
        (name, path) for name, path in (("JSON", request.json), ("JUnit", request.junit), ("HTML", request.html))
    ]
    if any(path is not None for _, path in written):
        out.write("\nReports:\n")
        out.writelines(f"  {name:<6}{path}\n" for name, path in written if path is not None)
    out.flush()
    if code == pytest.ExitCode.USAGE_ERROR:
        return EXIT_USAGE  # a report file could not be written; the plugin said why
    return report.exit_code


def run(request: RunRequest, *, out: TextIO | None = None, err: TextIO | None = None, live: bool | None = None) -> int:
    """Run the suite as asked; return the exit code of design.md (0, 1, 2 or 3)."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    live = out.isatty() if live is None else live
    try:
        try:
            spec = default_spec()
        except SpecError as exc:
            raise _Stop(EXIT_USAGE, f"the specification is broken:\n{exc.render()}") from None
        _check_request(request, spec)
        seed = request.seed if request.seed is not None else random.randrange(1, 1_000_000)
        with contextlib.ExitStack() as stack:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="spt-run-")))
            target, target_file = _resolve_target(request, workdir, stack)
            _check_reachable(target)
            workers = f", {request.workers} workers" if request.workers not in (None, "0") else ""
            out.write(f"spt-conformance {__version__}: certifying {_describe(target)} (seed {seed}{workers})\n")
            out.flush()
            args = pytest_arguments(request, target_file, reference=target.embedded, workdir=workdir, seed=seed)
            stack.enter_context(_hypothesis_storage(workdir / "hypothesis"))
            progress = Progress(out, live=live, rate=STRIPE_TEST_MODE_RATE if target.is_stripe else None)
            catcher = _ReportCatcher()
            code = pytest.main(args, plugins=[progress, catcher])
            exit_code = _conclude(int(code), progress, catcher.report, request, out)
            if request.record is not None and (request.record / "manifest.json").is_file():
                out.write(f"\nRecorded: {request.record} (replay it with `spt-conformance replay {request.record}`)\n")
            return exit_code
    except _Stop as stop:
        err.write(f"spt-conformance run: {stop}\n")
        err.flush()
        return stop.code


# ---------------------------------------------------------------------------------- replay
@dataclass(frozen=True)
class ReplayRequest:
    """What `spt-conformance replay` was asked to do."""

    directory: Path
    allow_spec_drift: bool = False
    only: tuple[str, ...] = ()  # a part of the recording, by requirement
    skip: tuple[str, ...] = ()
    json: Path | None = None
    junit: Path | None = None
    html: Path | None = None
    suite: str = "conformance.suite"


@dataclass(frozen=True)
class ReplayOutcome:
    code: int
    verdicts: Mapping[str, str]  # requirement ID -> verdict, as replayed (before expected failures)
    differences: tuple[tuple[str, str, str], ...] = ()  # (ID, recorded, replayed)
    misses: tuple[str, ...] = ()
    message: str = ""  # why there are no verdicts (a usage error)


def replay(
    request: ReplayRequest, *, out: TextIO | None = None, err: TextIO | None = None, live: bool | None = None
) -> int:
    """Replay a recording; 0 or 1 as a run would say, 2 if it cannot be replayed faithfully."""
    return replay_outcome(request, out=out, err=err, live=live).code


def replay_outcome(
    request: ReplayRequest, *, out: TextIO | None = None, err: TextIO | None = None, live: bool | None = None
) -> ReplayOutcome:
    from conformance.cassettes.session import CassetteError, read_manifest

    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    live = out.isatty() if live is None else live
    try:
        try:
            manifest = read_manifest(request.directory)
            spec = default_spec()
        except CassetteError as exc:
            raise _Stop(EXIT_USAGE, str(exc)) from None
        except SpecError as exc:
            raise _Stop(EXIT_USAGE, f"the specification is broken:\n{exc.render()}") from None
        if manifest.spec_digest != spec.digest:
            drift = (
                f"{request.directory} was recorded against spec sha256 {manifest.spec_digest[:12]}, and this suite's "
                f"spec is {spec.digest[:12]}: requirements or schemas changed since"
            )
            if not request.allow_spec_drift:
                raise _Stop(EXIT_USAGE, f"{drift}; record again, or pass --allow-spec-drift to replay anyway")
            err.write(f"spt-conformance replay: warning: {drift}; replaying anyway (--allow-spec-drift)\n")
        options = manifest.options
        run_request = RunRequest(
            only=request.only or tuple(options.get("only") or ()),
            skip=(*(options.get("skip") or ()), *request.skip),
            seed=manifest.seed,
            max_examples=options.get("max_examples"),
            quick=bool(options.get("quick")),
            strict=bool(options.get("strict")),
            max_wait=options.get("max_wait"),
            events=str(options.get("events") or "auto"),
            public_url=options.get("public_url"),
            json=request.json,
            junit=request.junit,
            html=request.html,
            suite=request.suite,
        )
        _check_request(run_request, spec)
        with contextlib.ExitStack() as stack:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="spt-replay-")))
            target_file = workdir / "target.yaml"
            _write_private(target_file, manifest.target_mapping())
            out.write(
                f"spt-conformance {__version__}: replaying {request.directory} ({manifest.target.get('name')}, "
                f"recorded {manifest.recorded_at}, seed {manifest.seed}; no server, no network)\n"
            )
            out.flush()
            reference = bool(manifest.target.get("reference"))
            args = pytest_arguments(
                run_request, target_file, reference=reference, workdir=workdir, seed=manifest.seed or 0
            )
            # No assertion rewriting: the suite judges through conformance.violation, and rewriting
            # every module of the suite's dependencies again costs more than a replay of a module.
            args[-2:-2] = ["--spt-replay", str(request.directory)]
            stack.enter_context(_hypothesis_storage(workdir / "hypothesis"))
            progress = Progress(out, live=live)
            catcher = _ReportCatcher()
            code = _conclude(
                int(pytest.main(args, plugins=[progress, catcher])), progress, catcher.report, run_request, out
            )
        verdicts = {r.requirement.id: r.verdict.value for r in catcher.results or ()}
        differences = tuple(
            (rid, manifest.verdicts[rid], verdict)
            for rid, verdict in verdicts.items()
            if rid in manifest.verdicts and manifest.verdicts[rid] != verdict
        )
        out.write(_comparison(len(verdicts), differences))
        misses = tuple(catcher.misses or ())
        if misses:
            err.write(f"spt-conformance replay: {len(misses)} test(s) made requests the recording does not hold:\n")
            err.write("".join(f"\n{miss}\n" for miss in misses))
            code = EXIT_USAGE
        out.flush()
        return ReplayOutcome(code, verdicts, differences, misses)
    except _Stop as stop:
        err.write(f"spt-conformance replay: {stop}\n")
        err.flush()
        return ReplayOutcome(stop.code, {}, message=str(stop))


def _comparison(total: int, differences: Sequence[tuple[str, str, str]]) -> str:
    if not differences:
        return f"\nReplay: all {total} verdicts are the recorded ones.\n"
    lines = [f"\nReplay: {len(differences)} of {total} verdicts differ from the recording:"]
    lines += [f"  {rid}: recorded {recorded}, replayed {replayed}" for rid, recorded, replayed in differences]
    return "\n".join(lines) + "\n"
