"""What `spt-conformance run` shows while the tests run, in place of pytest's own output.

On a terminal, one line rewritten in place: done/total, counts, the test running now. In a CI
log (not a terminal), plain lines a person can read afterwards: one per finished test module,
and one every `every` tests within a long module; never a line per test. It never goes quiet:
a heartbeat (a line every `heartbeat` seconds in a log, a redraw on a terminal) says the elapsed
time, tests done of total, what the run is waiting for (`conformance.waiting`) and an ETA.
At the end it says where the time went: requests, waiting for events and for clocks, CPU, as
each test's teardown report carries them (`TIME_PROPERTY`, set by the suite's conftest).

It is a pytest plugin object handed to `pytest.main(plugins=[...])`. Under pytest-xdist the
controller receives every worker's reports, so the same hooks see the whole run.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, TextIO

import pytest

from conformance import waiting
from conformance.ratelimit import projection

__all__ = ["TIME_PROPERTY", "Progress"]

TIME_PROPERTY = "spt_time"  # a teardown report's {kind: seconds} since the previous one of its process


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


class Progress:
    def __init__(
        self,
        stream: TextIO,
        *,
        live: bool,
        every: int = 50,
        width: Callable[[], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
        heartbeat: float = 4.0,  # with the tick below, a log line at least every 4.5 s (the promise: 5 s)
        rate: float | None = None,
    ) -> None:
        self.stream = _beside_capture(stream)
        self.live = live
        self.every = every
        self.width = width or (lambda: shutil.get_terminal_size((100, 24)).columns)
        self.clock = clock
        self.started = clock()
        self.total: int | None = None
        self.done = 0
        self.counts: Counter[str] = Counter()
        self.current = ""
        self.collection_errors: list[str] = []
        self.internal_errors: list[str] = []
        self.interrupted = False
        self._stopped: set[str] = set()  # tests Ctrl-C interrupted: neither passed nor failed
        self._outcome: dict[str, str] = {}
        self._remaining: Counter[str] = Counter()  # module → tests not finished yet
        self._finished: dict[str, Counter[str]] = {}  # module → outcome counts
        self._last_line_at = 0
        self._drawn = False
        self.heartbeat = heartbeat
        self.rate = rate  # the requests per second the run is limited to, if any
        self.split: Counter[str] = Counter()  # where the time went, by kind, summed over workers
        self._running: dict[str, float] = {}  # node id -> when it started
        self._said_at = clock()
        self._out = threading.Lock()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    # -- collection -------------------------------------------------------------------------

    def _collected(self, nodeids: Iterable[str]) -> None:
        if self.total is not None:
            return  # under xdist every worker reports the same collection
        ids = list(nodeids)
        self.total = len(ids)
        self._remaining = Counter(_module(n) for n in ids)
        self._say(f"collected {self.total} tests in {len(self._remaining)} modules")
        if self.rate:
            self._say(projection(self.total, self.rate))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not hasattr(session.config, "workerinput") and session.items:
            self._collected(item.nodeid for item in session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self._collected(ids)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid or 'collection'}:\n{report.longreprtext}")

    # -- tests ------------------------------------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if hasattr(session.config, "workerinput") or self.heartbeat <= 0:
            return
        self._beat = threading.Thread(target=self._beating, name="spt-progress", daemon=True)
        self._beat.start()

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.current = nodeid
        self._running[nodeid] = self.clock()
        if self.live:
            self._draw()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        if report.failed and _by_interrupt(report):
            # Ctrl-C stopped this test (in a worker, or caught and re-raised by a library): it
            # has no outcome, and the run has no verdict.
            self.interrupted = True
            self._stopped.add(nodeid)
        if nodeid in self._stopped:
            return
        previous = self._outcome.get(nodeid)
        if report.failed:
            self._outcome[nodeid] = "failed"
        elif report.skipped and previous is None:
            self._outcome[nodeid] = "skipped"
        elif report.passed and report.when == "call" and previous is None:
            self._outcome[nodeid] = "passed"
        for name, value in getattr(report, "user_properties", ()):
            if name == TIME_PROPERTY and isinstance(value, dict):
                self.split.update({str(k): float(v) for k, v in value.items()})
        # A test is done at its teardown; a crashed xdist worker reports its test as "???".
        if report.when in ("teardown", "???"):
            self._running.pop(nodeid, None)
            self._finish(nodeid, self._outcome.get(nodeid, "failed"))

    def _finish(self, nodeid: str, outcome: str) -> None:
        self.done += 1
        self.counts[outcome] += 1
        module = _module(nodeid)
        self._finished.setdefault(module, Counter())[outcome] += 1
        self._remaining[module] -= 1
        if self.live:
            self._draw()
        elif self.total is not None and self._remaining[module] <= 0:
            counts = self._finished.pop(module)
            self._say(f"{self._position()} {module}: {self._counts(counts)}")
            self._last_line_at = self.done
        elif self.done - self._last_line_at >= self.every:
            self._say(f"{self._position()} {self._counts(self.counts)}")
            self._last_line_at = self.done

    # -- the end ----------------------------------------------------------------------------

    def pytest_internalerror(self, excrepr: Any, excinfo: Any) -> None:
        self.internal_errors.append(str(excrepr))

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        self.interrupted = True

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(session.config, "workerinput"):
            return
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=2)
        self._clear()
        elapsed = self.clock() - self.started
        self._say(f"ran {self.done} tests in {elapsed:.1f} s: {self._counts(self.counts)}")
        if self.split:
            self._say(f"time: {self.time_split()}")

    def time_split(self) -> str:
        """Where the time went, e.g. "requests 12.1 s, waiting for events 3.0 s, … CPU 9.8 s"."""
        names = (
            ("requests", "requests"),
            (waiting.EVENTS, "waiting for events"),
            (waiting.CLOCKS, "waiting for clocks"),
        )
        parts = [f"{label} {self.split.get(kind, 0.0):.1f} s" for kind, label in names]
        parts.append(f"CPU {self.split.get('cpu', 0.0):.1f} s")
        return ", ".join(parts) + " (summed over tests and workers; requests may overlap)"

    # -- the heartbeat ----------------------------------------------------------------------

    def _beating(self) -> None:
        tick = min(0.5, self.heartbeat)
        while not self._stop.wait(tick):
            if self.live:
                self._draw()
            elif self.clock() - self._said_at >= self.heartbeat:
                self._say(self.status())

    def status(self) -> str:
        """Elapsed, done of total, what is waited for (or running), and an ETA."""
        now = self.clock()
        elapsed = now - self.started
        line = f"{self._position()} {_duration(elapsed)} elapsed"
        if self.total and self.done:
            line += f", ETA {_duration(elapsed / self.done * (self.total - self.done))}"
        waits = waiting.current()
        if waits:
            line += "; " + waits[-1] + (f" (+{len(waits) - 1} more)" if len(waits) > 1 else "")
        elif self._running:
            nodeid, since = min(self._running.items(), key=lambda item: item[1])
            line += f"; running {nodeid.rsplit('/', 1)[-1]} for {_duration(now - since)}"
            if len(self._running) > 1:
                line += f" (+{len(self._running) - 1} more)"
        return line

    # -- output -----------------------------------------------------------------------------

    def _position(self) -> str:
        total = self.total if self.total is not None else "?"
        width = len(str(total))
        return f"[{self.done:>{width}}/{total}]"

    @staticmethod
    def _counts(counts: Counter[str]) -> str:
        parts = [f"{counts[k]} {k}" for k in ("passed", "failed", "skipped") if counts[k]]
        return ", ".join(parts) or "nothing run"

    def _say(self, line: str) -> None:
        with self._out:
            self._clear()
            self.stream.write(line + "\n")
            self.stream.flush()
            self._said_at = self.clock()

    def _draw(self) -> None:
        line = f"{self._position()} {self._counts(self.counts)}"
        waits = waiting.current()
        if waits:
            line += f"  {_duration(self.clock() - self.started)}; {waits[-1]}"
        elif self.current:
            line += f"  {self.current.rsplit('/', 1)[-1]}"  # the module's directory is the same for all
        width = max(self.width() - 1, 20)
        if len(line) > width:
            line = line[: width - 1] + "…"
        with self._out:
            self.stream.write("\r\x1b[K" + line)
            self.stream.flush()
            self._drawn = True

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self._drawn = False


def _beside_capture(stream: TextIO) -> TextIO:
    """`stream` on a file descriptor of its own: pytest redirects descriptors 1 and 2 while a
    test runs, and a heartbeat written then would land in the test's captured output."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return stream  # not a file (a StringIO in tests): nothing redirects it
    return open(os.dup(fd), "w", encoding=getattr(stream, "encoding", None) or "utf-8", closefd=True)


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def _by_interrupt(report: pytest.TestReport) -> bool:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = str(getattr(crash, "message", "") or "")
    return message.startswith("KeyboardInterrupt") or "KeyboardInterrupt" in str(report.longrepr)[-400:]
