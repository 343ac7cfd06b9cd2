"""A token bucket shared by every client of a run, so the suite stays under a target's limit.

Stripe's test mode allows 25 requests per second; the suite keeps below that against
api.stripe.com and is unlimited against other targets unless told otherwise. Before such a run
starts, `projection` says how long the limit alone makes it take, from the requests per test of
the shipped recording of the reference server.
"""

from __future__ import annotations

import json
import threading
import time

__all__ = ["STRIPE_TEST_MODE_RATE", "RateLimiter", "projection", "requests_per_test"]

STRIPE_TEST_MODE_RATE = 20.0  # requests per second: a margin under Stripe's 25
_FALLBACK_PER_TEST = 10.0  # requests per test when no recording is at hand


def requests_per_test() -> float:
    """Requests per test in the shipped recording of the reference server (a full run)."""
    from conformance.resources import cassettes_dir

    try:
        manifest = json.loads((cassettes_dir() / "reference" / "manifest.json").read_text(encoding="utf-8"))
        return float(manifest["exchanges"]) / max(1, len(manifest["tests"]))
    except (OSError, ValueError, KeyError, TypeError):
        return _FALLBACK_PER_TEST


def projection(tests: int, rate: float) -> str:
    """What `tests` cost at `rate` requests per second, as a sentence to print before the run."""
    requests = round(tests * requests_per_test())
    seconds = requests / rate
    shown = f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"
    return (
        f"rate limit: at most {rate:g} requests/s (Stripe's test mode allows 25); about {requests} requests "
        f"for {tests} tests, so at least {shown} (waits for events and time come on top)"
    )


class RateLimiter:
    def __init__(self, rate: float, burst: int | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        # In any one second a bucket lets through its capacity plus `rate`: a small burst keeps
        # the whole under the target's limit (5 + 20 of Stripe's 25).
        self.capacity = float(burst if burst is not None else max(1, int(rate // 4)))
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
