"""Every operation the server serves: method, path, parameter schema, expandable fields.

This mirrors spec/openapi.yaml (operationIds, path parameter names, request properties and
their required lists); tests/reference_impl/test_operations.py checks the two agree, so a
parameter added to the spec and not here, or the reverse, fails a test. The adapter routes with
this table and nothing else.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from reference_impl.params import Array, Bool, Enum, Int, Map, Obj, Spec, Str
from reference_impl.windows import INTERVALS, LEGACY_INTERVALS

__all__ = ["OPERATIONS", "Operation", "match"]

_CURRENCY = Str(pattern=r"[a-z]{3}", why="must be a three-letter lowercase ISO currency code")
_EXPAND = Array(Str())
_LIST_PAGING: Mapping[str, Spec] = {
    "limit": Int(minimum=1, maximum=100),
    "starting_after": Str(),
    "ending_before": Str(),
}
_USAGE_LIMITS = Obj(
    {
        "currency": Str(pattern=r"[a-z]{3}", required=True, why=_CURRENCY.why),
        "max_amount": Int(minimum=1, maximum=99_999_999_999, required=True),
        "expires_at": Int(),
        "recurring": Obj({"interval": Enum(INTERVALS, required=True), "interval_count": Int(minimum=1, maximum=1000)}),
        "recurring_interval": Enum(LEGACY_INTERVALS),
    },
    required=True,
)
_PAYMENT_METHOD_DATA = Obj({"shared_payment_granted_token": Str(), "type": Str()})


@dataclass(frozen=True)
class Operation:
    name: str  # the operationId in spec/openapi.yaml
    method: str
    path: str  # with one {param} at most, named as in spec/openapi.yaml
    params: Obj = field(default_factory=Obj)
    expandable: frozenset[str] = frozenset()

    @functools.cached_property
    def path_param(self) -> str | None:
        found = re.search(r"\{(\w+)\}", self.path)
        return found.group(1) if found else None


_ISSUED_EXPANDABLE = frozenset({"next_action", "risk_details", "seller_details", "usage_details", "usage_limits"})
_GRANTED_EXPANDABLE = frozenset(
    {"agent_details", "payment_method_details", "risk_details", "usage_details", "usage_limits"}
)
_PI_EXPANDABLE = frozenset({"latest_charge", "payment_method"})

OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation(
        "PostSharedPaymentIssuedTokens",
        "POST",
        "/v1/shared_payment/issued_tokens",
        Obj(
            {
                "payment_method": Str(required=True),
                "seller_details": Obj(
                    {"external_id": Str(), "network_business_profile": Str(), "network_id": Str()},
                    required=True,
                ),
                "usage_limits": _USAGE_LIMITS,
                "shared_metadata": Map(),
                "setup_future_usage": Enum(("on_session",)),
                "return_url": Str(),
                "use_stripe_sdk": Bool(),
                "expand": _EXPAND,
            }
        ),
        _ISSUED_EXPANDABLE,
    ),
    Operation(
        "GetSharedPaymentIssuedTokensSharedPaymentIssuedToken",
        "GET",
        "/v1/shared_payment/issued_tokens/{shared_payment_issued_token}",
        Obj({"expand": _EXPAND}),
        _ISSUED_EXPANDABLE,
    ),
    Operation(
        "PostSharedPaymentIssuedTokensSharedPaymentIssuedTokenRevoke",
        "POST",
        "/v1/shared_payment/issued_tokens/{shared_payment_issued_token}/revoke",
        Obj({"expand": _EXPAND}),
        _ISSUED_EXPANDABLE,
    ),
    Operation(
        "GetSharedPaymentGrantedTokensSharedPaymentGrantedToken",
        "GET",
        "/v1/shared_payment/granted_tokens/{shared_payment_granted_token}",
        Obj({"expand": _EXPAND}),
        _GRANTED_EXPANDABLE,
    ),
    Operation(
        "PostTestHelpersSharedPaymentGrantedTokens",
        "POST",
        "/v1/test_helpers/shared_payment/granted_tokens",
        Obj(
            {
                "payment_method": Str(required=True),
                "usage_limits": _USAGE_LIMITS,
                "customer": Str(),
                "shared_metadata": Map(),
                "expand": _EXPAND,
            }
        ),
        _GRANTED_EXPANDABLE,
    ),
    Operation(
        "PostTestHelpersSharedPaymentGrantedTokensSharedPaymentGrantedTokenRevoke",
        "POST",
        "/v1/test_helpers/shared_payment/granted_tokens/{shared_payment_granted_token}/revoke",
        Obj({"expand": _EXPAND}),
        _GRANTED_EXPANDABLE,
    ),
    Operation(
        "PostPaymentIntents",
        "POST",
        "/v1/payment_intents",
        Obj(
            {
                "amount": Int(minimum=1, maximum=99_999_999, required=True),
                "currency": Str(pattern=r"[a-z]{3}", required=True, why=_CURRENCY.why),
                "automatic_payment_methods": Obj(
                    {"enabled": Bool(required=True), "allow_redirects": Enum(("always", "never"))}
                ),
                "capture_method": Enum(("automatic", "automatic_async")),
                "confirm": Bool(),
                "description": Str(max_length=1000),
                "metadata": Map(),
                "payment_method_data": _PAYMENT_METHOD_DATA,
                "payment_method_types": Array(Str()),
                "shared_payment_granted_token": Str(),
                "expand": _EXPAND,
            }
        ),
        _PI_EXPANDABLE,
    ),
    Operation(
        "GetPaymentIntentsIntent",
        "GET",
        "/v1/payment_intents/{intent}",
        Obj({"expand": _EXPAND}),
        _PI_EXPANDABLE,
    ),
    Operation(
        "PostPaymentIntentsIntentConfirm",
        "POST",
        "/v1/payment_intents/{intent}/confirm",
        Obj(
            {
                "payment_method_data": _PAYMENT_METHOD_DATA,
                "shared_payment_granted_token": Str(),
                "expand": _EXPAND,
            }
        ),
        _PI_EXPANDABLE,
    ),
    Operation(
        "GetPaymentMethodsPaymentMethod",
        "GET",
        "/v1/payment_methods/{payment_method}",
        Obj({"expand": _EXPAND}),
    ),
    Operation(
        "PostRefunds",
        "POST",
        "/v1/refunds",
        Obj(
            {
                "amount": Int(minimum=1, maximum=99_999_999),
                "charge": Str(),
                "payment_intent": Str(),
                "reason": Enum(("duplicate", "fraudulent", "requested_by_customer")),
                "metadata": Map(),
                "expand": _EXPAND,
            }
        ),
    ),
    Operation(
        "PostWebhookEndpoints",
        "POST",
        "/v1/webhook_endpoints",
        Obj(
            {
                "url": Str(required=True, pattern=r"https?://[^\s/?#]+[^\s]*", why="must be an http(s) URL"),
                "enabled_events": Array(
                    Str(
                        pattern=r"\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+",
                        why="must be an event type or *",
                    ),
                    required=True,
                ),
                "api_version": Str(),
                "description": Str(),
                "metadata": Map(),
                "expand": _EXPAND,
            }
        ),
    ),
    Operation(
        "GetWebhookEndpoints",
        "GET",
        "/v1/webhook_endpoints",
        Obj({**_LIST_PAGING, "expand": _EXPAND}),
    ),
    Operation(
        "DeleteWebhookEndpointsWebhookEndpoint",
        "DELETE",
        "/v1/webhook_endpoints/{webhook_endpoint}",
    ),
    Operation(
        "GetEvents",
        "GET",
        "/v1/events",
        Obj({**_LIST_PAGING, "type": Str(), "types": Array(Str(), max_items=20)}),
    ),
    Operation("GetEventsId", "GET", "/v1/events/{id}", Obj({"expand": _EXPAND})),
    Operation("GetTestHelpersSharedPaymentClock", "GET", "/v1/test_helpers/shared_payment/clock"),
    Operation(
        "PostTestHelpersSharedPaymentClockAdvance",
        "POST",
        "/v1/test_helpers/shared_payment/clock/advance",
        Obj({"seconds": Int(minimum=1, maximum=100 * 366 * 86_400, required=True)}),
    ),
)


def _compile(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "([^/]+)", re.escape(path)) + "$")


_ROUTES: Final[tuple[tuple[re.Pattern[str], Mapping[str, Operation]], ...]] = tuple(
    (_compile(path), {op.method: op for op in OPERATIONS if op.path == path})
    for path in dict.fromkeys(op.path for op in OPERATIONS)
)


def match(method: str, path: str) -> tuple[Operation, str | None] | None:
    """The operation serving `method path`, with its path parameter; None for an unknown URL
    or a method the path does not support (both answer 404, D-34)."""
    for pattern, by_method in _ROUTES:
        found = pattern.match(path)
        if found is not None:
            operation = by_method.get(method)
            if operation is None:
                return None
            return operation, (found.group(1) if found.groups() else None)
    return None
