"""Expectations about events judged once, after the run's final quiet period, for the test that made them.

"Exactly once" and "nothing for this object" cannot be proved by waiting in each test: a quiet
period per test is most of a run's time. A test registers such a judgement here instead
(`Expectations.add`, usually through `EventLog.expect_count` and `expect_none`), with the
requirement it proves, and goes on. At the end of the run (`conformance.events.EventWatch.close`)
one quiet period lets every late or duplicate event show, then each judgement runs and its
verdict becomes evidence for the test and the requirement that made it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from conformance.violation import Violation

__all__ = ["Arrival", "Expectation", "Expectations", "Judgement", "NotJudged"]

Judgement = Callable[[], "Violation | None"]


class NotJudged(Exception):
    """Raised by a judgement that rests on an arrival that did not happen: that arrival's own
    verdict reports the missing event, and this one gives no evidence either way."""


@dataclass(frozen=True)
class Expectation:
    """A judgement deferred to the end of the run, and whose it is."""

    test: str  # the pytest node id of the test that made it
    requirement: str
    judge: Judgement
    about: str = ""  # what it watches, for the progress line: "spt_… to the agent"


@dataclass(frozen=True)
class Arrival:
    """Events a test expects to reach a role, awaited at the end of the run until `due`."""

    role: str
    event_type: str
    object_id: str
    count: int
    due: float  # on the run's timeline: when the test asked, plus the patience it had then


class Expectations:
    """The run's deferred judgements (one set per pytest process)."""

    def __init__(self) -> None:
        self._items: list[Expectation] = []
        self._lock = threading.Lock()

    def add(self, expectation: Expectation) -> None:
        with self._lock:
            self._items.append(expectation)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def judge(self) -> list[tuple[Expectation, Violation | None]]:
        """Run every judgement made so far (each once) and say what each found."""
        with self._lock:
            items, self._items = self._items, []
        results: list[tuple[Expectation, Violation | None]] = []
        for expectation in items:
            try:
                found = expectation.judge()
            except NotJudged:
                continue
            except Violation as violation:  # reading the events failed in a way a requirement names
                found = violation
            results.append((expectation, found))
        return results
