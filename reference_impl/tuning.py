"""The knobs of the background work and the connection limits, with production defaults (D-30, D-32, D-40).

Tests and benchmarks pass smaller values through `embedded.start(**tuning)` or
`create_app(**tuning)`; an unknown knob is a TypeError, not a silent no-op.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Tuning"]


@dataclass(frozen=True)
class Tuning:
    sweep_interval: float = 0.5  # seconds between expiry sweeps: expiry is noticed within ~1 s
    webhook_timeout: float = 5.0  # a delivery not answered in time has failed (D-32)
    webhook_backoff: float = 0.2  # first retry delay; doubles per attempt, with jitter (a test server: quick)
    webhook_backoff_cap: float = 60.0
    webhook_give_up: float = 24 * 3600.0  # stop retrying a delivery this long after its first attempt
    webhook_concurrency: int = 4  # endpoints delivered to in parallel (each endpoint in order)
    head_timeout: float = 10.0  # a request head not complete this long after the connection or last answer: 408 (D-40)
    body_timeout: float = 10.0  # a body not complete this long after its head: 408 (D-40)
    linger: float = 2.0  # after an answer to a client still sending, read and drop its bytes this long

    def __post_init__(self) -> None:
        for name in (
            "sweep_interval",
            "webhook_timeout",
            "webhook_backoff",
            "webhook_backoff_cap",
            "webhook_give_up",
            "head_timeout",
            "body_timeout",
            "linger",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"tuning {name} must be positive")
        if self.webhook_concurrency < 1:
            raise ValueError("tuning webhook_concurrency must be at least 1")
