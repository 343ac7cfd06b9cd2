"""Names and set-up steps shared by the event tests: event types, and tokens paid, revoked or deactivated."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.scenario import Scenario, Token
from conformance.violation import expect_ok

__all__ = [
    "DEACTIVATED_GRANTED",
    "DEACTIVATED_ISSUED",
    "GRANTED_OBJECT",
    "ISSUED_OBJECT",
    "REASONS",
    "USED_GRANTED",
    "USED_ISSUED",
    "deactivated",
    "paid",
    "revoked",
]

USED_ISSUED = "shared_payment.issued_token.used"
USED_GRANTED = "shared_payment.granted_token.used"
DEACTIVATED_ISSUED = "shared_payment.issued_token.deactivated"
DEACTIVATED_GRANTED = "shared_payment.granted_token.deactivated"
ISSUED_OBJECT = "shared_payment.issued_token"
GRANTED_OBJECT = "shared_payment.granted_token"
# Expiry is the reason a server most often forgets to announce: the smoke profile runs it too.
REASONS = ("revoked", "consumed", pytest.param("expired", marks=pytest.mark.smoke))


# ------------------------------------------------------------------ set-up vocabulary
def paid(spt: Scenario, token: Token, amount: int) -> dict[str, Any]:
    """A payment the test relies on; its failure is SPT-USE-001's."""
    exchange = spt.pay(token.id, amount)
    spt.unless_single_use(token.id, exchange, f"a payment of {amount}")
    return expect_ok(exchange, "SPT-USE-001", object_type="payment_intent")


def revoked(spt: Scenario, token: Token) -> None:
    """A revocation the test relies on; its failure is SPT-REV-001's."""
    exchange = spt.revoke(token.id)
    spt.unless_single_use(token.id, exchange, "the revocation")
    expect_ok(exchange, "SPT-REV-001", object_type=ISSUED_OBJECT)


def deactivated(spt: Scenario, reason: str) -> Token:
    """A token deactivated for `reason`."""
    if reason == "revoked":
        token = spt.issue()
        revoked(spt, token)
    elif reason == "consumed":
        token = spt.issue(max_amount=500)
        paid(spt, token, 500)
    else:
        token = spt.issue(expires_at=spt.clock.now() + spt.clock.lead_time())
        assert token.expires_at is not None
        spt.clock.pass_beyond(token.expires_at)
        spt.issued(token.id)  # a server that notices expiry lazily notices it here
    return token
