"""The few API calls the reliability scenarios make, as forms and paths, and a pager over events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

__all__ = ["ISSUED", "PAYMENT_INTENTS", "all_events", "is_stripe_error", "issue_form", "pay_form", "revoke_path"]

ISSUED = "/v1/shared_payment/issued_tokens"
PAYMENT_INTENTS = "/v1/payment_intents"


def issue_form(profile: str, cap: int) -> dict[str, str]:
    return {
        "payment_method": "pm_card_visa",
        "seller_details[network_business_profile]": profile,
        "usage_limits[currency]": "usd",
        "usage_limits[max_amount]": str(cap),
    }


def pay_form(token: str, amount: int) -> dict[str, str]:
    return {
        "amount": str(amount),
        "currency": "usd",
        "confirm": "true",
        "payment_method_data[shared_payment_granted_token]": token,
    }


def revoke_path(token: str) -> str:
    return f"{ISSUED}/{token}/revoke"


def all_events(client: httpx.Client, **filters: str) -> Iterator[dict[str, Any]]:
    """Every event of the client's account, newest first, page by page."""
    params: dict[str, str] = {"limit": "100", **filters}
    while True:
        response = client.get("/v1/events", params=params)
        response.raise_for_status()
        page = response.json()
        yield from page["data"]
        if not page["has_more"]:
            return
        params["starting_after"] = page["data"][-1]["id"]


def is_stripe_error(response: httpx.Response) -> bool:
    """A JSON body `{"error": {"type": str, "message": str, ...}}`, as Stripe answers refusals."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, dict) and isinstance(error.get("type"), str) and isinstance(error.get("message"), str)
