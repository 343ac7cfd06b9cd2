"""How long `spt-conformance run` takes against the bundled reference server, and how much it says.

Runs the full suite and the `--quick` profile, each serially and with `-n 2`, `--repeat` times
(default 3, each with its own seed), exactly as a user would (a fresh `spt-conformance run`
process, embedded server included), and prints the median wall time, the number of tests and
HTTP exchanges per run, and whether every run passed. Targets: full < 60 s, quick < 10 s.

    python bench/bench_suite.py [--repeat 3] [--only-quick]

Not a test: it prints figures for the README and the closing notes of a change.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TARGETS = {"full": 60.0, "quick": 10.0}


@dataclass(frozen=True)
class Sample:
    wall_s: float
    session_s: float
    tests: int
    exchanges: int
    exit_code: int
    failed: tuple[str, ...]  # the requirements that FAILED, so a flaky run says what flaked


def one_run(profile: str, workers: int, seed: int, directory: Path) -> Sample:
    report = directory / f"{profile}-{workers}-{seed}.json"
    command = [sys.executable, "-m", "conformance.cli", "run", "--seed", str(seed), "--json", str(report)]
    if profile == "quick":
        command.append("--quick")
    if workers:
        command += ["-n", str(workers)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=directory, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if not report.exists():
        sys.stderr.write(done.stdout[-2000:] + done.stderr[-2000:])
        return Sample(wall, 0.0, 0, 0, done.returncode, ())
    data = json.loads(report.read_text(encoding="utf-8"))
    failed = tuple(r["id"] for r in data["requirements"] if r["verdict"] == "FAILED")
    return Sample(wall, data["duration_s"], data["tests"]["total"], data["exchanges"], done.returncode, failed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration (median reported)")
    parser.add_argument("--only-quick", action="store_true", help="bench only the --quick profile")
    args = parser.parse_args()
    profiles = ["quick"] if args.only_quick else ["full", "quick"]
    print(f"spt-conformance bench: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}")
    print(
        f"{'profile':<8}{'workers':>8}{'wall s (median)':>17}{'min':>7}{'max':>7}{'session s':>11}"
        f"{'tests':>7}{'exchanges':>11}  runs"
    )
    all_passed = True
    with tempfile.TemporaryDirectory(prefix="spt-bench-") as tmp:
        for profile in profiles:
            for workers in (0, 2):
                samples = [one_run(profile, workers, seed, Path(tmp)) for seed in range(1, args.repeat + 1)]
                walls = [s.wall_s for s in samples]
                median = statistics.median(walls)
                codes = [s.exit_code for s in samples]
                all_passed &= all(code == 0 for code in codes)
                failed = sorted({f"{r} (seed {seed})" for seed, s in enumerate(samples, 1) for r in s.failed})
                verdict = "all exit 0" if all(c == 0 for c in codes) else f"exit codes {codes}"
                if failed:
                    verdict += f"; FAILED: {', '.join(failed)}"
                flag = "" if median < TARGETS[profile] else f"  (over the {TARGETS[profile]:.0f} s target)"
                print(
                    f"{profile:<8}{workers or '-':>8}{median:>17.1f}{min(walls):>7.1f}{max(walls):>7.1f}"
                    f"{statistics.median(s.session_s for s in samples):>11.1f}"
                    f"{samples[0].tests:>7}{statistics.median(s.exchanges for s in samples):>11.0f}  {verdict}{flag}",
                    flush=True,
                )
    return 0 if all_passed else 1


if __name__ == "__main__":
    sys.exit(main())
