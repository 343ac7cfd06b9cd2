"""A token bucket shared by every client of a run, so the suite stays under a target's limit.

Stripe's test mode allows 25 requests per second; the suite keeps below that against
api.stripe.com and is unlimited against other targets unless told otherwise.
"""

from __future__ import annotations

import threading
import time

__all__ = ["STRIPE_TEST_MODE_RATE", "RateLimiter"]

STRIPE_TEST_MODE_RATE = 20.0  # requests per second: a margin under Stripe's 25


class RateLimiter:
    def __init__(self, rate: float, burst: int | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = float(burst if burst is not None else max(1, int(rate)))
        self._tokens = self.capacity
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Block until one request may go out."""
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.rate
            time.sleep(wait)
