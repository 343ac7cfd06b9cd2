"""Making Schemathesis's cases meaningful and safe before they are sent.

Meaningful positive data: ids and references in a positive part of a case are replaced by real
objects made for the operation (`Fixtures`): a token granted to the seller, a succeeded payment
(its PaymentIntent, the seller's PaymentMethod clone, its charge), an unconfirmed PaymentIntent, a
webhook endpoint, an event; seller profiles and payment methods come from the target. Without
that, nearly every positive case would be a 404.

Safety, whatever the case (positive or negative): `seconds` never asks the shared clock to move
by more than one second, and a `url` that could reach anywhere is replaced by one that reaches
nothing (a path no one registered on the run's receiver when the target reaches it through
--spt-public-url, else a loopback port nothing listens on); endpoints the operation's cases
create are deleted at the end.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from conformance.amounts import minimum_charge
from conformance.client import Exchange, StripeClient
from conformance.scenario import Scenario
from conformance.violation import Violation

__all__ = ["Fixtures", "prepare_case", "unused_loopback_url"]


def unused_loopback_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens there once the probe is closed: deliveries are refused, harmlessly.
    return f"http://127.0.0.1:{port}/spt-contract"


def _field(exchange: Exchange, name: str) -> str | None:
    value = exchange.body.get(name) if exchange.status == 200 and isinstance(exchange.body, dict) else None
    return value if isinstance(value, str) else None


@dataclass
class Fixtures:
    """Real objects for positive cases, made on first need, through the test's clients."""

    spt: Scenario
    has: Callable[[str], bool]
    url: str = field(default_factory=unused_loopback_url)
    made_endpoints: list[tuple[StripeClient, str]] = field(default_factory=list)
    _cache: dict[str, Any] = field(default_factory=dict)

    def _once(self, name: str, make: Callable[[], Any]) -> Any:
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]

    # Each maker tolerates a target that fails it: the value then stays as generated, and the
    # failing exchange is judged by the registered checks like any other.
    def token(self) -> str | None:
        def make() -> str | None:
            # A large cap, in the currency positive payments are mapped to: they mostly succeed.
            return _field(self.spt.issue_exchange(max_amount=10**7, currency="usd", expires_at=None), "id")

        result: str | None = self._once("token", make)
        return result

    def future(self) -> int:
        """A month after the target's now: an expiry no test's clock advance reaches."""

        def make() -> int:
            try:
                return self.spt.clock.now() + 30 * 86_400
            except Violation:
                return int(time.time()) + 30 * 86_400

        return int(self._once("future", make))

    def paid(self, part: str) -> str | None:
        """The PaymentIntent (`id`), the seller's PaymentMethod clone or the charge of a payment."""

        def make() -> Mapping[str, Any]:
            token = _field(self.spt.issue_exchange(max_amount=10**6, currency="usd", expires_at=None), "id")
            exchange = self.spt.pay(token, 500) if token else None
            return exchange.body if exchange is not None and isinstance(exchange.body, dict) else {}

        body: Mapping[str, Any] = self._once("paid", make)
        value = body.get(part)
        return value if isinstance(value, str) else None

    def unconfirmed(self) -> str | None:
        def make() -> str | None:
            return _field(self.spt.seller.post("/v1/payment_intents", {"amount": 500, "currency": "usd"}), "id")

        result: str | None = self._once("unconfirmed", make)
        return result

    def endpoint(self) -> str | None:
        if not self.has("webhook_endpoints"):
            return None

        def make() -> str | None:
            client = self.spt.agent
            exchange = client.post(
                "/v1/webhook_endpoints", {"url": self.url, "enabled_events": ["shared_payment.issued_token.used"]}
            )
            identifier = _field(exchange, "id")
            if identifier is not None:
                self.made_endpoints.append((client, identifier))
            return identifier

        result: str | None = self._once("endpoint", make)
        return result

    def event(self) -> str | None:
        if not self.has("events"):
            return None

        def make() -> str | None:
            self.paid("id")  # so that the agent has at least one event
            exchange = self.spt.agent.get("/v1/events", {"limit": 1})
            data = exchange.body.get("data") if isinstance(exchange.body, dict) else None
            first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
            identifier = first.get("id")
            return identifier if isinstance(identifier, str) else None

        result: str | None = self._once("event", make)
        return result

    def cleanup(self) -> None:
        for client, identifier in dict.fromkeys(self.made_endpoints):
            client.delete(f"/v1/webhook_endpoints/{identifier}")
        self.made_endpoints.clear()


