"""The stored objects around tokens, as frozen values: accounts, payment methods, payments,
refunds, webhook endpoints, events and their deliveries.

Each is one row of one table in `store.py` (field name = column name). They hold what the server
needs and nothing more: a payment method keeps brand, last4, expiry, funding, country,
fingerprint, display brand and networks, never a card number.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Account",
    "Charge",
    "Delivery",
    "PaymentIntent",
    "PaymentMethod",
    "Refund",
    "StoredEvent",
    "WebhookEndpoint",
]


class _Value:
    def replace(self, **changes: Any) -> Any:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class Account(_Value):
    id: str
    name: str
    role: str  # "agent" or "seller"
    secret_key: str = field(repr=False)
    profile: str
    created: int


@dataclass(frozen=True)
class PaymentMethod(_Value):
    id: str
    account: str
    created: int
    card_kind: str  # which test card (cards.BY_KIND); drives declines and risk, never rendered
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    funding: str
    country: str
    fingerprint: str
    cvc_check: str | None  # None on a seller's clone: no CVC check result is copied
    shared_payment_granted_token: str | None = None  # set on a clone made at payment time


@dataclass(frozen=True)
class PaymentIntent(_Value):
    id: str
    account: str
    created: int
    amount: int
    currency: str
    status: str
    client_secret: str
    capture_method: str = "automatic"
    payment_method: str | None = None
    latest_charge: str | None = None
    amount_received: int = 0
    token: str | None = None  # the granted token named at create, used at confirm
    token_param: str | None = None  # which parameter named it, for error params
    description: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    payment_method_types: tuple[str, ...] = ("card",)
    last_payment_error: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Charge(_Value):
    id: str
    account: str
    created: int
    payment_intent: str
    payment_method: str
    amount: int
    currency: str
    status: str  # "succeeded" or "failed"
    shared_payment_granted_token: str | None = None
    amount_refunded: int = 0
    failure_code: str | None = None
    decline_code: str | None = None
    failure_message: str | None = None


@dataclass(frozen=True)
class Refund(_Value):
    id: str
    account: str
    created: int
    charge: str
    payment_intent: str
    amount: int
    currency: str
    reason: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookEndpoint(_Value):
    id: str
    account: str
    created: int
    url: str
    secret: str = field(repr=False)
    enabled_events: tuple[str, ...]
    api_version: str | None = None
    description: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    deleted: bool = False

    def wants(self, event_type: str) -> bool:
        return "*" in self.enabled_events or event_type in self.enabled_events


@dataclass(frozen=True)
class StoredEvent(_Value):
    """An event as recorded: `body` is the JSON snapshot taken in the transaction of the change,
    less `pending_webhooks`, which is counted when the event is read or sent."""

    seq: int
    id: str
    account: str
    type: str
    created: int
    body: Mapping[str, Any]


@dataclass(frozen=True)
class Delivery(_Value):
    id: int
    event: str
    endpoint: str
    state: str  # "pending", "delivered" or "failed" (gave up)
    attempts: int
    next_attempt_at: float
    first_attempt_at: float | None = None
    last_status: int | None = None
