"""How long `spt-conformance replay` takes on the shipped recording, and how big the recording is.

Replays `cassettes/reference/` (or DIR) `--repeat` times (default 3), each in a fresh
`spt-conformance replay` process as a user would run it, and prints the median wall time, whether
every replay reproduced the recorded verdicts, and the recording's size on disk (files, bytes,
and bytes once gzip-compressed, roughly what git stores). Target: under 10 s.

    python bench/bench_replay.py [--repeat 3] [DIR]

Not a test: it prints figures for the README and the closing notes of a change.
"""

from __future__ import annotations

import argparse
import gzip
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 10.0


def size(directory: Path) -> tuple[int, int, int]:
    """(files, bytes, gzip-compressed bytes) of every file under `directory`."""
    files = [p for p in directory.rglob("*") if p.is_file()]
    raw = sum(p.stat().st_size for p in files)
    packed = sum(len(gzip.compress(p.read_bytes(), 6)) for p in files)
    return len(files), raw, packed


def one_replay(directory: Path) -> tuple[float, int, str]:
    command = [sys.executable, "-m", "conformance.cli", "replay", str(directory)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    verdicts = next((line for line in done.stdout.splitlines() if line.startswith("Replay:")), done.stderr[-500:])
    return wall, done.returncode, verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", type=Path, default=None, help="a recording (default: the shipped one)")
    parser.add_argument("--repeat", type=int, default=3, help="replays (median reported)")
    args = parser.parse_args()
    if args.directory is None:
        from conformance.resources import cassettes_dir

        args.directory = cassettes_dir() / "reference"
    files, raw, packed = size(args.directory)
    print(f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}")
    print(
        f"recording: {args.directory}: {files} files, {raw / 1e6:.2f} MB on disk, {packed / 1e6:.2f} MB gzip-compressed"
    )
    walls = []
    for number in range(1, args.repeat + 1):
        wall, code, verdicts = one_replay(args.directory)
        walls.append(wall)
        print(f"replay {number}: {wall:.2f} s, exit {code}: {verdicts}")
    median = statistics.median(walls)
    print(f"median replay wall time: {median:.2f} s (target < {TARGET_S:g} s): {'OK' if median < TARGET_S else 'SLOW'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