# Parameter name -> how a positive value is made real: (fixtures, operation id) -> value or None
# (None keeps the generated value).
Mapper = Callable[[Fixtures, str], Any]
_IDS: Mapping[str, Mapper] = {
    "shared_payment_granted_token": lambda f, op: f.token(),
    "shared_payment_issued_token": lambda f, op: f.token(),
    "intent": lambda f, op: f.unconfirmed() if op == "PostPaymentIntentsIntentConfirm" else f.paid("id"),
    "payment_intent": lambda f, op: f.paid("id"),
    "charge": lambda f, op: f.paid("latest_charge"),
    "payment_method": lambda f, op: _payment_method(f, op),
    "network_business_profile": lambda f, op: f.spt.target.seller.network_business_profile,
    "network_id": lambda f, op: f.spt.target.seller.network_business_profile,
    "webhook_endpoint": lambda f, op: f.endpoint(),
    "id": lambda f, op: f.event() if op == "GetEventsId" else None,
    "starting_after": lambda f, op: f.event() if op == "GetEvents" else None,
    "ending_before": lambda f, op: None,
    # The token's currency and a small amount, so that positive payments can succeed.
    "currency": lambda f, op: "usd" if op in ("PostPaymentIntents",) else None,
    "expires_at": lambda f, op: f.future(),
}


def _payment_method(fixtures: Fixtures, operation_id: str) -> str | None:
    """A PaymentMethod the caller of the operation owns: never one party's id sent by another."""
    if operation_id == "GetPaymentMethodsPaymentMethod":
        return fixtures.paid("payment_method")  # the seller's clone, read by the seller
    if operation_id == "PostSharedPaymentIssuedTokens":
        return fixtures.spt.target.agent.payment_method  # the agent shares its own
    return "pm_card_visa"  # the seller's own test card (test helpers, PaymentIntents)


def _payable(amount: int) -> int:
    """A positive case's amount brought within a token's cap of 1000 and never below Stripe's
    minimum charge, so that Stripe would accept it (it refuses less with amount_too_small)."""
    floor = minimum_charge("usd")
    return amount if floor <= amount <= 1000 else floor + abs(amount) % (1001 - floor)


def _small(value: Any) -> Any:
    """`seconds` as sent, never more than one second forward (other tests share the clock)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return min(value, 1)
    if isinstance(value, float):
        return 0.5 if value > 1 else value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return value
        return "0.5" if number > 1 else value
    if isinstance(value, list):
        return [_small(v) for v in value]
    if isinstance(value, dict):
        return {k: _small(v) for k, v in value.items()}
    return value


def _safe_url(value: Any, fixtures: Fixtures) -> Any:
    if isinstance(value, str) and value.lower().startswith(("http://", "https://", "//")):
        return fixtures.url
    if isinstance(value, list):
        return [_safe_url(v, fixtures) for v in value]
    return value


def _walk(value: Any, fixtures: Fixtures, operation_id: str, positive: bool) -> Any:
    if isinstance(value, list):
        return [_walk(v, fixtures, operation_id, positive) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if item == "" or item == {} or item == []:
            # On the wire these are `a=` or nothing, which Stripe reads as no value (its SDKs unset
            # a parameter that way): send none, so the case says what the server receives.
            continue
        if key == "seconds":
            out[key] = _small(item)
        elif key == "url":
            out[key] = _safe_url(item, fixtures)
        elif positive and key in _IDS and isinstance(item, str | int) and not isinstance(item, bool):
            real = _IDS[key](fixtures, operation_id)
            out[key] = item if real is None else real
        elif positive and key == "amount" and isinstance(item, int) and not isinstance(item, bool):
            out[key] = _payable(item)
        else:
            out[key] = _walk(item, fixtures, operation_id, positive)
    return out


def prepare_case(case: Any, fixtures: Fixtures, operation_id: str) -> None:
    """Make a case meaningful and safe, in place (Schemathesis re-reads what changed)."""
    from schemathesis.core.parameters import ParameterLocation

    meta = case.meta
    everywhere = set(ParameterLocation)
    if meta is None:
        positive = everywhere
    else:
        # Examples record no components: a part is positive unless the case says it is not.
        negative = {location for location, info in meta.components.items() if not info.mode.is_positive}
        stated = {location for location, info in meta.components.items() if info.mode.is_positive}
        positive = (everywhere - negative) if meta.generation.mode.is_positive else stated
    if case.path_parameters:
        case.path_parameters = _walk(case.path_parameters, fixtures, operation_id, ParameterLocation.PATH in positive)
    if case.query:
        case.query = _walk(case.query, fixtures, operation_id, ParameterLocation.QUERY in positive)
    if isinstance(case.body, dict | list):
        case.body = _walk(case.body, fixtures, operation_id, ParameterLocation.BODY in positive)
