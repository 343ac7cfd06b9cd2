"""Run the conformance suite against a reference server started with deliberate bugs or variants.

`spt-conformance run` with no target starts the bundled server through
`reference_impl.embedded.start` and certifies it as the reference (its decisions count as
requirements, events settle quickly). `run_suite` does exactly that run, through
`conformance.runner.run`, with `start` wrapped for its duration so that the server it starts has
the given faults. `run_against` runs the suite against a target file instead, as against any
server we did not write: that is how variants are judged. No option of the runner, the CLI or a
target file can name a fault or a variant (tests/mutants/test_unreachable.py).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conformance.runner import RunRequest, run
from harness.mutants import KILL_OPTIONS, Mutant
from reference_impl import embedded

__all__ = ["SuiteRun", "bundled_server_with", "correct_run", "kill_run", "read_report", "run_against", "run_suite"]


@dataclass(frozen=True)
class SuiteRun:
    """What one run said: its exit code, a verdict per selected requirement, how long it took."""

    faults: tuple[str, ...]
    exit_code: int
    verdicts: Mapping[str, str]  # requirement ID -> PASSED, FAILED, WARNING, SKIPPED, INFO
    wall_s: float
    output: str  # the runner's summary and errors, for a failure message
    messages: Mapping[str, str] = field(default_factory=dict)  # requirement ID -> first failure message

    def with_verdict(self, *verdicts: str) -> list[str]:
        return [rid for rid, verdict in self.verdicts.items() if verdict in verdicts]


@contextlib.contextmanager
def bundled_server_with(faults: Iterable[str] = (), variants: Iterable[str] = ()) -> Iterator[None]:
    """While inside, the bundled server the runner starts has `faults` and `variants`."""
    chosen, varied = frozenset(faults), frozenset(variants)
    original = embedded.start

    @functools.wraps(original)
    def start(*args: Any, **kwargs: Any) -> embedded.RunningServer:
        return original(*args, **{**kwargs, "faults": chosen, "variants": varied})

    embedded.start = start
    try:
        yield
    finally:
        embedded.start = original


def _run(request_options: Mapping[str, Any], label: tuple[str, ...], tmp: Path) -> SuiteRun:
    report = tmp / "report.json"
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    code = run(RunRequest(**request_options, json=report), out=out, err=err, live=False)
    wall = time.perf_counter() - started
    return read_report(report, label, code, wall, out.getvalue() + err.getvalue())


def read_report(report: Path, label: Sequence[str], code: int, wall: float, output: str) -> SuiteRun:
    """A run's outcome from its JSON report (absent when the run stopped before reporting)."""
    data = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else {"requirements": []}
    verdicts = {str(r["id"]): str(r["verdict"]) for r in data["requirements"]}
    messages = {str(r["id"]): _message(r) for r in data["requirements"] if r["verdict"] in ("FAILED", "WARNING")}
    return SuiteRun(tuple(label), code, verdicts, wall, output[-6000:], messages)


def _message(requirement: Mapping[str, Any]) -> str:
    """The first failure message the report gives for a requirement, on one line."""
    for entry in requirement.get("evidence", ()):
        if isinstance(entry, dict) and entry.get("outcome") == "broken" and entry.get("message"):
            return " ".join(str(entry["message"]).split())[:300]
    return str(requirement.get("note", ""))[:300]


def run_suite(
    faults: Iterable[str] = (), *, variants: Iterable[str] = (), only: Iterable[str] = (), seed: int, **options: Any
) -> SuiteRun:
    """One `spt-conformance run` in this process against a fresh bundled server with `faults`
    (and `variants`); `options` are further fields of RunRequest (quick, max_examples, max_wait)."""
    chosen = tuple(sorted(faults))
    with tempfile.TemporaryDirectory(prefix="spt-mutant-") as tmp, bundled_server_with(chosen, variants):
        return _run({"only": tuple(only), "seed": seed, **options}, chosen, Path(tmp))


def run_against(
    target: Mapping[str, Any], *, label: Sequence[str] = (), only: Iterable[str] = (), seed: int, **options: Any
) -> SuiteRun:
    """One `spt-conformance run --target FILE` in this process against the server `target` names;
    `options` are further fields of RunRequest (quick, max_examples, max_wait)."""
    with tempfile.TemporaryDirectory(prefix="spt-target-") as tmp:
        path = Path(tmp) / "target.yaml"
        path.write_text(yaml.safe_dump(dict(target), sort_keys=False), encoding="utf-8")
        return _run({"target_file": path, "only": tuple(only), "seed": seed, **options}, tuple(label), Path(tmp))


def kill_run(mutant: Mutant) -> SuiteRun:
    """The run that must kill `mutant`: its selection, its profile, the kill options."""
    return run_suite([mutant.name], only=mutant.only, quick=mutant.quick, **KILL_OPTIONS)


def correct_run(only: Sequence[str], *, quick: bool) -> SuiteRun:
    """The same kind of run against the correct server, which must pass it."""
    return run_suite((), only=only, quick=quick, **KILL_OPTIONS)
