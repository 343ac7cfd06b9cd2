"""Progress that never goes quiet: the heartbeat line, what it names, the time split, the rate projection."""

from __future__ import annotations

import io
import threading
import time

from conformance import waiting
from conformance.progress import TIME_PROPERTY, Progress
from conformance.ratelimit import RateLimiter, projection, requests_per_test


class _Report:
    def __init__(self, nodeid: str, when: str, outcome: str = "passed", **split: float) -> None:
        self.nodeid, self.when, self.outcome = nodeid, when, outcome
        self.passed, self.failed, self.skipped = outcome == "passed", outcome == "failed", outcome == "skipped"
        self.user_properties = [(TIME_PROPERTY, split)] if split else []


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_status_names_the_wait_the_elapsed_time_and_an_eta() -> None:
    clock = _Clock()
    progress = Progress(io.StringIO(), live=False, clock=clock, heartbeat=0)
    progress._collected([f"m.py::t{i}" for i in range(4)])
    progress.pytest_runtest_logstart("m.py::t0", None)
    for when in ("setup", "call", "teardown"):
        progress.pytest_runtest_logreport(_Report("m.py::t0", when))  # type: ignore[arg-type]
    progress.pytest_runtest_logstart("m.py::t1", None)
    clock.now += 20
    assert progress.status() == "[1/4] 20 s elapsed, ETA 1 min 00 s; running m.py::t1 for 20 s"
    with waiting.waiting(waiting.EVENTS, "waiting up to 30 s for shared_payment.issued_token.deactivated to agent"):
        assert progress.status().endswith("; waiting up to 30 s for shared_payment.issued_token.deactivated to agent")
    clock.now += 100
    assert progress.status().startswith("[1/4] 2 min 00 s elapsed, ETA 6 min 00 s")


def test_progress_heartbeat_writes_a_line_while_nothing_else_is_said() -> None:
    out = io.StringIO()
    progress = Progress(out, live=False, heartbeat=0.05)

    class _Session:
        class config:
            pass

    progress.pytest_sessionstart(_Session())  # type: ignore[arg-type]
    done = threading.Event()
    with waiting.waiting(waiting.EVENTS, "waiting for the test"):
        done.wait(0.5)
    progress._stop.set()
    assert progress._beat is not None
    progress._beat.join()
    beats = [line for line in out.getvalue().splitlines() if "waiting for the test" in line]
    assert len(beats) >= 2
    assert all("elapsed" in line for line in beats)


def test_progress_sums_the_time_split_of_every_teardown_report() -> None:
    progress = Progress(io.StringIO(), live=False, heartbeat=0)
    progress._collected(["m.py::a", "m.py::b"])
    progress.pytest_runtest_logreport(_Report("m.py::a", "teardown", requests=1.5, events=2.0, cpu=0.5))  # type: ignore[arg-type]
    progress.pytest_runtest_logreport(_Report("m.py::b", "teardown", requests=0.5, clocks=3.0, cpu=1.0))  # type: ignore[arg-type]
    assert progress.time_split().startswith(
        "requests 2.0 s, waiting for events 2.0 s, waiting for clocks 3.0 s, CPU 1.5 s"
    )


def test_waiting_counts_time_by_kind_and_forgets_finished_waits() -> None:
    before = waiting.spent().get(waiting.CLOCKS, 0.0)
    with waiting.waiting(waiting.CLOCKS, "a short wait"):
        assert "a short wait" in waiting.current()
        time.sleep(0.02)
    assert "a short wait" not in waiting.current()
    assert waiting.spent()[waiting.CLOCKS] - before >= 0.02


def test_virtual_time_moves_only_when_paused() -> None:
    timeline = waiting.VirtualTime()
    start = timeline.now()
    began = time.monotonic()
    timeline.sleep(30)
    assert timeline.now() - start == 30
    assert time.monotonic() - began < 1


def test_rate_projection_is_printed_with_the_requests_it_expects() -> None:
    per_test = requests_per_test()
    assert per_test > 1
    line = projection(100, 20.0)
    assert f"about {round(100 * per_test)} requests for 100 tests" in line
    assert "at most 20 requests/s" in line


def test_rate_limiter_never_lets_more_than_25_requests_into_one_second() -> None:
    limiter = RateLimiter(20.0)
    stamps = []
    began = time.monotonic()
    while time.monotonic() - began < 1.3:
        limiter.acquire()
        stamps.append(time.monotonic())
    busiest = max(sum(1 for t in stamps if start <= t < start + 1.0) for start in stamps)
    assert busiest <= 25
