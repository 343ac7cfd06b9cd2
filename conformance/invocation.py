"""One in-process pytest run of the suite: its command line, its isolation, and how it ended.

`spt-conformance run` and `spt-conformance replay` both end in `pytest.main` over the suite's
package. This module is what they share: the exit codes, the pytest arguments (an empty
configuration, so the user's pytest.ini or conftest.py cannot change the run; the options as the
plugin reads them), a private Hypothesis storage, the catcher that keeps the plugin's report
after pytest closes, and the reading of how pytest ended into one exit code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib.util
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import pytest
import yaml

from conformance.options import RunOptions, resolved
from conformance.options import pytest_arguments as pytest_options
from conformance.plugin import run_report, run_results
from conformance.progress import Progress
from conformance.reports.model import RunReport
from conformance.reports.text import render_summary

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "LeanCollector",
    "ReportCatcher",
    "Stop",
    "conclude",
    "hypothesis_storage",
    "pytest_arguments",
    "suite_paths",
    "write_private",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # Ctrl-C: not a verdict, the shell's convention


class Stop(Exception):
    """Ends a command before or after pytest, with an exit code and one sentence."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class ReportCatcher:
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


class LeanCollector:
    """The cyclic garbage collector, set for one run (a plugin object, like `ReportCatcher`).

    A run builds a large heap that lives until its end (Schemathesis, Hypothesis's strategies,
    the OpenAPI document, the collected tests), then makes many short-lived objects per request.
    With the interpreter's defaults every full collection walks that heap again: about a second
    of a run (measured with `gc.callbacks`: 700 young, 64 middle and 7 full collections). Frozen
    once the tests are collected, and with the young generation collected every 10,000
    allocations instead of 700, it is half that (and pytest's own full collection at the end
    still finds it frozen). Both are undone when the run ends, since
    `run` and `replay` may be called again in the same process.
    """

    def __init__(self) -> None:
        self._threshold: tuple[int, int, int] | None = None

    def pytest_configure(self, config: pytest.Config) -> None:
        self._threshold = gc.get_threshold()
        gc.set_threshold(10_000, *self._threshold[1:])

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        gc.freeze()

    @pytest.hookimpl(trylast=True)  # after pytest's own full collection at the end, still frozen
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        gc.unfreeze()
        if self._threshold is not None:
            gc.set_threshold(*self._threshold)


def write_private(path: Path, mapping: Mapping[str, Any]) -> None:
    """The target file holds keys: readable by this user only, in a directory only it can list."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        yaml.safe_dump(dict(mapping), out, sort_keys=False)


def suite_paths(suite: str) -> tuple[Path, Path]:
    """The suite's directory, and the directory its top-level package sits in (the rootdir, so
    node ids read `conformance/suite/test_use.py::…` wherever the package is installed)."""
    found = importlib.util.find_spec(suite)
    if found is None or not found.submodule_search_locations:
        raise Stop(EXIT_USAGE, f"{suite} is not a package of tests")
    directory = Path(next(iter(found.submodule_search_locations))).resolve()
    return directory, directory.parents[suite.count(".")]


def pytest_arguments(
    options: RunOptions, target_file: Path, *, suite: str, reference: bool, workdir: Path, seed: int
) -> list[str]:
    """The pytest command line of a run: the isolation below, then the options as the plugin reads them."""
    suite_dir, rootdir = suite_paths(suite)
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
        # Plugins the suite does not use, each a second of imports or hooks on every run: the suite
        # drives Schemathesis itself, and has no async tests.
        "-p",
        "no:schemathesis",
        "-p",
        "no:anyio",
        "-p",
        "no:xdist.looponfail",
        "--strict-markers",
        # No assertion rewriting: the suite judges through conformance.violation, and pytest would
        # rewrite every module of every plugin's distribution (Schemathesis, Hypothesis, this one)
        # on each run where bytecode is not written (PYTHONDONTWRITEBYTECODE, read-only installs).
        "--assert=plain",
        "--spt-target",
        str(target_file),
        "--hypothesis-seed",
        str(seed),
        *(["--spt-reference"] if reference else []),
        *pytest_options(resolved(dataclasses.replace(options, seed=seed))),
    ]
    return [*args, "--pyargs", suite]


@contextlib.contextmanager
def hypothesis_storage(directory: Path) -> Iterator[None]:
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


def conclude(code: int, progress: Progress, report: RunReport | None, options: RunOptions, out: TextIO) -> int:
    # First: pytest stops on collection errors by raising its Interrupted, which also looks like Ctrl-C.
    if progress.collection_errors:
        errors = "\n\n".join(progress.collection_errors)
        raise Stop(EXIT_USAGE, f"the conformance tests could not be loaded:\n{errors}")
    if progress.interrupted:
        raise Stop(EXIT_INTERRUPTED, "interrupted; no verdict")
    if progress.internal_errors or code == pytest.ExitCode.INTERNAL_ERROR:
        errors = "\n\n".join(progress.internal_errors) or "(no detail)"
        raise Stop(EXIT_USAGE, f"internal error in the suite (please report it):\n{errors}")
    if code == pytest.ExitCode.USAGE_ERROR and report is None:
        raise Stop(EXIT_USAGE, "pytest refused the run (see the error above)")
    if report is None or code == pytest.ExitCode.NO_TESTS_COLLECTED or report.tests.total == 0:
        raise Stop(EXIT_USAGE, "no conformance test proves the selected requirements; check --only and --skip")
    out.write("\n" + render_summary(report, colour=progress.live) + "\n")
    written = [
        (name, path) for name, path in (("JSON", options.json), ("JUnit", options.junit), ("HTML", options.html))
    ]
    if any(path is not None for _, path in written):
        out.write("\nReports:\n")
        out.writelines(f"  {name:<6}{path}\n" for name, path in written if path is not None)
    out.flush()
    if code == pytest.ExitCode.USAGE_ERROR:
        return EXIT_USAGE  # a report file could not be written; the plugin said why
    return report.exit_code
