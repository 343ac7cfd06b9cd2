"""The server's clock: real time plus a persisted offset that the clock extension moves forward.

Every use case reads time from here, never from `time` directly, so advancing the clock
(D-31) moves expiry, recurring windows and timestamps together. The offset only grows and is
stored in the database, so a restart keeps the advanced time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from reference_impl.store import Store, Tx

__all__ = ["Clock"]

_KEY = "clock_offset"


class Clock:
    def __init__(self, store: Store, time_source: Callable[[], float] = time.time) -> None:
        self._time = time_source
        with store.read() as tx:
            self._offset = int(tx.meta(_KEY) or 0)

    @property
    def offset(self) -> int:
        return self._offset

    def now(self) -> int:
        """Unix seconds, as every timestamp the server shows."""
        return int(self._time()) + self._offset

    def real(self) -> float:
        """Wall-clock seconds without the offset: for webhook timing, which is real."""
        return self._time()

    def advance(self, tx: Tx, seconds: int) -> int:
        """Move forward by `seconds` within `tx`; the new now holds once `tx` commits."""
        offset = self._offset + seconds
        tx.set_meta(_KEY, str(offset))

        def apply() -> None:
            self._offset = max(self._offset, offset)

        tx.on_commit(apply)
        return int(self._time()) + offset
