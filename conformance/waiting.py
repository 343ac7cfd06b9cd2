"""How the suite waits: on real or virtual time, saying what for, and counting where time went.

A live run waits on the real clock; a replay hands the event log a `VirtualTime`, on which a
pause adds to a counter instead of sleeping. Every wait worth telling a person about goes
through `waiting(kind, what)`: while it lasts, `current()` names it (the progress line shows
it: "waiting up to 30 s for shared_payment.issued_token.deactivated to agent"), and when it
ends its duration is added to the process's split by kind (events, clocks), which the run's
summary prints beside the time spent in requests and on the CPU.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Iterator
from typing import Protocol

__all__ = ["CLOCKS", "EVENTS", "RealTime", "Timeline", "VirtualTime", "current", "spent", "waiting"]

EVENTS, CLOCKS = "events", "clocks"


class Timeline(Protocol):
    """Where waiting happens: `now()` in seconds, and a pause of up to `seconds`."""

    @property
    def virtual(self) -> bool: ...

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class RealTime:
    """The monotonic clock; a pause sleeps."""

    virtual = False

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class VirtualTime:
    """Time that passes only when paused: a replay waits for nothing."""

    virtual = True

    def __init__(self) -> None:
        self._now = time.monotonic()

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        self._now += max(seconds, 0.001)


_lock = threading.Lock()
_spent: dict[str, float] = {}
_current: dict[int, str] = {}  # wait id -> what it waits for
_ids = itertools.count()


@contextlib.contextmanager
def waiting(kind: str, what: str) -> Iterator[None]:
    """Name a wait while it lasts, and add its duration to the split under `kind`."""
    began = time.monotonic()
    with _lock:
        key = next(_ids)
        _current[key] = what
    try:
        yield
    finally:
        with _lock:
            _current.pop(key, None)
            _spent[kind] = _spent.get(kind, 0.0) + time.monotonic() - began


def current() -> list[str]:
    """What this process is waiting for right now, oldest wait first."""
    with _lock:
        return list(_current.values())


def spent() -> dict[str, float]:
    """Seconds waited so far in this process, by kind."""
    with _lock:
        return dict(_spent)
