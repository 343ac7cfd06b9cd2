"""What `spt-conformance run` shows while the tests run, in place of pytest's own output.

On a terminal, one line rewritten in place: done/total, counts, the test running now. In a CI
log (not a terminal), plain lines a person can read afterwards: one per finished test module,
and one every `every` tests within a long module; never a line per test.

It is a pytest plugin object handed to `pytest.main(plugins=[...])`. Under pytest-xdist the
controller receives every worker's reports, so the same hooks see the whole run.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, TextIO

import pytest

__all__ = ["Progress"]


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
    ) -> None:
        self.stream = stream
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

    # -- collection -------------------------------------------------------------------------

    def _collected(self, nodeids: Iterable[str]) -> None:
        if self.total is not None:
            return  # under xdist every worker reports the same collection
        ids = list(nodeids)
        self.total = len(ids)
        self._remaining = Counter(_module(n) for n in ids)
        self._say(f"collected {self.total} tests in {len(self._remaining)} modules")

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

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.current = nodeid
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
        # A test is done at its teardown; a crashed xdist worker reports its test as "???".
        if report.when in ("teardown", "???"):
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
        self._clear()
        elapsed = self.clock() - self.started
        self._say(f"ran {self.done} tests in {elapsed:.1f} s: {self._counts(self.counts)}")

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
        self._clear()
        self.stream.write(line + "\n")
        self.stream.flush()

    def _draw(self) -> None:
        line = f"{self._position()} {self._counts(self.counts)}"
        if self.current:
            line += f"  {self.current.rsplit('/', 1)[-1]}"  # the module's directory is the same for all
        width = max(self.width() - 1, 20)
        if len(line) > width:
            line = line[: width - 1] + "…"
        self.stream.write("\r\x1b[K" + line)
        self.stream.flush()
        self._drawn = True

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self._drawn = False


def _by_interrupt(report: pytest.TestReport) -> bool:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = str(getattr(crash, "message", "") or "")
    return message.startswith("KeyboardInterrupt") or "KeyboardInterrupt" in str(report.longrepr)[-400:]
