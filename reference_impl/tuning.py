"""The knobs of the background work, with production defaults (D-30, D-32).

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
    webhook_backoff: float = 0.5  # first retry delay; doubles per attempt, with jitter
    webhook_backoff_cap: float = 60.0
    webhook_give_up: float = 24 * 3600.0  # stop retrying a delivery this long after its first attempt
    webhook_concurrency: int = 4  # endpoints delivered to in parallel (each endpoint in order)

    def __post_init__(self) -> None:
        for name in ("sweep_interval", "webhook_timeout", "webhook_backoff", "webhook_backoff_cap", "webhook_give_up"):
            if getattr(self, name) <= 0:
                raise ValueError(f"tuning {name} must be positive")
        if self.webhook_concurrency < 1:
            raise ValueError("tuning webhook_concurrency must be at least 1")
