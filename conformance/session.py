"""What one conformance run shares across its tests: the spec, the target, the connection pool.

Built once per pytest process (each xdist worker builds its own) from the plugin's options, and
closed at the end. Tests reach it through the fixtures of `conformance/suite/conftest.py`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import httpx

from conformance.checks import CheckContext, run_checks
from conformance.client import Exchange, Journal, StripeClient
from conformance.options import RunOptions
from conformance.ratelimit import STRIPE_TEST_MODE_RATE, RateLimiter
from conformance.spec import Spec
from conformance.target import Account, Target
from conformance.violation import Violation

__all__ = ["RunState"]


# Idle connections the pool keeps. The concurrency tests open twenty at once; kept, every later
# request polls each of them for expiry before it is sent (0.7 ms a request, measured against the
# bundled server on 2 cores). A sequential run needs one.
KEEPALIVE = 4


@dataclass
class RunState:
    spec: Spec
    target: Target
    options: RunOptions
    context: CheckContext = field(default_factory=CheckContext)
    _http: httpx.Client | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.context.secrets.update(self.target.secrets())
        self.selected = self.spec.catalogue.select(self.options.only, self.options.skip)
        self.limiter = RateLimiter(STRIPE_TEST_MODE_RATE) if self.target.is_stripe else None

    @property
    def http(self) -> httpx.Client:
        """One pool for the whole run; httpx.Client is safe to share across threads."""
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(
                    base_url=self.target.base_url,
                    timeout=self.options.timeout,
                    limits=httpx.Limits(max_connections=64, max_keepalive_connections=KEEPALIVE),
                    headers={"User-Agent": "spt-conformance"},
                )
            return self._http

    def journal(self) -> Journal:
        def inspect(exchange: Exchange) -> list[Violation]:
            return run_checks(exchange, self.context)

        return Journal(inspect=inspect)

    def client(self, account: Account, journal: Journal) -> StripeClient:
        return StripeClient(
            self.http, account, journal, stripe_version=self.target.stripe_version, limiter=self.limiter
        )

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None
