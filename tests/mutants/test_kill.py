"""The suite catches broken servers: every mutant of the catalogue is killed, the correct server is not.

Each mutant is the bundled reference server with one deliberate bug (reference_impl/faults.py).
The suite runs against it restricted to the requirements tests/mutants/mutants.yaml says it
breaks, in the catalogue's profile, and must report each of them broken. The correct server,
run with the same selections, must pass them all: a kill that the correct server also gets would
prove nothing.

The runs are independent, so they are made up front in a pool of two processes (one suite run at
a time per process: the runner and the embedded server are process-wide), and each test waits
for its own.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import pytest

from conformance.catalog import Level
from conformance.spec import default_spec
from harness.mutants import PROFILES, Mutant, load_mutants, missed, selection
from harness.suite import SuiteRun, correct_run, kill_run
from reference_impl.faults import KNOWN_FAULTS

MUTANTS = load_mutants()
CATALOGUE = default_spec().catalogue


def _jobs() -> dict[str, Callable[[], SuiteRun]]:
    """Every run this module may need, by key, the longest first (the correct server's full run,
    then the mutants of the full profile) so that the pool ends on short ones."""
    jobs: dict[str, Callable[[], SuiteRun]] = {}
    for profile in sorted(PROFILES, key=lambda p: p == "quick"):
        jobs[f"correct:{profile}"] = functools.partial(
            correct_run, selection(MUTANTS, profile), quick=profile == "quick"
        )
    for mutant in sorted(MUTANTS, key=lambda m: m.quick):
        jobs[f"mutant:{mutant.name}"] = functools.partial(kill_run, mutant)
    return jobs


def _key(item: pytest.Item) -> str | None:
    params = getattr(item, "callspec", None)
    if params is None:
        return None
    if "mutant" in params.params:
        return f"mutant:{params.params['mutant'].name}"
    if "profile" in params.params:
        return f"correct:{params.params['profile']}"
    return None


class Runs:
    """The result of each run by key: started at once in a pool of processes, or, under
    pytest-xdist (whose workers share the tests out already, and cannot know which they will
    get), made in this process when a test asks for it."""

    def __init__(self, pool: ProcessPoolExecutor | None, wanted: set[str | None]) -> None:
        self._jobs = _jobs()
        self._futures: dict[str, Future[SuiteRun]] = {}
        if pool is not None:
            self._futures = {key: pool.submit(job) for key, job in self._jobs.items() if key in wanted}

    def result(self, key: str) -> SuiteRun:
        future = self._futures.get(key)
        return future.result() if future is not None else self._jobs[key]()


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest) -> Iterator[Runs]:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        yield Runs(None, set())
        return
    wanted = {_key(item) for item in request.session.items if item.path == request.path}
    pool = ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield Runs(pool, wanted)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _must(mutant: Mutant) -> bool:
    return any(CATALOGUE[rid].level is Level.MUST for rid in mutant.breaks)


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_suite_kills_mutant(mutant: Mutant, runs: Runs) -> None:
    run = runs.result(f"mutant:{mutant.name}")
    survived = missed(mutant, run.verdicts, CATALOGUE)
    assert not survived, f"{mutant.name} ({mutant.does}) survived on {survived}\n{run.output}"
    # A broken MUST fails the run; a broken SHOULD is a WARNING, which never does.
    assert run.exit_code == (1 if _must(mutant) else 0), run.output


@pytest.mark.parametrize("profile", PROFILES)
def test_correct_server_passes_every_kill_selection(profile: str, runs: Runs) -> None:
    run = runs.result(f"correct:{profile}")
    assert run.exit_code == 0, run.output
    assert dict(run.verdicts) == dict.fromkeys(selection(MUTANTS, profile), "PASSED"), run.output


# ------------------------------------------------------------------ the catalogue itself
def test_catalogue_names_every_fault_once() -> None:
    names = [m.name for m in MUTANTS]
    assert len(names) == len(set(names))
    assert set(names) == KNOWN_FAULTS


def test_catalogue_names_only_known_requirements() -> None:
    for mutant in MUTANTS:
        assert mutant.breaks, f"{mutant.name} breaks nothing"
        assert not set(mutant.breaks) & set(mutant.also_run), mutant.name
        for rid in mutant.only:
            assert rid in CATALOGUE, f"{mutant.name}: {rid}"
            assert not CATALOGUE[rid].withdrawn, f"{mutant.name}: {rid}"
            # A MAY is optional: a server that does not offer it is not broken.
            assert CATALOGUE[rid].level is not Level.MAY, f"{mutant.name}: {rid} is a MAY"


def test_catalogue_breaks_every_area() -> None:
    broken = {CATALOGUE[rid].area for mutant in MUTANTS for rid in mutant.breaks}
    assert broken == set(CATALOGUE.areas)


def test_docs_name_every_mutant() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "mutants.md").read_text(encoding="utf-8")
    assert [m.name for m in MUTANTS if f"`{m.name}`" not in text] == []
