"""A shared payment token as frozen values, and the pure rules about its limits and usage.

One `Token` holds both views (issued and granted share one spt_ id): the views are renderings
(`views.py`), never separate records, so they cannot disagree. Nothing here reads a clock:
every function that depends on time takes `now`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from reference_impl.windows import window_index

__all__ = [
    "Reason",
    "Recurring",
    "State",
    "Token",
    "UsageLimits",
    "current_usage",
    "expiry_due",
    "headroom",
]


class State(StrEnum):
    NONE = "none"  # before issue: the lifecycle's `from: [none]`
    ACTIVE = "active"
    REQUIRES_ACTION = "requires_action"
    DEACTIVATED = "deactivated"


class Reason(StrEnum):
    CONSUMED = "consumed"
    EXPIRED = "expired"
    RESOLVED = "resolved"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Recurring:
    interval: str
    interval_count: int = 1
    # Sent as the older single field usage_limits[recurring_interval] (D-16): echoed that way.
    legacy: bool = False


@dataclass(frozen=True)
class UsageLimits:
    currency: str
    max_amount: int
    expires_at: int | None = None
    recurring: Recurring | None = None


@dataclass(frozen=True)
class Token:
    id: str
    created: int
    seller_account: str
    seller_profile: str | None
    payment_method: str  # the issuer's concrete pm_; shown on the issued view only
    limits: UsageLimits
    agent_account: str | None = None  # None for a seller's test-helper token (D-06)
    agent_profile: str | None = None
    external_id: str | None = None
    state: State = State.ACTIVE
    deactivated_reason: Reason | None = None
    deactivated_at: int | None = None
    amount_captured: int = 0  # within window `usage_window`
    usage_window: int = 0
    shared_metadata: Mapping[str, str] = field(default_factory=dict)
    setup_future_usage: str | None = None
    return_url: str | None = None
    use_stripe_sdk: bool | None = None

    def replace(self, **changes: object) -> Token:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _window(token: Token, now: int) -> int:
    recurring = token.limits.recurring
    if recurring is None:
        return 0
    return window_index(token.created, recurring.interval, recurring.interval_count, now)


def current_usage(token: Token, now: int) -> tuple[int, int]:
    """(amount captured in the current window, that window's index)."""
    window = _window(token, now)
    return (token.amount_captured if token.usage_window == window else 0), window


def headroom(token: Token, now: int) -> int:
    return token.limits.max_amount - current_usage(token, now)[0]


def expiry_due(token: Token, now: int) -> bool:
    """True when an undeactivated token's expires_at is reached (D-30: expiry is at expires_at)."""
    expires_at = token.limits.expires_at
    return token.state != State.DEACTIVATED and expires_at is not None and now >= expires_at
