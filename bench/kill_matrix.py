"""The kill matrix: the full conformance suite against every mutant of the reference server.

A mutant is the bundled reference server started with one deliberate bug of
reference_impl/faults.py; tests/mutants/mutants.yaml says which requirements each must break.
This runs the whole suite (no --only; with `--quick`, the smoke profile) once against each mutant,
and `--seeds` times against the correct server, and prints a table: each run's verdict (killed when every requirement
the catalogue names is reported broken), the requirements it failed (* expected, the others are
extras), and its wall time; then the summary: mutants killed, false failures of the correct
server across seeds, the median wall time of a run.

    python bench/kill_matrix.py [--seeds 5] [--mutants a,b] [--seed 1] [--max-wait 3] [--jobs 1] [--quick]

Runs are made in this process, one after another, as `spt-conformance run` makes them (the
server is the bundled one, with its fault); `--jobs N` spreads them over N processes, which
makes the total shorter and each wall time longer. `--max-wait` bounds the wait for an event
that a mutant never sends (the suite's default, 30 s, would make those runs minutes long; the
bundled server delivers in milliseconds). Not a test: it prints figures for docs/mutants.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the harness package sits at the repository's root, outside the wheel

from conformance.catalog import Catalogue  # noqa: E402
from conformance.spec import default_spec  # noqa: E402
from harness.mutants import Mutant, broken_verdict, load_mutants  # noqa: E402
from harness.suite import SuiteRun, run_suite  # noqa: E402

BROKEN = ("FAILED", "WARNING")


@dataclass(frozen=True)
class Task:
    label: str  # the mutant's name, or "correct server"
    faults: tuple[str, ...]
    seed: int
    max_wait: float
    quick: bool = False


def run_task(task: Task) -> SuiteRun:
    return run_suite(task.faults, seed=task.seed, max_wait=task.max_wait, quick=task.quick)


def failed_ids(run: SuiteRun, expected: Sequence[str], catalogue: Catalogue) -> str:
    """The broken requirements, expected first (marked *), a SHOULD's WARNING marked (W)."""
    broken = run.with_verdict(*BROKEN)
    ordered = [r for r in expected if r in broken] + sorted(r for r in broken if r not in expected)
    shown = [f"{r}{'*' if r in expected else ''}{'(W)' if run.verdicts[r] == 'WARNING' else ''}" for r in ordered]
    missing = [r for r in expected if run.verdicts.get(r) != broken_verdict(catalogue[r].level)]
    if missing:
        shown.append(f"[missed: {' '.join(missing)}]")
    return " ".join(shown) or "-"


def outcome(run: SuiteRun, mutant: Mutant, catalogue: Catalogue) -> str:
    broken = run.with_verdict(*BROKEN)
    if all(run.verdicts.get(r) == broken_verdict(catalogue[r].level) for r in mutant.breaks):
        return "killed"
    return "killed (other)" if broken else "SURVIVED"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="full runs against the correct server (seeds 1..N)")
    parser.add_argument("--mutants", default="", help="comma-separated fault names (default: every one)")
    parser.add_argument("--seed", type=int, default=1, help="the seed of the mutant runs")
    parser.add_argument("--max-wait", type=float, default=3.0, help="longest wait for an event, in seconds")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, each in its own process")
    parser.add_argument("--quick", action="store_true", help="the smoke profile (--quick) instead of the full suite")
    args = parser.parse_args()

    catalogue = default_spec().catalogue
    mutants = {m.name: m for m in load_mutants()}
    chosen = [name.strip() for name in args.mutants.split(",") if name.strip()] or list(mutants)
    unknown = sorted(set(chosen) - set(mutants))
    if unknown:
        parser.error(f"unknown mutant(s) {', '.join(unknown)}; see tests/mutants/mutants.yaml")
    tasks = [Task("correct server", (), seed, args.max_wait, args.quick) for seed in range(1, args.seeds + 1)]
    tasks += [Task(name, (name,), args.seed, args.max_wait, args.quick) for name in chosen]

    print(
        f"kill matrix: {len(chosen)} mutant(s), the correct server x {args.seeds} seed(s), "
        f"{'--quick' if args.quick else 'full'} suite, "
        f"max-wait {args.max_wait:g} s, {args.jobs} job(s); {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {platform.platform()}",
        flush=True,
    )
    print(f"{'run':<38}{'seed':>5}  {'outcome':<15}{'wall s':>7}  failed requirements (* expected)", flush=True)
    started = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            runs = list(pool.map(run_task, tasks))
    else:
        runs = []
        for task in tasks:
            runs.append(run_task(task))
            _print_row(task, runs[-1], mutants, catalogue)
    if args.jobs > 1:
        for task, run in zip(tasks, runs, strict=True):
            _print_row(task, run, mutants, catalogue)
    total = time.perf_counter() - started

    correct = [(t, r) for t, r in zip(tasks, runs, strict=True) if not t.faults]
    judged = [(mutants[t.label], r) for t, r in zip(tasks, runs, strict=True) if t.faults]
    outcomes = [outcome(r, m, catalogue) for m, r in judged]
    false = sorted({f"{rid} (seed {t.seed})" for t, r in correct for rid in r.with_verdict(*BROKEN)})
    mutant_walls = [r.wall_s for _, r in judged]
    print()
    print(
        f"mutants killed: {outcomes.count('killed')}/{len(judged)} with every expected requirement, "
        f"{outcomes.count('killed (other)')} by other requirements only, {outcomes.count('SURVIVED')} survived"
    )
    print(
        f"correct server: {sum(r.exit_code == 0 for _, r in correct)}/{len(correct)} runs exit 0; "
        f"false failures: {', '.join(false) if false else 'none'}"
    )
    if mutant_walls:
        print(
            f"wall time per mutant run: median {statistics.median(mutant_walls):.1f} s, max {max(mutant_walls):.1f} s"
        )
    if correct:
        walls = [r.wall_s for _, r in correct]
        print(f"wall time per correct run: median {statistics.median(walls):.1f} s")
    print(f"total {total:.0f} s")
    return 0 if outcomes.count("killed") == len(judged) and not false else 1


def _print_row(task: Task, run: SuiteRun, mutants: dict[str, Mutant], catalogue: Catalogue) -> None:
    if task.faults:
        mutant = mutants[task.label]
        verdict, failed = outcome(run, mutant, catalogue), failed_ids(run, mutant.breaks, catalogue)
    else:
        verdict = "passed" if run.exit_code == 0 and not run.with_verdict(*BROKEN) else "FALSE FAILURE"
        failed = failed_ids(run, (), catalogue)
    print(f"{task.label:<38}{task.seed:>5}  {verdict:<15}{run.wall_s:>7.1f}  {failed}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
