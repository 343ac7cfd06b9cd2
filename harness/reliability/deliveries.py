"""Reading what a webhook receiver got: which events were accepted, how many attempts each
took, and whether every attempt was signed with the endpoint's secret.

Signatures are checked with the official SDK's `stripe.WebhookSignature.verify_header`, not with
the suite's own verifier, so the server is held to what a real integration would accept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

import stripe

from conformance.receiver import Delivery

__all__ = ["accepted_events", "attempts_per_event", "badly_signed", "torn"]


def accepted_events(deliveries: Iterable[Delivery]) -> set[str]:
    """Event ids the receiver answered 2xx at least once."""
    return {d.event_id for d in deliveries if d.accepted and d.event_id is not None}


def attempts_per_event(deliveries: Iterable[Delivery]) -> Counter[str]:
    return Counter(d.event_id for d in deliveries if d.event_id is not None)


def torn(delivery: Delivery) -> bool:
    """Whether the request ended before its Content-Length: its sender died while sending it."""
    declared = delivery.header("Content-Length")
    return declared is not None and declared.isdigit() and len(delivery.body) < int(declared)


def badly_signed(deliveries: Iterable[Delivery], secrets: Mapping[str, str]) -> list[str]:
    """Deliveries whose Stripe-Signature does not verify with their endpoint's secret
    (`secrets`: receiver endpoint name -> whsec_ secret), described without the secret. A torn
    request (the server was killed while sending it) has no whole body to verify."""
    bad: list[str] = []
    for delivery in deliveries:
        if torn(delivery):
            continue
        try:
            stripe.WebhookSignature.verify_header(
                delivery.body, delivery.header("Stripe-Signature"), secrets[delivery.endpoint], tolerance=300
            )
        except stripe.SignatureVerificationError as exc:
            bad.append(f"{delivery.event_id} to {delivery.endpoint} (attempt {delivery.attempt}): {exc.user_message}")
    return bad
