"""Time as the target sees it, and how the suite makes it pass.

With the clock extension (`capabilities.clock`) the suite reads the server's now and moves it
forward instantly. Without it (Stripe test mode), now is the local clock corrected by the skew
seen in the target's `Date` header, and passing time means waiting, bounded by `--spt-max-wait`:
a test that would wait longer is skipped with the reason instead.
"""

from __future__ import annotations

import email.utils
import time

import pytest

from conformance.client import StripeClient
from conformance.violation import expect_ok
from conformance.waiting import CLOCKS, waiting

__all__ = ["CLOCK", "Clock"]

CLOCK = "/v1/test_helpers/shared_payment/clock"


class Clock:
    def __init__(self, client: StripeClient, *, extension: bool, max_wait: float) -> None:
        self.client = client
        self.extension = extension
        self.max_wait = max_wait
        self._skew: float | None = None
        self._reading: int | None = None  # the extension's latest now, as this test last saw it

    @property
    def can_travel(self) -> bool:
        return self.extension

    def now(self) -> int:
        """The target's current time, in unix seconds."""
        if self.extension:
            body = expect_ok(
                self.client.get(CLOCK), "SPT-CLK-001", object_type="test_helpers.shared_payment.clock", setup=True
            )
            self._reading = int(body["now"])
            return self._reading
        return int(time.time() + self._estimate_skew())

    def about_now(self) -> int:
        """The target's time give or take this test's duration, for a date far from any boundary
        (an expiry weeks ahead): with the extension, the latest reading or advance this test saw,
        so that a test issuing twenty tokens reads the clock once, not twenty times (a quarter of
        a run's requests were these readings). Deterministic, so a recording replays it."""
        if self.extension and self._reading is not None:
            return self._reading
        return self.now()

    def _estimate_skew(self) -> float:
        if self._skew is None:
            exchange = self.client.get(CLOCK)  # any cheap request; only its Date header matters
            date = exchange.header("Date")
            parsed = email.utils.parsedate_to_datetime(date).timestamp() if date else None
            self._skew = (parsed - time.time()) if parsed is not None else 0.0
        return self._skew

    def lead_time(self) -> int:
        """How far ahead to set an expires_at that a test will then pass."""
        return 3600 if self.extension else 3

    def advance(self, seconds: int) -> None:
        """Make `seconds` pass on the target: instantly with the extension, else by waiting."""
        if self.extension:
            body = expect_ok(
                self.client.post(f"{CLOCK}/advance", {"seconds": seconds}),
                "SPT-CLK-002",
                object_type="test_helpers.shared_payment.clock",
                setup=True,
            )
            now = body.get("now")
            self._reading = now if isinstance(now, int) and not isinstance(now, bool) else None
            return
        if seconds > self.max_wait:
            pytest.skip(
                f"time must pass by {seconds} s, more than --spt-max-wait {self.max_wait:g} s, and the "
                "target has no clock extension"
            )
        with waiting(CLOCKS, f"waiting {seconds} s for time to pass on the target (no clock extension)"):
            time.sleep(seconds)

    def pass_beyond(self, moment: int) -> None:
        """Make the target's now reach `moment` (plus a second for rounding)."""
        self.advance(max(1, moment - self.now() + 1))
