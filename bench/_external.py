"""The reference server as another process, as a user starts it (`spt-conformance serve`), for the benches.

Optionally its webhook deliveries leave `delay` seconds after their event (a realistic, slower
server) or never leave at all (a server that drops every event). Both go through a Python-only
seam in the child process, replacing how the server queues a delivery: no option of the server
names them.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["external_server"]

_LAUNCH = """
import sys
from reference_impl import events, serve
from reference_impl.objects import Delivery
mode, value = sys.argv[1], float(sys.argv[2])
if mode != "correct":
    def queued(id, event, endpoint, state, attempts, next_attempt_at, *rest):
        if mode == "delay":
            next_attempt_at += value
        else:
            state = "failed"
        return Delivery(id, event, endpoint, state, attempts, next_attempt_at, *rest)
    events.Delivery = queued
sys.exit(serve.main(sys.argv[3:]))
"""


@contextlib.contextmanager
def external_server(directory: Path, *, delay: float = 0.0, drop: bool = False) -> Iterator[Path]:
    """Start the server in a child process; yield the target file it wrote; stop it."""
    target = directory / f"target-{time.monotonic_ns()}.yaml"
    mode = "drop" if drop else "delay" if delay else "correct"
    command = [sys.executable, "-c", _LAUNCH, mode, str(delay), "--port", "0", "--db", ":memory:"]
    command += ["--target-out", str(target)]
    log = directory / f"{target.stem}.log"
    with log.open("w") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while "listening on" not in log.read_text(encoding="utf-8", errors="replace"):
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the reference server did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)
        yield target
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
