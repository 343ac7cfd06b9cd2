"""Stripe's v1 webhook signature scheme: signing a body, and verifying a header as the SDK does.

Written to agree with stripe-python 16.1.0a4's `stripe/_webhook.py` case for case
(tests/conformance/test_receiver.py holds it to the SDK): the header is
`t=<unix>,v1=<hex>[,v1=<hex>…]`; the signed payload is `"<t>.<body>"`; the signature is the
lowercase hex HMAC-SHA256 of it keyed with the whole `whsec_…` secret; any `v1` may match,
compared in constant time; `t` may be at most 300 s in the past (the SDK checks only that side).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

__all__ = ["DEFAULT_TOLERANCE", "SignatureVerdict", "sign", "verify_signature"]

DEFAULT_TOLERANCE = 300


@dataclass(frozen=True)
class SignatureVerdict:
    valid: bool
    reason: str = ""  # why it does not verify, in the SDK's words; empty when valid
    timestamp: int | None = None

    def __bool__(self) -> bool:
        return self.valid


def _hmac_hex(payload: str, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), payload.encode("utf-8"), hashlib.sha256).hexdigest()


def sign(body: bytes | str, secret: str, timestamp: int) -> str:
    """A `Stripe-Signature` header for `body`, as Stripe (and the SDK's test helper) makes it."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return f"t={timestamp},v1={_hmac_hex(f'{timestamp}.{text}', secret)}"


def verify_signature(
    body: bytes | str,
    header: str | None,
    secret: str | None,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> SignatureVerdict:
    """Verify a delivery the way `stripe.WebhookSignature.verify_header` does, without raising.

    `now` is the moment the delivery arrived (defaults to the current time), so a check made
    later still judges the timestamp as the receiving application would have.
    """
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        return SignatureVerdict(False, "The body is not UTF-8, so no signature over it can be checked")
    if not header:
        return SignatureVerdict(False, "No Stripe-Signature header value was provided")
    if secret is None or secret.strip(" \t\r\n\f\v") == "":
        return SignatureVerdict(False, "No webhook secret value was provided. It should start with `whsec_`")
    # The SDK's parse, step for step: items split on ",", each on "=" (at most twice); every `t`
    # item must have a value and the first must be an integer; every `v1` item is a candidate.
    items = [item.split("=", 2) for item in header.split(",")]
    try:
        # A list, not next(): like the SDK, a bare "t" anywhere makes the header unreadable.
        timestamp = int([item[1] for item in items if item[0] == "t"][0])  # noqa: RUF015
        signatures = [item[1] for item in items if item[0] == "v1"]
    except (IndexError, ValueError):
        return SignatureVerdict(False, "Unable to extract timestamp and signatures from header")
    if not signatures:
        return SignatureVerdict(False, "No signatures found with expected scheme v1", timestamp)
    expected = _hmac_hex(f"{timestamp}.{text}", secret)
    if not any(hmac.compare_digest(expected.encode("utf-8"), s.encode("utf-8")) for s in signatures):
        return SignatureVerdict(False, "No signatures found matching the expected signature for payload", timestamp)
    moment = time.time() if now is None else now
    if tolerance and timestamp < moment - tolerance:
        return SignatureVerdict(False, f"Timestamp outside the tolerance zone ({timestamp})", timestamp)
    return SignatureVerdict(True, "", timestamp)
