"""Stripe-shaped JSON for every object, as pure functions of the stored values.

The issued and granted views are two renderings of one `Token`, which is why they always agree
(SPT-GRT-002/007/008). The granted view, the PaymentIntent, the clone and the charge never name
the issuer's PaymentMethod (SPT-SEC-009): they only see the seller's clone or card details.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reference_impl import cards
from reference_impl.domain import Token, current_usage
from reference_impl.objects import Charge, PaymentIntent, PaymentMethod, Refund, StoredEvent, WebhookEndpoint

__all__ = [
    "charge",
    "clock",
    "event",
    "granted_token",
    "issued_token",
    "payment_intent",
    "payment_method",
    "refund",
    "webhook_endpoint",
]

_NO_ADDRESS = dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state"))


def _billing() -> dict[str, Any]:
    return {"address": dict(_NO_ADDRESS), "email": None, "name": None, "phone": None, "tax_id": None}


def _networks(pm: PaymentMethod) -> dict[str, Any]:
    return {"available": [pm.brand], "preferred": None}


def _limits(token: Token) -> dict[str, Any]:
    limits = token.limits
    out: dict[str, Any] = {
        "currency": limits.currency,
        "expires_at": limits.expires_at,
        "max_amount": limits.max_amount,
    }
    recurring = limits.recurring
    if recurring is not None and recurring.legacy:
        out["recurring_interval"] = recurring.interval
    elif recurring is not None:
        out["recurring"] = {"interval": recurring.interval, "interval_count": recurring.interval_count}
    return out


def _shared(token: Token, now: int) -> dict[str, Any]:
    captured = current_usage(token, now)[0]
    return {
        "id": token.id,
        "created": token.created,
        "deactivated_at": token.deactivated_at,
        "deactivated_reason": token.deactivated_reason.value if token.deactivated_reason else None,
        "livemode": False,
        "shared_metadata": dict(token.shared_metadata),
        "usage_details": {"amount_captured": {"value": captured, "currency": token.limits.currency}},
        "usage_limits": _limits(token),
    }


def issued_token(token: Token, pm: PaymentMethod, now: int, expand: frozenset[str]) -> dict[str, Any]:
    out = {
        "object": "shared_payment.issued_token",
        **_shared(token, now),
        "next_action": None,
        "payment_method": token.payment_method,
        "return_url": token.return_url,
        "seller_details": {"external_id": token.external_id, "network_business_profile": token.seller_profile},
        "setup_future_usage": token.setup_future_usage,
        "status": token.state.value,
        "use_stripe_sdk": token.use_stripe_sdk,
    }
    if "risk_details" in expand:
        out["risk_details"] = cards.risk_details(pm.card_kind)
    return out


def granted_token(token: Token, pm: PaymentMethod, now: int, expand: frozenset[str]) -> dict[str, Any]:
    out = {
        "object": "shared_payment.granted_token",
        **_shared(token, now),
        "agent_details": {"network_business_profile": token.agent_profile},
        "payment_method_details": {
            "type": "card",
            "billing_details": _billing(),
            "card": {
                "brand": pm.brand,
                "country": pm.country,
                "display_brand": pm.brand,
                "exp_month": pm.exp_month,
                "exp_year": pm.exp_year,
                "fingerprint": pm.fingerprint,
                "funding": pm.funding,
                "last4": pm.last4,
                "networks": _networks(pm),
                "wallet": None,
            },
        },
    }
    if "risk_details" in expand:
        out["risk_details"] = cards.risk_details(pm.card_kind)
    return out


def payment_method(pm: PaymentMethod) -> dict[str, Any]:
    return {
        "id": pm.id,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": _billing(),
        "card": {
            "brand": pm.brand,
            "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": pm.cvc_check},
            "country": pm.country,
            "display_brand": pm.brand,
            "exp_month": pm.exp_month,
            "exp_year": pm.exp_year,
            "fingerprint": pm.fingerprint,
            "funding": pm.funding,
            "generated_from": None,
            "last4": pm.last4,
            "networks": _networks(pm),
            "wallet": None,
        },
        "created": pm.created,
        "customer": None,
        "livemode": False,
        "metadata": {},
        "shared_payment_granted_token": pm.shared_payment_granted_token,
        "type": "card",
    }


def charge(ch: Charge, pm: PaymentMethod) -> dict[str, Any]:
    succeeded = ch.status == "succeeded"
    return {
        "id": ch.id,
        "object": "charge",
        "amount": ch.amount,
        "amount_captured": ch.amount if succeeded else 0,
        "amount_refunded": ch.amount_refunded,
        "billing_details": _billing(),
        "captured": succeeded,
        "created": ch.created,
        "currency": ch.currency,
        "failure_code": ch.failure_code,
        "failure_message": ch.failure_message,
        "livemode": False,
        "metadata": {},
        "outcome": {
            "network_status": "approved_by_network" if succeeded else "declined_by_network",
            "reason": ch.decline_code,
            "risk_level": "normal",
            "seller_message": "Payment complete." if succeeded else "The bank did not return any further details.",
            "type": "authorized" if succeeded else "issuer_declined",
        },
        "paid": succeeded,
        "payment_intent": ch.payment_intent,
        "payment_method": ch.payment_method,
        "payment_method_details": {
            "card": {
                "brand": pm.brand,
                "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": None},
                "country": pm.country,
                "exp_month": pm.exp_month,
                "exp_year": pm.exp_year,
                "fingerprint": pm.fingerprint,
                "funding": pm.funding,
                "last4": pm.last4,
                "network": pm.brand,
            },
            "shared_payment_granted_token": ch.shared_payment_granted_token,
            "type": "card",
        },
        "refunded": succeeded and ch.amount_refunded >= ch.amount,
        "status": ch.status,
    }


def payment_intent(
    pi: PaymentIntent, latest_charge: Mapping[str, Any] | None = None, pm: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`latest_charge` / `pm`: the expanded objects when asked for, else the ids are shown."""
    return {
        "id": pi.id,
        "object": "payment_intent",
        "amount": pi.amount,
        "amount_capturable": 0,
        "amount_received": pi.amount_received,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": pi.capture_method,
        "client_secret": pi.client_secret,
        "confirmation_method": "automatic",
        "created": pi.created,
        "currency": pi.currency,
        "customer": None,
        "description": pi.description,
        "last_payment_error": dict(pi.last_payment_error) if pi.last_payment_error else None,
        "latest_charge": dict(latest_charge) if latest_charge is not None else pi.latest_charge,
        "livemode": False,
        "metadata": dict(pi.metadata),
        "next_action": None,
        "payment_method": dict(pm) if pm is not None else pi.payment_method,
        "payment_method_types": list(pi.payment_method_types),
        "status": pi.status,
    }


def refund(re_: Refund) -> dict[str, Any]:
    return {
        "id": re_.id,
        "object": "refund",
        "amount": re_.amount,
        "charge": re_.charge,
        "created": re_.created,
        "currency": re_.currency,
        "metadata": dict(re_.metadata),
        "payment_intent": re_.payment_intent,
        "reason": re_.reason,
        "status": "succeeded",
    }


def webhook_endpoint(we: WebhookEndpoint, *, with_secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": we.id,
        "object": "webhook_endpoint",
        "api_version": we.api_version,
        "application": None,
        "created": we.created,
        "description": we.description,
        "enabled_events": list(we.enabled_events),
        "livemode": False,
        "metadata": dict(we.metadata),
        "status": "enabled",
        "url": we.url,
    }
    if with_secret:
        out["secret"] = we.secret
    return out


def event(stored: StoredEvent, pending_webhooks: int) -> dict[str, Any]:
    return {**stored.body, "pending_webhooks": pending_webhooks}


def clock(now: int) -> dict[str, Any]:
    return {"object": "test_helpers.shared_payment.clock", "now": now}
