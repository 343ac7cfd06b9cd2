"""Run the conformance suite against the bundled reference server started with deliberate bugs.

`spt-conformance run` with no target starts the bundled server through
`reference_impl.embedded.start` and certifies it as the reference (its decisions count as
requirements, events settle quickly). `run_suite` does exactly that run, through
`conformance.runner.run`, with `start` wrapped for its duration so that the server it starts has
the given faults. Nothing else changes: no option of the runner, the CLI or a target file can
name a fault, which is what tests/mutants/test_unreachable.py proves.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.runner import RunRequest, run
from reference_impl import embedded
from tests.mutants.catalogue import KILL_OPTIONS, Mutant

__all__ = ["SuiteRun", "bundled_server_with", "correct_run", "kill_run", "run_suite"]


@dataclass(frozen=True)
class SuiteRun:
    """What one run said: its exit code, a verdict per selected requirement, how long it took."""

    faults: tuple[str, ...]
    exit_code: int
    verdicts: Mapping[str, str]  # requirement ID -> PASSED, FAILED, WARNING, SKIPPED, INFO
    wall_s: float
    output: str  # the runner's summary and errors, for a failure message

    def with_verdict(self, *verdicts: str) -> list[str]:
        return [rid for rid, verdict in self.verdicts.items() if verdict in verdicts]


@contextlib.contextmanager
def bundled_server_with(faults: Iterable[str]) -> Iterator[None]:
    """While inside, the bundled server the runner starts has `faults`."""
    chosen = frozenset(faults)
    original = embedded.start

    @functools.wraps(original)
    def start(*args: Any, **kwargs: Any) -> embedded.RunningServer:
        return original(*args, **{**kwargs, "faults": chosen})

    embedded.start = start
    try:
        yield
    finally:
        embedded.start = original


def run_suite(
    faults: Iterable[str] = (),
    *,
    only: Iterable[str] = (),
    seed: int,
    quick: bool = False,
    max_examples: int | None = None,
    max_wait: float | None = None,
) -> SuiteRun:
    """One `spt-conformance run` in this process against a fresh bundled server with `faults`."""
    chosen = tuple(sorted(faults))
    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory(prefix="spt-mutant-") as tmp:
        report = Path(tmp) / "report.json"
        request = RunRequest(
            only=tuple(only), seed=seed, quick=quick, max_examples=max_examples, max_wait=max_wait, json=report
        )
        started = time.perf_counter()
        with bundled_server_with(chosen):
            code = run(request, out=out, err=err, live=False)
        wall = time.perf_counter() - started
        data = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else {"requirements": []}
    verdicts = {str(r["id"]): str(r["verdict"]) for r in data["requirements"]}
    return SuiteRun(chosen, code, verdicts, wall, (out.getvalue() + err.getvalue())[-6000:])


def kill_run(mutant: Mutant) -> SuiteRun:
    """The run that must kill `mutant`: its selection, its profile, the kill options."""
    return run_suite([mutant.name], only=mutant.only, quick=mutant.quick, **KILL_OPTIONS)


def correct_run(only: Sequence[str], *, quick: bool) -> SuiteRun:
    """The same kind of run against the correct server, which must pass it."""
    return run_suite((), only=only, quick=quick, **KILL_OPTIONS)
