"""Redemption (SPT-USE-*): the seller pays with the token through PaymentIntents, within its limits.

Stripe documents no error code for a refused use (over the headroom, another currency, a
consumed token, an unknown token), so those tests check the invariant only: a 4xx Stripe error,
no succeeded PaymentIntent, nothing captured. Declines are documented: 402 `card_error`.
SPT-USE-006 under concurrency is in test_concurrency.py; here it is checked in sequence.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import pytest

from conformance.scenario import ISSUED, Scenario
from conformance.violation import expect, expect_equal, expect_error, expect_ok, expect_refused

PAYMENT_INTENT = "payment_intent"
ABSENT = "(absent)"


def field(view: Mapping[str, Any], *path: str) -> Any:
    """view[a][b]…, or ABSENT where a step is missing."""
    node: Any = view
    for name in path:
        if not isinstance(node, Mapping) or name not in node:
            return ABSENT
        node = node[name]
    return node


# ---------------------------------------------------------------------------- paying
@pytest.mark.requirement("SPT-USE-001")
def test_pay_within_limits_succeeds(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    exchange = spt.pay(token.id, 400)
    intent = expect_ok(
        exchange,
        "SPT-USE-001",
        object_type=PAYMENT_INTENT,
        tip="POST /v1/payment_intents with payment_method_data[shared_payment_granted_token] and confirm=true",
    )
    expect_equal(intent.get("status"), "succeeded", "SPT-USE-001", what="status", exchanges=[exchange])
    expect_equal((intent.get("amount"), intent.get("currency")), (400, "usd"), "SPT-USE-001", what="(amount, currency)")


@pytest.mark.requirement("SPT-USE-018")
def test_pay_without_payment_method_data_type_succeeds(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    assert "type" not in spt.pay_params(token.id, 250)["payment_method_data"]  # the suite's own sanity
    exchange = spt.pay(token.id, 250)
    intent = expect_ok(
        exchange,
        "SPT-USE-018",
        object_type=PAYMENT_INTENT,
        tip="the documented seller call sends no payment_method_data[type]: the token implies it",
    )
    expect_equal(intent.get("status"), "succeeded", "SPT-USE-018", what="status", exchanges=[exchange])


@pytest.mark.requirement("SPT-USE-002")
def test_pay_uses_seller_clone_naming_the_token(spt: Scenario) -> None:
    token = spt.issue()
    intent = spt.pay_ok(token.id, 300)
    clone_id = intent.get("payment_method")
    original = token.issued.get("payment_method")
    expect(
        isinstance(clone_id, str)
        and clone_id.startswith("pm_")
        and clone_id not in (original, spt.target.agent.payment_method),
        "SPT-USE-002",
        received=f"PaymentIntent payment_method = {clone_id!r}",
        expected="a new pm_ PaymentMethod in the seller's account, not the agent's",
    )
    exchange = spt.payment_method(str(clone_id))
    clone = expect_ok(
        exchange, "SPT-USE-002", object_type="payment_method", tip="the seller can retrieve the clone it paid with"
    )
    expect_equal(
        clone.get("shared_payment_granted_token", ABSENT),
        token.id,
        "SPT-USE-002",
        what="clone shared_payment_granted_token",
        exchanges=[exchange],
    )


@pytest.mark.requirement("SPT-USE-003")
def test_pay_clone_carries_no_cvc_check_metadata_or_customer(spt: Scenario) -> None:
    token = spt.issue()
    intent = spt.pay_ok(token.id, 300)
    exchange = spt.payment_method(str(intent.get("payment_method")))
    clone = expect_ok(exchange, "SPT-USE-003", object_type="payment_method")
    cvc_check = field(clone, "card", "checks", "cvc_check")
    # "unchecked" and "unavailable" are Stripe's own words for "no result"; pass and fail are results.
    expect(
        cvc_check in (None, ABSENT, "unchecked", "unavailable"),
        "SPT-USE-003",
        received=f"card.checks.cvc_check = {cvc_check!r}",
        expected="no CVC check result on the seller's clone (null, absent, unchecked or unavailable)",
        tip="the CVC never travels with a shared token; report cvc_check null",
        exchanges=[exchange],
    )
    expect(
        clone.get("metadata") in (None, {}),
        "SPT-USE-003",
        received=f"metadata = {clone.get('metadata')!r}",
        expected="no metadata of the original on the clone (null or {})",
        exchanges=[exchange],
    )
    expect_equal(clone.get("customer"), None, "SPT-USE-003", what="customer", exchanges=[exchange])


@pytest.mark.requirement("SPT-USE-004")
def test_pay_increases_amount_captured_by_its_amount(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    spt.pay_ok(token.id, 350)
    issued = spt.read_issued(token.id)
    expect_equal(
        field(issued, "usage_details", "amount_captured"),
        {"value": 350, "currency": "usd"},
        "SPT-USE-004",
        what="usage_details.amount_captured",
    )


@pytest.mark.requirement("SPT-USE-007")
def test_pay_partly_used_token_stays_active_and_pays_again(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    spt.pay_ok(token.id, 400)
    expect_equal(
        spt.read_issued(token.id).get("status"),
        "active",
        "SPT-USE-007",
        what="status after a payment of 400 of 1000",
        tip="a token is multi-use up to its cap (D-10)",
    )
    exchange = spt.pay(token.id, 500)
    intent = expect_ok(exchange, "SPT-USE-007", object_type=PAYMENT_INTENT, tip="500 fits the remaining 600 (D-10)")
    expect_equal(intent.get("status"), "succeeded", "SPT-USE-007", what="second payment status", exchanges=[exchange])
    expect_equal(spt.captured(token.id), 900, "SPT-USE-007", what="amount_captured after 400 + 500")


@pytest.mark.requirement("SPT-USE-014")
def test_pay_intent_confirmed_later_with_token_succeeds(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    created = spt.create_intent(700)
    intent = expect_ok(created, "SPT-USE-014", object_type=PAYMENT_INTENT, tip="create without confirm=true")
    exchange = spt.confirm(str(intent.get("id")), token.id)
    confirmed = expect_ok(
        exchange,
        "SPT-USE-014",
        object_type=PAYMENT_INTENT,
        tip="POST /v1/payment_intents/{id}/confirm accepts payment_method_data[shared_payment_granted_token]",
    )
    expect_equal(confirmed.get("id"), intent.get("id"), "SPT-USE-014", what="confirmed PaymentIntent id")
    expect_equal(confirmed.get("status"), "succeeded", "SPT-USE-014", what="status", exchanges=[exchange])
    expect_equal(spt.captured(token.id), 700, "SPT-USE-014", what="amount_captured after the confirmation")


@pytest.mark.requirement("SPT-USE-016")
def test_pay_charge_names_the_token(spt: Scenario) -> None:
    token = spt.issue()
    intent = spt.pay_ok(token.id, 300)
    exchange = spt.payment_intent(str(intent.get("id")), expand=["latest_charge"])
    body = expect_ok(exchange, "SPT-USE-016", object_type=PAYMENT_INTENT)
    expect_equal(
        field(body, "latest_charge", "payment_method_details", "shared_payment_granted_token"),
        token.id,
        "SPT-USE-016",
        what="latest_charge.payment_method_details.shared_payment_granted_token",
        tip="latest_charge is expandable; its payment_method_details name the token used",
        exchanges=[exchange],
    )


# ---------------------------------------------------------------------------- the cap
@pytest.mark.requirement("SPT-USE-005")
def test_pay_over_headroom_is_refused_and_captures_nothing(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    spt.expect_use_refused(spt.pay(token.id, 1001), token.id, "SPT-USE-005", captured=0)
    expect_equal(spt.read_issued(token.id).get("status"), "active", "SPT-USE-005", what="status after the refusal")


@pytest.mark.requirement("SPT-USE-006")
def test_pay_two_fitting_payments_never_exceed_cap(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    spt.pay_ok(token.id, 600)
    spt.expect_use_refused(
        spt.pay(token.id, 600),
        token.id,
        "SPT-USE-006",
        captured=600,
        tip="check the headroom and record the capture in one transaction",
    )


@pytest.mark.requirement("SPT-USE-006")
def test_pay_repeated_payments_total_stays_within_cap(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    succeeded = 0
    for _ in range(5):
        exchange = spt.pay(token.id, 300)
        if exchange.status == 200:
            succeeded += 300
        else:
            expect_refused(exchange, "SPT-USE-006")
    expect(
        succeeded <= 1000,
        "SPT-USE-006",
        received=f"{succeeded} captured by five payments of 300",
        expected="no more than max_amount = 1000",
    )
    expect(
        spt.captured(token.id) <= 1000,
        "SPT-USE-006",
        received=f"amount_captured = {spt.captured(token.id)}",
        expected="amount_captured <= max_amount = 1000",
    )


@pytest.mark.requirement("SPT-USE-008")
def test_pay_in_other_currency_is_refused_and_captures_nothing(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000, currency="usd")
    spt.expect_use_refused(spt.pay(token.id, 500, currency="eur"), token.id, "SPT-USE-008", captured=0)
    expect_equal(spt.read_issued(token.id).get("status"), "active", "SPT-USE-008", what="status after the refusal")


@pytest.mark.requirement("SPT-USE-009")
def test_pay_exactly_max_amount_consumes_token(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    exchange = spt.pay(token.id, 1000)
    intent = expect_ok(exchange, "SPT-USE-009", object_type=PAYMENT_INTENT, tip="the whole max_amount fits")
    expect_equal(intent.get("status"), "succeeded", "SPT-USE-009", what="status", exchanges=[exchange])
    issued = spt.read_issued(token.id)
    expect_equal(
        (issued.get("status"), issued.get("deactivated_reason")),
        ("deactivated", "consumed"),
        "SPT-USE-009",
        what="(status, deactivated_reason)",
        tip="reaching max_amount deactivates the token with reason consumed",
    )
    expect(
        isinstance(issued.get("deactivated_at"), int),
        "SPT-USE-009",
        received=f"deactivated_at = {issued.get('deactivated_at')!r}",
        expected="deactivated_at set to the time of the payment",
    )


@pytest.mark.requirement("SPT-USE-010")
def test_pay_with_consumed_token_is_refused(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    spt.pay_ok(token.id, 1000)
    spt.expect_use_refused(spt.pay(token.id, 100), token.id, "SPT-USE-010", captured=1000)


# ---------------------------------------------------------------------------- declines
@pytest.mark.requirement("SPT-USE-011")
def test_pay_declined_card_answers_402_and_leaves_intent_unpaid(spt: Scenario) -> None:
    token = spt.issue_declining(max_amount=1000)
    exchange = spt.pay(token.id, 500)
    error = expect_error(exchange, "SPT-USE-011", status=402, type="card_error")
    intent = error.get("payment_intent")
    expect(
        isinstance(intent, Mapping) and isinstance(intent.get("id"), str),
        "SPT-USE-011",
        received=f"error.payment_intent = {intent!r}",
        expected="the PaymentIntent inside the card error, as Stripe returns it",
        tip="Stripe puts the PaymentIntent in error.payment_intent for errors of a request involving one",
        exchanges=[exchange],
    )
    assert isinstance(intent, Mapping)
    expect_equal(intent.get("status"), "requires_payment_method", "SPT-USE-011", what="error.payment_intent.status")
    retrieved = spt.payment_intent(str(intent["id"]))
    body = expect_ok(retrieved, "SPT-USE-011", object_type=PAYMENT_INTENT)
    expect_equal(
        body.get("status"), "requires_payment_method", "SPT-USE-011", what="retrieved status", exchanges=[retrieved]
    )


@pytest.mark.requirement("SPT-USE-012")
def test_pay_declined_card_captures_nothing_and_token_stays_active(spt: Scenario) -> None:
    token = spt.issue_declining(max_amount=1000)
    spt.expect_use_refused(
        spt.pay(token.id, 500), token.id, "SPT-USE-012", captured=0, tip="a decline is not a use (D-09)"
    )
    issued = spt.read_issued(token.id)
    expect_equal(
        (issued.get("status"), issued.get("deactivated_reason")),
        ("active", None),
        "SPT-USE-012",
        what="(status, deactivated_reason) after the decline",
    )


# ---------------------------------------------------------------------------- unknown tokens, refunds
@pytest.mark.requirement("SPT-USE-015")
def test_pay_with_unknown_spt_id_is_refused(spt: Scenario) -> None:
    unknown = "spt_" + secrets.token_hex(12)
    exchange = spt.pay(unknown, 500)
    error = expect_refused(exchange, "SPT-USE-015")
    intent = error.get("payment_intent")
    expect(
        not (isinstance(intent, Mapping) and intent.get("status") == "succeeded"),
        "SPT-USE-015",
        received="a refusal carrying a succeeded PaymentIntent",
        expected="no payment with a token that does not exist",
        exchanges=[exchange],
    )


@pytest.mark.requirement("SPT-USE-017")
def test_refund_does_not_restore_headroom(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    intent = spt.pay_ok(token.id, 600)
    exchange = spt.refund(str(intent.get("id")))
    refund = expect_ok(exchange, "SPT-USE-017", object_type="refund", tip="POST /v1/refunds with payment_intent")
    expect(
        refund.get("status") in ("succeeded", "pending"),
        "SPT-USE-017",
        received=f"refund status = {refund.get('status')!r}",
        expected="a refund that succeeds (or is pending)",
        exchanges=[exchange],
    )
    expect_equal(
        spt.captured(token.id),
        600,
        "SPT-USE-017",
        what="amount_captured after the refund",
        tip="a refund does not un-capture (D-09)",
    )
    spt.expect_use_refused(
        spt.pay(token.id, 401), token.id, "SPT-USE-017", captured=600, tip="the refund must not restore headroom (D-09)"
    )
    rest = spt.pay(token.id, 400)
    paid = expect_ok(rest, "SPT-USE-017", object_type=PAYMENT_INTENT, tip="the remaining 400 is still available")
    expect_equal(
        paid.get("status"), "succeeded", "SPT-USE-017", what="status of the payment of the rest", exchanges=[rest]
    )


# ---------------------------------------------------------------------------- optional forms (MAY)
@pytest.mark.requirement("SPT-USE-013")
def test_pay_with_top_level_token_parameter_succeeds(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    exchange = spt.pay(token.id, 450, placement="top-level")
    intent = expect_ok(
        exchange,
        "SPT-USE-013",
        object_type=PAYMENT_INTENT,
        tip="older docs send a top-level shared_payment_granted_token",
    )
    expect_equal(intent.get("status"), "succeeded", "SPT-USE-013", what="status", exchanges=[exchange])
    expect_equal(spt.captured(token.id), 450, "SPT-USE-013", what="amount_captured")


@pytest.mark.requirement("SPT-USE-019")
def test_pay_recurring_token_full_cap_again_in_next_window(spt: Scenario) -> None:
    params = spt.issue_params(max_amount=1000)
    params["usage_limits"]["recurring"] = {"interval": "hour"}
    issued = spt.agent.post(ISSUED, params)
    token_id = str(expect_ok(issued, "SPT-USE-019", object_type="shared_payment.issued_token").get("id"))
    spt.pay_ok(token_id, 700)
    # Windows are anchored at `created` (D-16): an hour and a second later is the next window.
    spt.clock.advance(3601)
    expect_equal(
        field(spt.read_issued(token_id), "usage_details", "amount_captured", "value"),
        0,
        "SPT-USE-019",
        what="amount_captured in the next hourly window",
        tip="amount_captured counts the current window only (D-16)",
    )
    exchange = spt.pay(token_id, 1000)
    intent = expect_ok(
        exchange, "SPT-USE-019", object_type=PAYMENT_INTENT, tip="the full max_amount is available again"
    )
    expect_equal(intent.get("status"), "succeeded", "SPT-USE-019", what="status", exchanges=[exchange])
