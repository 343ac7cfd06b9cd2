"""Webhook signatures, as Stripe makes them and its SDKs verify them.

`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the endpoint's
whsec_ secret>`; `stripe.Webhook.construct_event` accepts it.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["signature_header"]


def signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
