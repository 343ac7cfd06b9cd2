"""How long a certification takes, in every configuration of the speed goals, and where the time goes.

Each row is `spt-conformance run` in a fresh process, exactly as a user runs it, `--repeat`
times (default 3, seeds 1, 2, 3), and shows the median wall time (min and max beside it), the
tests and HTTP exchanges, the run's own time split (requests, waiting for events, waiting for
clocks, CPU) and whether every run passed. The rows:

  in-process        no target: the bundled reference server in the suite's process
  external          the reference server as another process (`spt-conformance serve`)
  external+delay    the same, its webhooks delivered 1 s after their event
  external+drop     the same, delivering no event at all (a broken server: it must fail, and
                    costs at most 1.5x a correct one)
  replay            `spt-conformance replay cassettes/reference`

with the full profile and `--quick`. The machine may be shared: medians, and say so.

    python bench/bench_suite.py [--repeat 3] [--rows external,external+delay]
    python bench/bench_suite.py --flakes 20 [--rows in-process,external]   # consecutive full runs

Not a test: it prints figures for the README and the closing notes of a change.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _external import external_server

GOALS = {
    ("in-process", "full"): 15.0,
    ("external", "full"): 30.0,
    ("external+delay", "full"): 45.0,
    ("external", "quick"): 10.0,
    ("replay", "full"): 5.0,
}
ROWS = ("in-process", "external", "external+delay", "external+drop", "replay")


@dataclass(frozen=True)
class Sample:
    wall_s: float
    tests: int
    exchanges: int
    exit_code: int
    failed: tuple[str, ...]
    split: str  # the run's "time: …" line
    silent_s: float  # the longest gap between two lines of its output


@contextlib.contextmanager
def _target(row: str, directory: Path) -> Iterator[Path | None]:
    if row == "in-process":
        yield None
        return
    with external_server(directory, delay=1.0 if row == "external+delay" else 0.0, drop=row == "external+drop") as t:
        yield t


def _watched(command: list[str], cwd: Path) -> tuple[int, str, float, float]:
    """Run `command`; return its exit code, output, wall time and longest silence."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert child.stdout is not None
    lines, last, silent = [], started, 0.0
    for line in child.stdout:
        now = time.perf_counter()
        silent, last = max(silent, now - last), now
        lines.append(line)
    code = child.wait()
    wall = time.perf_counter() - started
    return code, "".join(lines), wall, max(silent, wall - (last - started) if not lines else silent)


def one_run(row: str, profile: str, seed: int, directory: Path) -> Sample:
    if row == "replay":
        from conformance.resources import cassettes_dir

        command = [sys.executable, "-m", "conformance.cli", "replay", str(cassettes_dir() / "reference")]
        code, output, wall, silent = _watched(command, directory)
        return Sample(wall, 0, 0, code, (), _split(output), silent)
    report = directory / f"{row}-{profile}-{seed}.json"
    with _target(row, directory) as target:
        command = [sys.executable, "-m", "conformance.cli", "run", "--seed", str(seed), "--json", str(report)]
        if target is not None:
            command += ["--target", str(target)]
        if profile == "quick":
            command.append("--quick")
        code, output, wall, silent = _watched(command, directory)
    if not report.exists():
        sys.stderr.write(output[-2000:])
        return Sample(wall, 0, 0, code, (), "", silent)
    data = json.loads(report.read_text(encoding="utf-8"))
    failed = tuple(r["id"] for r in data["requirements"] if r["verdict"] == "FAILED")
    return Sample(wall, data["tests"]["total"], data["exchanges"], code, failed, _split(output), silent)


def _split(output: str) -> str:
    found = re.findall(r"^time: (.*?)(?: \(summed.*)?$", output, re.MULTILINE)
    return found[-1] if found else ""


def flakes(rows: list[str], runs: int) -> int:
    """`runs` consecutive full runs per row (seeds 1..runs): how many failed, and which requirements."""
    bad = 0
    with tempfile.TemporaryDirectory(prefix="spt-flakes-") as tmp:
        for row in rows:
            failed: list[str] = []
            for seed in range(1, runs + 1):
                sample = one_run(row, "full", seed, Path(tmp))
                if sample.exit_code != 0:
                    failed.append(f"seed {seed}: exit {sample.exit_code} {' '.join(sample.failed)}")
                print(
                    f"{row} run {seed}/{runs}: {sample.wall_s:.1f} s, exit {sample.exit_code} {' '.join(sample.failed)}",
                    flush=True,
                )
            bad += len(failed)
            print(
                f"{row}: {runs - len(failed)} of {runs} full runs passed" + (f"; {'; '.join(failed)}" if failed else "")
            )
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per row (median reported)")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, of {', '.join(ROWS)}")
    parser.add_argument("--profiles", default="full,quick", help="comma-separated, of full, quick (default both)")
    parser.add_argument(
        "--flakes", type=int, default=0, metavar="N", help="instead: N full runs per row, count failures"
    )
    args = parser.parse_args()
    if args.flakes:
        return flakes([r for r in args.rows.split(",") if r in ("in-process", "external")], args.flakes)
    rows = [r for r in args.rows.split(",") if r]
    profiles = [p for p in args.profiles.split(",") if p]
    unknown = [name for name in (*rows, *profiles) if name not in (*ROWS, "full", "quick")]
    if unknown:
        parser.error(f"unknown row or profile: {', '.join(unknown)}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    import conformance

    # An editable install costs each run about a second more: Hypothesis reads the constants of
    # every module outside site-packages. Users run `pip install .`; measure that.
    installed = "site-packages" in conformance.__file__
    print(
        f"spt-conformance bench: {os.cpu_count()} CPUs (load {load:.1f} at start), Python {platform.python_version()}, "
        + ("installed as `pip install .` makes it" if installed else "an editable install (about 1 s more per run)")
    )
    print(
        f"{'row':<16}{'profile':<8}{'median s':>9}{'min':>7}{'max':>7}{'goal':>7}{'tests':>7}{'exch':>7}"
        f"{'silent':>8}  outcome; time split of the median run"
    )
    medians: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="spt-bench-") as tmp:
        for row in rows:
            for profile in profiles if row != "replay" else ["full"]:
                samples = [one_run(row, profile, seed, Path(tmp)) for seed in range(1, args.repeat + 1)]
                walls = [s.wall_s for s in samples]
                median = statistics.median(walls)
                medians[(row, profile)] = median
                middle = sorted(samples, key=lambda s: s.wall_s)[len(samples) // 2]
                codes = sorted({s.exit_code for s in samples})
                failed = sorted({f for s in samples for f in s.failed})
                outcome = f"exit {codes}" + (
                    f", FAILED {' '.join(failed[:6])}{' …' if len(failed) > 6 else ''}" if failed else ""
                )
                goal = GOALS.get((row, profile))
                print(
                    f"{row:<16}{profile:<8}{median:>9.1f}{min(walls):>7.1f}{max(walls):>7.1f}"
                    f"{(f'<{goal:g}' if goal else '-'):>7}{middle.tests:>7}{middle.exchanges:>7}"
                    f"{max(s.silent_s for s in samples):>7.1f}s  {outcome}; {middle.split or '-'}",
                    flush=True,
                )
    for profile in profiles:
        broken = medians.get(("external+drop", profile))
        for row, which in (("external", "a correct one"), ("external+delay", "a correct one whose webhooks take 1 s")):
            correct = medians.get((row, profile))
            if broken and correct:
                print(f"a server that delivers no event, {profile}: {broken / correct:.2f}x {which} (goal < 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
