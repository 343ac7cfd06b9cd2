"""How long a misconfigured setup takes to be told, and with what: `spt-conformance run` against a
reference server started as a separate process (`spt-conformance serve`), once per
misconfiguration of the issue that motivated `doctor`, `--repeat` times each.

Prints, per case, the median wall time of a fresh `spt-conformance run --target FILE` process
(interpreter start-up included), its exit code and the first line it printed. Target: every case
under 5 s, with exit 2 or 3, before any test runs.

    python bench/bench_doctor.py [--repeat 3]

Not a test: it prints figures for the closing notes of a change.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

CLI = [sys.executable, "-m", "conformance.cli"]
LIMIT_S = 5.0


class _Html(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = b"<!DOCTYPE html><html><body>Welcome</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def html_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def reference_server(directory: Path) -> Iterator[dict[str, Any]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = directory / "served.yaml"
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--db", ":memory:", "--target-out", str(target)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not target.is_file() or not target.read_text(encoding="utf-8").strip():
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("spt-conformance serve did not start")
            time.sleep(0.1)
        time.sleep(0.5)  # the file is written just before the socket listens
        yield yaml.safe_load(target.read_text(encoding="utf-8"))
    finally:
        process.terminate()
        process.wait(timeout=30)


def _same_keys(t: dict[str, Any]) -> None:
    t["seller"]["secret_key"] = t["agent"]["secret_key"]


def _placeholder(t: dict[str, Any]) -> None:
    t["seller"]["network_business_profile"] = "profile_test_..."


def _v1(t: dict[str, Any]) -> None:
    t["base_url"] += "/v1"


def _swapped_profiles(t: dict[str, Any]) -> None:
    t["seller"]["network_business_profile"], t["other_seller"]["network_business_profile"] = (
        t["other_seller"]["network_business_profile"],
        t["seller"]["network_business_profile"],
    )


CASES: dict[str, Callable[[dict[str, Any]], None]] = {
    "same key for seller and agent": _same_keys,
    "profile_test_... left in": _placeholder,
    "base_url ending in /v1": _v1,
    "profiles of the other seller": _swapped_profiles,
}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(target: Path) -> tuple[float, float, int, str]:
    """Wall time, CPU time (what it would take on a machine of its own), exit code, first line."""
    started, cpu = time.perf_counter(), _cpu()
    done = subprocess.run([*CLI, "run", "--target", str(target)], capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - started, _cpu() - cpu
    said = (done.stderr.strip() or done.stdout.strip()).splitlines()
    return wall, cpu, done.returncode, said[0] if said else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} CPUs, load average {load:.1f} at the start; {args.repeat} runs each; medians")
    print(f"{'case':<34}{'wall s':>7}{'cpu s':>7}{'exit':>6}  first line")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp, reference_server(Path(tmp)) as served, html_server() as html:
        cases = dict(CASES)
        cases["a server answering 200 text/html"] = lambda t: t.update(base_url=html)
        for name, change in cases.items():
            data = yaml.safe_load(yaml.safe_dump(served))
            change(data)
            path = Path(tmp) / "target.yaml"
            path.write_text(yaml.safe_dump(data), encoding="utf-8")
            samples = [timed(path) for _ in range(args.repeat)]
            median = statistics.median(s[0] for s in samples)
            cpu = statistics.median(s[1] for s in samples)
            worst = max(worst, median)
            _, _, code, line = samples[-1]
            print(f"{name:<34}{median:>7.2f}{cpu:>7.2f}{code:>6}  {line[:100]}")
    print(f"\nslowest median wall {worst:.2f} s (target < {LIMIT_S:.0f} s on an unloaded machine)")
    return 0 if worst < LIMIT_S else 1


if __name__ == "__main__":
    sys.exit(main())
