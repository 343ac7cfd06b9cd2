"""The granted view (SPT-GRT-*): the seller's read-only view of the token, agreeing with the agent's.

Both views share one spt_ id; the granted one shows the limits, the usage, the deactivation and
limited details of the payment method, and none of the issuer's own fields.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.scenario import Scenario
from conformance.violation import expect, expect_equal, expect_ok, inconclusive

GRANTED_OBJECT = "shared_payment.granted_token"
ABSENT = "(absent)"
ISSUER_ONLY = (
    "status",
    "payment_method",
    "seller_details",
    "next_action",
    "setup_future_usage",
    "return_url",
    "use_stripe_sdk",
)


def field(view: dict[str, Any], *path: str) -> Any:
    """view[a][b]…, or ABSENT where a step is missing."""
    node: Any = view
    for name in path:
        if not isinstance(node, dict) or name not in node:
            return ABSENT
        node = node[name]
    return node


@pytest.mark.requirement("SPT-GRT-001")
def test_granted_view_seller_retrieves_same_spt_id(spt: Scenario) -> None:
    token = spt.issue()
    exchange = spt.granted(token.id)
    body = expect_ok(
        exchange,
        "SPT-GRT-001",
        object_type=GRANTED_OBJECT,
        tip="the seller named in seller_details[network_business_profile] reads the token at "
        "/v1/shared_payment/granted_tokens/{id}, with the id the agent got",
    )
    expect_equal(body.get("id"), token.id, "SPT-GRT-001", what="id", exchanges=[exchange])


@pytest.mark.requirement("SPT-GRT-002")
def test_granted_view_usage_limits_equal_issued(spt: Scenario) -> None:
    token = spt.issue(max_amount=4321, currency="usd", expires_at=spt.clock.now() + 9 * 24 * 3600)
    issued, granted = spt.views(token.id)
    expect_equal(
        field(granted, "usage_limits"), field(issued, "usage_limits"), "SPT-GRT-002", what="granted usage_limits"
    )
    # After a payment too: the limits are the cap as issued, never what is left of it.
    spt.pay_ok(token.id, 1000)
    issued, granted = spt.views(token.id)
    expect_equal(
        field(granted, "usage_limits"),
        field(issued, "usage_limits"),
        "SPT-GRT-002",
        what="granted usage_limits after a payment of 1000 of 4321",
    )


@pytest.mark.requirement("SPT-GRT-003")
@pytest.mark.uses("SPT-GRT-001")
def test_granted_view_hides_issuer_only_fields(spt: Scenario) -> None:
    # Set every issuer-only field that can be set, so a view that copies the issued one shows it.
    token = spt.issue(setup_future_usage="on_session", return_url="https://example.com/agent/return")
    exchange = spt.granted(token.id)
    body = expect_ok(exchange, "SPT-GRT-001", object_type=GRANTED_OBJECT)
    leaked = [name for name in ISSUER_ONLY if name in body]
    expect(
        not leaked,
        "SPT-GRT-003",
        received=f"the granted view carries {', '.join(leaked)}",
        expected=f"none of {', '.join(ISSUER_ONLY)} on the granted view",
        tip="render the granted view from its own schema rather than filtering the issued one",
        exchanges=[exchange],
    )


@pytest.mark.requirement("SPT-GRT-004")
def test_granted_view_payment_method_details_match_issuer_card(spt: Scenario) -> None:
    token = spt.issue()
    original_id = str(token.issued.get("payment_method"))
    # The agent reads its own PaymentMethod: the truth the seller's summary must agree with.
    original_exchange = spt.payment_method(original_id, as_=spt.agent)
    original = original_exchange.body
    if original_exchange.status != 200 or not isinstance(original, dict) or original.get("object") != "payment_method":
        # A precondition, not the requirement: without the original there is nothing to compare.
        inconclusive(
            f"the agent could not retrieve its own PaymentMethod {original_id} (status {original_exchange.status}), "
            "the truth the granted view's payment_method_details is compared with"
        )
    granted = spt.read_granted(token.id)
    expect_equal(
        field(granted, "payment_method_details", "type"),
        original.get("type"),
        "SPT-GRT-004",
        what="payment_method_details.type",
    )
    if original.get("type") == "card":
        wanted = {name: field(original, "card", name) for name in ("brand", "last4", "exp_month", "exp_year")}
        shown = {name: field(granted, "payment_method_details", "card", name) for name in wanted}
        expect_equal(shown, wanted, "SPT-GRT-004", what="payment_method_details.card (brand, last4, expiry)")


@pytest.mark.requirement("SPT-GRT-005")
def test_granted_view_shows_shared_metadata(spt: Scenario) -> None:
    metadata = {"order_id": "6735", "basket": "3 items"}
    token = spt.issue(shared_metadata=metadata)
    granted = spt.read_granted(token.id)
    expect_equal(field(granted, "shared_metadata"), metadata, "SPT-GRT-005", what="granted shared_metadata")


@pytest.mark.requirement("SPT-GRT-006")
def test_granted_view_names_agent_profile(spt: Scenario) -> None:
    token = spt.issue()
    granted = spt.read_granted(token.id)
    profile = field(granted, "agent_details", "network_business_profile")
    known = spt.target.agent.network_business_profile
    if known:
        expect_equal(profile, known, "SPT-GRT-006", what="agent_details.network_business_profile")
    else:
        expect(
            isinstance(profile, str) and profile.startswith("profile_"),
            "SPT-GRT-006",
            received=f"agent_details.network_business_profile = {profile!r}",
            expected="the issuing agent's Stripe profile, a profile_ id",
        )


@pytest.mark.requirement("SPT-GRT-007")
def test_granted_view_amount_captured_follows_each_payment(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    for amount in (300, 200):
        spt.pay_ok(token.id, amount)
        issued, granted = spt.views(token.id)
        expect_equal(
            field(granted, "usage_details", "amount_captured"),
            field(issued, "usage_details", "amount_captured"),
            "SPT-GRT-007",
            what=f"granted usage_details.amount_captured after a payment of {amount}",
            tip="render both views from one record so they cannot disagree",
        )


def expect_same_deactivation(spt: Scenario, token_id: str) -> None:
    issued, granted = spt.views(token_id)
    for name in ("deactivated_reason", "deactivated_at"):
        expect(
            issued.get(name) is not None,
            "SPT-GRT-008",
            received=f"issued {name} = {issued.get(name)!r}",
            expected=f"issued {name} set once the token is deactivated",
        )
        expect_equal(field(granted, name), issued.get(name), "SPT-GRT-008", what=f"granted {name}")


@pytest.mark.requirement("SPT-GRT-008")
@pytest.mark.uses("SPT-REV-001")
def test_granted_view_deactivation_after_revoke_equals_issued(spt: Scenario) -> None:
    token = spt.issue()
    expect_ok(spt.revoke(token.id), "SPT-REV-001", object_type="shared_payment.issued_token")
    expect_same_deactivation(spt, token.id)


@pytest.mark.requirement("SPT-GRT-008")
@pytest.mark.smoke
def test_granted_view_deactivation_after_consumption_equals_issued(spt: Scenario) -> None:
    token = spt.issue(max_amount=800)
    spt.pay_ok(token.id, 800)
    expect_same_deactivation(spt, token.id)


@pytest.mark.requirement("SPT-GRT-009")
def test_test_helper_grant_creates_usable_token_for_caller(spt: Scenario) -> None:
    exchange = spt.test_helper_grant(max_amount=1500, currency="usd")
    body = expect_ok(exchange, "SPT-GRT-009", object_type=GRANTED_OBJECT)
    token_id = body.get("id")
    expect(
        isinstance(token_id, str) and token_id.startswith("spt_"),
        "SPT-GRT-009",
        received=f"id = {token_id!r}",
        expected="an spt_ id",
        exchanges=[exchange],
    )
    limits = {name: field(body, "usage_limits", name) for name in ("currency", "max_amount")}
    expect_equal(
        limits, {"currency": "usd", "max_amount": 1500}, "SPT-GRT-009", what="usage_limits", exchanges=[exchange]
    )
    for name in ("deactivated_at", "deactivated_reason"):
        expect_equal(field(body, name), None, "SPT-GRT-009", what=name, exchanges=[exchange])
    retrieved = spt.granted(str(token_id))
    expect_ok(retrieved, "SPT-GRT-009", object_type=GRANTED_OBJECT, tip="the calling seller owns the token it made")
    payment = spt.pay(str(token_id), 500)
    intent = expect_ok(payment, "SPT-GRT-009", object_type="payment_intent", tip="a test-helper token pays like any")
    expect_equal(intent.get("status"), "succeeded", "SPT-GRT-009", what="PaymentIntent status", exchanges=[payment])


@pytest.mark.requirement("SPT-GRT-010")
def test_granted_view_with_risk_details_expanded_carries_insights(spt: Scenario) -> None:
    token = spt.issue()
    exchange = spt.granted(token.id, expand=["risk_details"])
    body = expect_ok(exchange, "SPT-GRT-010", object_type=GRANTED_OBJECT)
    dispute = field(body, "risk_details", "insights", "fraudulent_dispute")
    expect(
        isinstance(dispute, dict)
        and isinstance(dispute.get("score"), int | float)
        and isinstance(dispute.get("recommended_action"), str),
        "SPT-GRT-010",
        received=f"risk_details = {field(body, 'risk_details')!r}",
        expected="risk_details.insights.fraudulent_dispute = {score: number, recommended_action: string}",
        tip="risk_details is an expandable field of the granted view: return it when expand[] names it",
        exchanges=[exchange],
    )
