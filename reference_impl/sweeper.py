"""The expiry sweeper: notices expired tokens without anyone touching them (D-30, SPT-EXP-004).

Every `sweep_interval` seconds it expires each token whose expires_at is reached (their
deactivated_at is expires_at, whenever they are noticed) and prunes idempotency records older
than 24 hours. Reads and uses notice expiry first when they come earlier; the clock extension
notices it synchronously.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["Sweeper"]

log = logging.getLogger("reference_impl.sweeper")


class Sweeper:
    def __init__(self, sweep: Callable[[], object], interval: float) -> None:
        self._sweep, self._interval = sweep, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="spt-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._sweep()
            except Exception:  # keep sweeping; the next pass retries what this one could not do
                log.exception("expiry sweep failed")
