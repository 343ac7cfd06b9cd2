"""The variant matrix: the full conformance suite against every legal variant of the reference server.

A variant (reference_impl/variants.py) is a behaviour an honest Stripe-compatible server may show;
the suite must pass it. For each variant and each seed this starts the reference server with the
variant as an external process (harness/server.py names it from Python: no command line can),
runs `spt-conformance run --target FILE --seed S --json REPORT` against it as a separate process,
as against any server we did not write, and prints one row: FAILED and WARNING counts and their
requirement IDs. A baseline row runs the correct server the same way. The summary counts the
false FAILED and WARNING verdicts. Not a test: it prints the figures of docs/variants.md.

    python bench/variant_matrix.py [--seeds 5] [--variants a,b] [--only AREA ...] [--touched] [--jobs 1]
        [--max-wait 10] [--no-baseline]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the harness package sits at the repository's root, outside the wheel

from harness.server import ExternalServer  # noqa: E402
from harness.suite import SuiteRun, read_report  # noqa: E402
from reference_impl.variants import VARIANTS  # noqa: E402

BASELINE = "(correct server)"


@dataclass(frozen=True)
class Task:
    variant: str  # a variant's name, or BASELINE
    seed: int
    only: tuple[str, ...]
    max_wait: float


def run_task(task: Task) -> SuiteRun:
    """One external server with the variant, one `spt-conformance run` process against it."""
    variants = () if task.variant == BASELINE else (task.variant,)
    with ExternalServer(variants) as server, tempfile.TemporaryDirectory(prefix="spt-variant-run-") as tmp:
        target, report = Path(tmp) / "target.yaml", Path(tmp) / "report.json"
        target.write_text(yaml.safe_dump(server.target, sort_keys=False), encoding="utf-8")
        command = [sys.executable, "-m", "conformance.cli", "run", "--target", str(target), "--seed", str(task.seed)]
        command += ["--json", str(report), "--max-wait", str(task.max_wait)]
        command += [arg for area in task.only for arg in ("--only", area)]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        return read_report(report, variants, done.returncode, wall, done.stdout + done.stderr)


def cell(run: SuiteRun) -> str:
    failed, warned = run.with_verdict("FAILED"), run.with_verdict("WARNING")
    if not run.verdicts:
        return f"no report (exit {run.exit_code})"
    ids = " ".join([*sorted(failed), *(f"{r}(W)" for r in sorted(warned))])
    return f"F{len(failed)} W{len(warned)}" + (f"  {ids}" if ids else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 1..N for every variant")
    parser.add_argument("--variants", default="", help="comma-separated variant names (default: every one)")
    parser.add_argument("--only", action="append", default=[], help="restrict the suite (repeatable)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (each is two processes)")
    parser.add_argument("--max-wait", type=float, default=10.0, help="longest wait for time or events, in seconds")
    parser.add_argument("--no-baseline", action="store_true", help="leave out the correct server's rows")
    parser.add_argument("--touched", action="store_true", help="run each variant on the areas it touches only")
    args = parser.parse_args()

    chosen = [name.strip() for name in args.variants.split(",") if name.strip()] or sorted(VARIANTS)
    unknown = sorted(set(chosen) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; see reference_impl/variants.py")
    names = ([] if args.no_baseline else [BASELINE]) + chosen
    tasks = [
        Task(name, seed, _selection(name, args.only, args.touched), args.max_wait)
        for name in names
        for seed in range(1, args.seeds + 1)
    ]
    print(
        f"variant matrix: {len(chosen)} variant(s) x {args.seeds} seed(s), "
        f"{_scope(args.only, args.touched)}, external server per run, "
        f"{args.jobs} job(s); {os.cpu_count()} CPUs, Python {platform.python_version()}",
        flush=True,
    )
    print(f"{'variant':<36}{'seed':>5}{'wall s':>8}  verdicts (F: FAILED, W: WARNING)", flush=True)
    started = time.perf_counter()
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        runs = list(pool.map(lambda task: _row(task, run_task(task)), tasks))
    total = time.perf_counter() - started

    print()
    false_runs = [(t, r) for t, r in zip(tasks, runs, strict=True) if r.with_verdict("FAILED", "WARNING")]
    failed = sorted({f"{t.variant}: {rid}" for t, r in false_runs for rid in r.with_verdict("FAILED")})
    warned = sorted({f"{t.variant}: {rid}" for t, r in false_runs for rid in r.with_verdict("WARNING")})
    print(f"runs: {len(runs)}, with a FAILED or WARNING verdict: {len(false_runs)}; total {total:.0f} s")
    print(f"false FAILED (variant: requirement): {', '.join(failed) if failed else 'none'}")
    print(f"WARNING (variant: requirement): {', '.join(warned) if warned else 'none'}")
    return 1 if failed else 0


def _scope(only: list[str], touched: bool) -> str:
    if touched:
        return "each variant on the areas it touches"
    return f"--only {' '.join(only)}" if only else "full suite"


def _selection(name: str, only: list[str], touched: bool) -> tuple[str, ...]:
    if touched and name in VARIANTS:
        return VARIANTS[name].touches
    return tuple(only)


def _row(task: Task, run: SuiteRun) -> SuiteRun:
    lines = [f"{task.variant:<36}{task.seed:>5}{run.wall_s:>8.1f}  {cell(run)}"]
    lines += [f"{'':<8}{rid}: {message}" for rid, message in sorted(run.messages.items())]
    print("\n".join(lines), flush=True)
    return run


if __name__ == "__main__":
    sys.exit(main())
