"""Isolation between accounts (SPT-SEC-004..007, 009, 011).

One spt_ id, two views: the agent owns the issued view, the seller it was granted to owns the
granted view, and every other account, the other party included, sees neither. Where Stripe
documents no code the tests check the invariant (a 4xx Stripe error that tells nothing, and
nothing changed); SPT-SEC-007 checks the reference server's exact answer (D-25): resource_missing
worded as for a token that does not exist, 404 for a token named in the path.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from conformance.client import Exchange, StripeClient
from conformance.events import EventLog
from conformance.scenario import ISSUED, PAYMENT_INTENTS, Scenario, Token, unknown_token_id
from conformance.violation import Violation, expect, expect_equal, expect_ok, expect_refused

ISSUED_OBJECT = "shared_payment.issued_token"
# What a refusal must not carry: the token's limits, usage, payment method or metadata.
TOKEN_FIELDS = ("usage_limits", "usage_details", "amount_captured", "max_amount", "payment_method_details", "last4")


def marked_token(spt: Scenario) -> tuple[Token, str]:
    """A token whose shared_metadata carries a value that must never reach a stranger."""
    marker = f"isolation{uuid.uuid4().hex[:12]}"
    return spt.issue(shared_metadata={"order": marker}), marker


def leaks(exchange: Exchange, token: Token, marker: str, spt: Scenario) -> list[str]:
    secrets_of_token = [marker, str(token.issued.get("payment_method")), *TOKEN_FIELDS]
    profile = spt.target.seller.network_business_profile
    if profile:
        secrets_of_token.append(profile)
    return [value for value in secrets_of_token if value and value in exchange.response_text]


def expect_told_nothing(exchange: Exchange, requirement: str, token: Token, marker: str, spt: Scenario) -> None:
    expect_refused(exchange, requirement, tip="answer as if the token did not exist (404 resource_missing)")
    leaked = leaks(exchange, token, marker, spt)
    expect(
        not leaked,
        requirement,
        received=f"the refusal mentions {leaked}",
        expected="a refusal that discloses nothing of the token",
        exchanges=[exchange],
    )


def unchanged(spt: Scenario, token: Token, before: Mapping[str, Any], requirement: str) -> None:
    after = expect_ok(spt.issued(token.id), "SPT-ISS-005", object_type=ISSUED_OBJECT)
    expect_equal(
        dict(after),
        dict(before),
        requirement,
        what="the issued view after the refused requests",
        tip="a refused request must change nothing",
    )


# ------------------------------------------------------------------ the granted view
@pytest.mark.requirement("SPT-SEC-004")
def test_granted_view_strangers_are_refused_and_told_nothing(spt: Scenario, other_seller: StripeClient) -> None:
    token, marker = marked_token(spt)
    for stranger in (other_seller, spt.agent):
        expect_told_nothing(spt.granted(token.id, as_=stranger), "SPT-SEC-004", token, marker, spt)
        expect_told_nothing(
            spt.granted(token.id, as_=stranger, expand=["risk_details"]), "SPT-SEC-004", token, marker, spt
        )


@pytest.mark.requirement("SPT-SEC-005")
@pytest.mark.uses("SPT-ISS-005")
def test_payment_by_another_seller_is_refused_and_captures_nothing(spt: Scenario, other_seller: StripeClient) -> None:
    token = spt.issue(max_amount=1000)
    before = expect_ok(spt.issued(token.id), "SPT-ISS-005", object_type=ISSUED_OBJECT)
    for placement in ("nested", "top-level"):
        refused = spt.pay(token.id, 500, as_=other_seller, placement=placement)
        expect_refused(refused, "SPT-SEC-005", tip="only the seller the token was granted to may pay with it")
    unchanged(spt, token, before, "SPT-SEC-005")
    expect_ok(
        spt.pay(token.id, 1000),
        "SPT-SEC-005",
        object_type="payment_intent",
        tip="the refused attempts must leave the whole max_amount to the grantee",
    )


# ------------------------------------------------------------------ the issued view
@pytest.mark.requirement("SPT-SEC-006")
@pytest.mark.uses("SPT-ISS-005")
def test_issued_view_only_the_issuer_retrieves_or_revokes(spt: Scenario) -> None:
    token, marker = marked_token(spt)
    before = expect_ok(spt.issued(token.id), "SPT-ISS-005", object_type=ISSUED_OBJECT)
    strangers = [c for c in (spt.seller, spt.other_seller) if c is not None]
    for stranger in strangers:
        expect_told_nothing(spt.issued(token.id, as_=stranger), "SPT-SEC-006", token, marker, spt)
        expect_told_nothing(spt.revoke(token.id, as_=stranger), "SPT-SEC-006", token, marker, spt)
    unchanged(spt, token, before, "SPT-SEC-006")


# ------------------------------------------------------------------ the exact answer (D-25)
def _same_refusal(
    real: Exchange, missing: Exchange, real_id: str, missing_id: str, statuses: tuple[int, ...] = (404,)
) -> None:
    """`statuses` is 404 for a token named in the path; a token named in a parameter may be
    refused with 400 (Stripe's answer there) or 404, but the same way as a missing one."""
    requirement = "SPT-SEC-007"
    error = dict(expect_refused(real, requirement, statuses=statuses))
    expect_equal(error.get("code"), "resource_missing", requirement, what="error.code", exchanges=[real])
    expect_equal(error.get("type"), "invalid_request_error", requirement, what="error.type", exchanges=[real])
    control = dict(expect_refused(missing, requirement, statuses=statuses))
    expect_equal(
        real.status,
        missing.status,
        requirement,
        what="the status, against a missing token's",
        exchanges=[real, missing],
    )
    wording = {k: str(v).replace(real_id, "<id>") for k, v in error.items()}
    control_wording = {k: str(v).replace(missing_id, "<id>") for k, v in control.items()}
    expect_equal(
        wording,
        control_wording,
        requirement,
        what=f"the refusal of {real.method} {re.sub(real_id, '<id>', real.path)} (ids replaced by <id>)",
        tip="answer exactly as for a token that does not exist, so that existence is not disclosed",
        exchanges=[real, missing],
    )


@pytest.mark.requirement("SPT-SEC-007")
def test_refusal_to_a_stranger_is_404_as_for_no_such_token(spt: Scenario) -> None:
    token = spt.issue()
    missing = unknown_token_id()
    in_path, in_parameter = (404,), (400, 404)
    calls: list[tuple[StripeClient, Callable[[str, StripeClient], Exchange], tuple[int, ...]]] = [
        (spt.seller, lambda i, c: spt.issued(i, as_=c), in_path),
        (spt.seller, lambda i, c: spt.revoke(i, as_=c), in_path),
        (spt.agent, lambda i, c: spt.granted(i, as_=c), in_path),
    ]
    if spt.other_seller is not None:
        calls += [
            (spt.other_seller, lambda i, c: spt.granted(i, as_=c), in_path),
            (spt.other_seller, lambda i, c: spt.issued(i, as_=c), in_path),
            (spt.other_seller, lambda i, c: spt.pay(i, 100, as_=c), in_parameter),
        ]
    for client, call, statuses in calls:
        _same_refusal(call(token.id, client), call(missing, client), token.id, missing, statuses)


# ------------------------------------------------------------------ the agent's PaymentMethod
@pytest.mark.requirement("SPT-SEC-009")
@pytest.mark.uses("SPT-EVT-004", "SPT-USE-001")
def test_agent_payment_method_never_reaches_the_seller(spt: Scenario, events: EventLog) -> None:
    token = spt.issue(max_amount=1000)
    original = str(token.issued.get("payment_method"))
    seen: list[Exchange] = [spt.granted(token.id), spt.granted(token.id, expand=["risk_details"])]
    payment = spt.pay(token.id, 400)
    intent = expect_ok(payment, "SPT-USE-001", object_type="payment_intent")
    seen.append(payment)
    seen.append(spt.seller.get(f"{PAYMENT_INTENTS}/{intent['id']}", {"expand": ["payment_method", "latest_charge"]}))
    clone = intent.get("payment_method")
    if isinstance(clone, str):
        seen.append(spt.seller.get(f"/v1/payment_methods/{clone}"))
    seen.append(spt.seller.post(f"{ISSUED}/{token.id}/revoke"))  # refused; its error must not tell either
    for exchange in seen:
        expect(
            original not in exchange.response_text,
            "SPT-SEC-009",
            received=f"the agent's PaymentMethod {original} in {exchange.describe()}",
            expected="the seller sees only its own clone, never the agent's original id",
            exchanges=[exchange],
        )
    expect(
        clone != original,
        "SPT-SEC-009",
        received=f"the PaymentIntent's payment_method is {clone}",
        expected="a clone in the seller's account",
        exchanges=[payment],
    )
    if events.available:

        def no_agent_payment_method() -> Violation | None:
            for event in events.watch.about("seller", token.id):
                body = event.delivery.body.decode("utf-8", "replace") if event.delivery else str(event.event)
                if original in body:
                    return Violation(
                        "SPT-SEC-009",
                        received=f"the agent's PaymentMethod {original} in the seller's {event.type} event",
                        expected="no event to the seller names the agent's PaymentMethod",
                    )
            return None

        # Judged at the end of the run, once the deactivation awaited below has come.
        events.expect("SPT-SEC-009", no_agent_payment_method, about=f"the seller's events about {token.id}")
        spt.revoke(token.id)
        events.expect_arrival("seller", "shared_payment.granted_token.deactivated", token.id, "SPT-EVT-004")


# ------------------------------------------------------------------ the seller's own objects
@pytest.mark.requirement("SPT-SEC-011")
@pytest.mark.uses("SPT-USE-001", "SPT-USE-002")
def test_seller_payment_and_clone_are_invisible_to_other_accounts(spt: Scenario, other_seller: StripeClient) -> None:
    token = spt.issue()
    intent = expect_ok(spt.pay(token.id, 300), "SPT-USE-001", object_type="payment_intent")
    clone = str(intent.get("payment_method"))
    expect_ok(spt.seller.get(f"{PAYMENT_INTENTS}/{intent['id']}"), "SPT-USE-001", object_type="payment_intent")
    expect_ok(spt.seller.get(f"/v1/payment_methods/{clone}"), "SPT-USE-002", object_type="payment_method")
    for stranger in (other_seller, spt.agent):
        for path in (f"{PAYMENT_INTENTS}/{intent['id']}", f"/v1/payment_methods/{clone}"):
            refused = stranger.get(path)
            expect_refused(refused, "SPT-SEC-011", tip="objects belong to the account that made them")
            expect(
                clone not in refused.response_text or path.endswith(clone),
                "SPT-SEC-011",
                received=f"the refusal of {path} names the clone",
                expected="a refusal that discloses nothing",
                exchanges=[refused],
            )
