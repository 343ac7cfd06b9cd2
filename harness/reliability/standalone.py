"""The standalone server as a child process: `python -m reference_impl --db FILE`.

Started on a free port with the background work made quick (`FAST`); it is ready when it prints
`listening on URL`. Its stderr goes to a file, never to a pipe nobody reads (a chatty server
would block on a full pipe). `kill()` is SIGKILL: no shutdown code runs, as in a crash.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

__all__ = ["FAST", "ROOT", "Process"]

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--webhook-backoff", "0.05", "--webhook-backoff-cap", "0.2", "--sweep-interval", "0.1"]


class Process:
    def __init__(self, db: Path, target: Path, *extra: str, log: Path | None = None) -> None:
        self.log = log or target.with_suffix(".log")
        self.began = time.monotonic()
        with self.log.open("ab") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "reference_impl", "--db", str(db), "--port", "0",
                 "--target-out", str(target), *FAST, *extra],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True,
            )  # fmt: skip
        assert self.proc.stdout is not None
        self.lines: list[str] = []
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.startswith("listening on "):
                self.url = line.split()[-1]
                break
        else:
            self.proc.wait(timeout=10)
            raise AssertionError(f"server did not start: {self.lines} {self.log_text()}")
        self.listening = time.monotonic()
        self.target: dict[str, Any] = yaml.safe_load(target.read_text(encoding="utf-8"))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def key(self, role: str) -> str:
        return str(self.target[role]["secret_key"])

    def client(self, role: str, timeout: float = 10) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(self.key(role), ""), timeout=timeout)

    def rss(self) -> int:
        """Resident memory of the server process, in bytes (Linux /proc)."""
        for line in Path(f"/proc/{self.pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no VmRSS for process {self.pid}")

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate(timeout=10)

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        self.proc.communicate(timeout=10)
        return self.proc.returncode
