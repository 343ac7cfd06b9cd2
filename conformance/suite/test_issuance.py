"""Issuance (SPT-ISS-*): the agent creates a token and gets back exactly what it asked for.

Refusals that Stripe's spec pins down (a missing or mistyped parameter) are checked as the 400
`invalid_request_error` the spec implies; refusals that rest on our decisions (D-24, D-27, D-35)
are checked as the invariant only: a 4xx Stripe error, and no token in the answer.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.client import Exchange
from conformance.scenario import ISSUED, Scenario
from conformance.violation import expect, expect_decision, expect_equal, expect_error, expect_ok, expect_refused

ISSUED_OBJECT = "shared_payment.issued_token"
ABSENT = "(absent)"  # shown in a message where a field that must be present is missing


def expect_no_token(exchange: Exchange, requirement: str, *, tip: str = "") -> None:
    """A refused create names no spt_ id: nothing was issued that the agent could use."""
    expect_refused(exchange, requirement, tip=tip)
    expect(
        "spt_" not in exchange.response_text,
        requirement,
        received="a refusal whose body names an spt_ id",
        expected="a refusal that issues no token",
        tip=tip or "validate the whole request before creating the token",
        exchanges=[exchange],
    )


def differences(first: dict[str, Any], second: dict[str, Any]) -> list[str]:
    """The top-level keys whose values differ between two bodies."""
    return sorted(key for key in first.keys() | second.keys() if first.get(key, ABSENT) != second.get(key, ABSENT))


# ---------------------------------------------------------------------------- the answer
@pytest.mark.requirement("SPT-ISS-001")
def test_issue_valid_request_answers_issued_token_with_spt_id(spt: Scenario) -> None:
    exchange = spt.issue_exchange()
    body = expect_ok(exchange, "SPT-ISS-001", object_type=ISSUED_OBJECT)
    token_id = body.get("id")
    expect(
        isinstance(token_id, str) and token_id.startswith("spt_"),
        "SPT-ISS-001",
        received=f"id = {token_id!r}",
        expected="an id starting with spt_",
        exchanges=[exchange],
    )


@pytest.mark.requirement("SPT-ISS-002")
def test_issue_new_token_is_active_and_not_deactivated(spt: Scenario) -> None:
    token = spt.issue()
    body = token.issued
    expect_equal(body.get("status", ABSENT), "active", "SPT-ISS-002", what="status")
    expect_equal(body.get("deactivated_at", ABSENT), None, "SPT-ISS-002", what="deactivated_at")
    expect_equal(body.get("deactivated_reason", ABSENT), None, "SPT-ISS-002", what="deactivated_reason")


@pytest.mark.requirement("SPT-ISS-003")
def test_issue_new_token_has_captured_zero_in_its_currency(spt: Scenario) -> None:
    # Not usd, so that a usage_details hard-coded to usd shows.
    token = spt.issue(currency="eur", max_amount=2500)
    usage = token.issued.get("usage_details")
    captured = usage.get("amount_captured", ABSENT) if isinstance(usage, dict) else ABSENT
    expect_equal(
        captured,
        {"value": 0, "currency": "eur"},
        "SPT-ISS-003",
        what="usage_details.amount_captured",
        tip="amount_captured is an Amount object {value, currency} in the currency of usage_limits",
    )


@pytest.mark.requirement("SPT-ISS-004")
def test_issue_echoes_seller_profile_limits_and_names_payment_method(spt: Scenario) -> None:
    expires_at = spt.clock.now() + 7 * 24 * 3600
    token = spt.issue(max_amount=1234, currency="usd", expires_at=expires_at)
    body = token.issued
    seller_details = body.get("seller_details")
    profile = seller_details.get("network_business_profile", ABSENT) if isinstance(seller_details, dict) else ABSENT
    expect_equal(
        profile,
        spt.target.seller.network_business_profile,
        "SPT-ISS-004",
        what="seller_details.network_business_profile",
    )
    limits = body.get("usage_limits")
    limits = limits if isinstance(limits, dict) else {}
    sent = {"currency": "usd", "max_amount": 1234, "expires_at": expires_at}
    echoed = {name: limits.get(name, ABSENT) for name in sent}
    expect_equal(echoed, sent, "SPT-ISS-004", what="usage_limits (currency, max_amount, expires_at)")
    payment_method = body.get("payment_method")
    expect(
        isinstance(payment_method, str) and payment_method.startswith("pm_"),
        "SPT-ISS-004",
        received=f"payment_method = {payment_method!r}",
        expected="payment_method naming the shared PaymentMethod by a pm_ id",
    )


@pytest.mark.requirement("SPT-ISS-005")
def test_retrieve_issued_token_returns_it_as_created(spt: Scenario) -> None:
    token = spt.issue(shared_metadata={"order_id": "6735"})
    exchange = spt.issued(token.id)
    body = expect_ok(exchange, "SPT-ISS-005", object_type=ISSUED_OBJECT)
    changed = differences(dict(token.issued), body)
    expect(
        not changed,
        "SPT-ISS-005",
        received=f"the retrieved token differs from the created one in {', '.join(changed)}",
        expected="the same token, field for field, while nothing has happened to it",
        exchanges=[exchange],
    )


# ---------------------------------------------------------------------------- refused by the spec
@pytest.mark.requirement("SPT-ISS-006")
@pytest.mark.parametrize(
    "missing",
    ["payment_method", "seller_details", "usage_limits", "usage_limits[currency]", "usage_limits[max_amount]"],
)
def test_issue_without_required_parameter_is_refused_400(spt: Scenario, missing: str) -> None:
    params = spt.issue_params()
    if missing.startswith("usage_limits["):
        del params["usage_limits"][missing.removeprefix("usage_limits[").rstrip("]")]
    else:
        del params[missing]
    exchange = spt.agent.post(ISSUED, params)
    expect_error(
        exchange,
        "SPT-ISS-006",
        status=400,
        type="invalid_request_error",
        tip=f"{missing} is required by the create operation; answer 400 naming it in error.param",
    )


@pytest.mark.requirement("SPT-ISS-007")
@pytest.mark.parametrize(
    ("name", "value"),
    [("max_amount", "ten"), ("max_amount", "10.5"), ("expires_at", "tomorrow"), ("expires_at", "1893456000.5")],
)
def test_issue_non_integer_limit_is_refused_400(spt: Scenario, name: str, value: str) -> None:
    params = spt.issue_params()
    params["usage_limits"][name] = value
    exchange = spt.agent.post(ISSUED, params)
    expect_error(
        exchange,
        "SPT-ISS-007",
        status=400,
        type="invalid_request_error",
        tip=f"usage_limits[{name}] is an integer; parse it strictly (no truncation of {value!r})",
    )


@pytest.mark.requirement("SPT-ISS-009")
@pytest.mark.parametrize("currency", ["us", "usdx", "abc", "u$d"])
def test_issue_invalid_currency_is_refused_400(spt: Scenario, currency: str) -> None:
    exchange = spt.issue_exchange(currency=currency)
    expect_error(
        exchange,
        "SPT-ISS-009",
        status=400,
        type="invalid_request_error",
        tip="usage_limits[currency] is a three-letter ISO 4217 code, checked against the list of codes",
    )


@pytest.mark.requirement("SPT-ISS-009")
@pytest.mark.parametrize("currency", ["USD", "Usd"])
def test_issue_upper_case_currency_is_lower_case_or_refused(spt: Scenario, currency: str) -> None:
    """Stripe accepts USD and answers usd; its reference says "in lowercase", so a server that
    refuses upper case is within it too. What no server may do is keep the upper case."""
    exchange = spt.issue_exchange(currency=currency)
    if exchange.status != 200:
        expect_error(
            exchange,
            "SPT-ISS-009",
            status=400,
            type="invalid_request_error",
            tip="accept the code in any case, as Stripe does, or refuse it like any invalid currency",
        )
        return
    token = expect_ok(exchange, "SPT-ISS-009", object_type="shared_payment.issued_token")
    limits = token.get("usage_limits") or {}
    expect_equal(
        limits.get("currency"),
        "usd",
        "SPT-ISS-009",
        what="usage_limits.currency of a token issued with " + currency,
        tip="Stripe answers a currency in lower case whatever the case it was sent in",
        exchanges=[exchange],
    )


# ---------------------------------------------------------------------------- refused by decision
@pytest.mark.requirement("SPT-ISS-008")
@pytest.mark.parametrize("max_amount", [0, -100])
def test_issue_non_positive_max_amount_is_refused(spt: Scenario, max_amount: int) -> None:
    exchange = spt.issue_exchange(max_amount=max_amount)
    expect_no_token(exchange, "SPT-ISS-008", tip="a cap below 1 allows nothing; refuse it (D-35)")


@pytest.mark.requirement("SPT-ISS-010")
@pytest.mark.uses("SPT-EXP-001")
@pytest.mark.parametrize("offset", [-3600, -1, 0])
def test_issue_expires_at_not_in_future_is_refused(spt: Scenario, offset: int) -> None:
    if offset == 0 and not spt.clock.can_travel:
        pytest.skip("an expires_at of exactly now needs the target's clock; the local estimate may be a second off")
    exchange = spt.issue_exchange(expires_at=spt.clock.now() + offset)
    body = exchange.body if isinstance(exchange.body, dict) else {}
    refused = expect_decision(
        exchange.status >= 400 and "spt_" not in exchange.response_text,
        "SPT-ISS-010",
        received=f"{exchange.status} {exchange.response_text[:200]}",
        expected="a refusal that issues no token (D-24)",
        tip="compare expires_at with the server's own now: at or before it is refused (D-24)",
        exchanges=[exchange],
    )
    if refused:
        expect_no_token(exchange, "SPT-ISS-010")
    elif exchange.status == 200 and isinstance(body.get("id"), str):
        # The target chose to issue it: what Stripe documents still holds, the token cannot be spent.
        paid = spt.pay(body["id"], 100)
        spt.expect_use_refused(
            paid, body["id"], "SPT-EXP-001", captured=0, tip="a token whose expires_at has passed is never usable"
        )


@pytest.mark.requirement("SPT-ISS-011")
def test_issue_unknown_seller_profile_is_refused(spt: Scenario) -> None:
    exchange = spt.issue_exchange(profile="profile_test_NoSuchSellerProfile0000000000")
    expect_no_token(exchange, "SPT-ISS-011", tip="a token granted to an unknown profile could be used by no one (D-27)")


@pytest.mark.requirement("SPT-ISS-013")
def test_issue_payment_method_agent_cannot_use_is_refused(spt: Scenario) -> None:
    exchange = spt.issue_exchange(payment_method="pm_NoSuchPaymentMethod0000000")
    expect_no_token(exchange, "SPT-ISS-013", tip="resolve payment_method in the agent's account before issuing (D-27)")


@pytest.mark.requirement("SPT-ISS-018")
def test_issue_seller_details_without_profile_is_refused(spt: Scenario) -> None:
    exchange = spt.issue_exchange(seller_details={"external_id": "merchant_6735"})
    expect_no_token(
        exchange,
        "SPT-ISS-018",
        tip="external_id alone names no seller: require network_business_profile (or network_id) (D-27)",
    )


# ---------------------------------------------------------------------------- what else is echoed
@pytest.mark.requirement("SPT-ISS-014")
def test_issue_shared_metadata_is_returned(spt: Scenario) -> None:
    metadata = {"order_id": "6735", "cart": "two books"}
    token = spt.issue(shared_metadata=metadata)
    expect_equal(token.issued.get("shared_metadata", ABSENT), metadata, "SPT-ISS-014", what="shared_metadata")


@pytest.mark.requirement("SPT-ISS-015")
@pytest.mark.uses("SPT-ISS-001")
def test_issue_and_retrieve_with_risk_details_expanded_carry_insights(spt: Scenario) -> None:
    created = spt.issue_exchange(expand=["risk_details"])
    body = expect_ok(created, "SPT-ISS-001", object_type=ISSUED_OBJECT)
    retrieved = spt.issued(str(body.get("id")), expand=["risk_details"])
    for exchange in (created, retrieved):
        view = expect_ok(exchange, "SPT-ISS-015", object_type=ISSUED_OBJECT)
        risk = view.get("risk_details")
        insights = risk.get("insights") if isinstance(risk, dict) else None
        dispute = insights.get("fraudulent_dispute") if isinstance(insights, dict) else None
        expect(
            isinstance(dispute, dict)
            and isinstance(dispute.get("score"), int | float)
            and isinstance(dispute.get("recommended_action"), str),
            "SPT-ISS-015",
            received=f"risk_details = {risk!r}",
            expected="risk_details.insights.fraudulent_dispute = {score: number, recommended_action: string}",
            tip="risk_details is an expandable field: return it when expand[] names it",
            exchanges=[exchange],
        )


@pytest.mark.requirement("SPT-ISS-016")
def test_issue_without_expires_at_reports_null_and_stays_usable(spt: Scenario) -> None:
    token = spt.issue(expires_at=None)
    limits = token.issued.get("usage_limits")
    expires_at = limits.get("expires_at", ABSENT) if isinstance(limits, dict) else ABSENT
    expect_equal(
        expires_at, None, "SPT-ISS-016", what="usage_limits.expires_at", tip="no expiry was sent: report null (D-17)"
    )
    payment = spt.pay(token.id, 100)
    expect_ok(payment, "SPT-ISS-016", object_type="payment_intent", tip="a token without expires_at does not expire")
    expect_equal(spt.read_issued(token.id).get("status"), "active", "SPT-ISS-016", what="status after a payment")


@pytest.mark.requirement("SPT-ISS-017")
def test_issue_echoes_external_id_and_setup_future_usage(spt: Scenario) -> None:
    seller_details = {"network_business_profile": spt.target.seller.network_business_profile, "external_id": "m_6735"}
    token = spt.issue(seller_details=seller_details, setup_future_usage="on_session")
    echoed = token.issued.get("seller_details")
    external_id = echoed.get("external_id", ABSENT) if isinstance(echoed, dict) else ABSENT
    expect_equal(external_id, "m_6735", "SPT-ISS-017", what="seller_details.external_id")
    expect_equal(token.issued.get("setup_future_usage", ABSENT), "on_session", "SPT-ISS-017", what="setup_future_usage")


# ---------------------------------------------------------------------------- optional forms (MAY)
@pytest.mark.requirement("SPT-ISS-012")
def test_issue_legacy_network_id_grants_to_that_seller(spt: Scenario) -> None:
    profile = spt.target.seller.network_business_profile
    exchange = spt.issue_exchange(seller_details={"network_id": profile})
    body = expect_ok(
        exchange, "SPT-ISS-012", object_type=ISSUED_OBJECT, tip="older docs send seller_details[network_id] (D-05)"
    )
    seller_details = body.get("seller_details")
    echoed = seller_details.get("network_business_profile", ABSENT) if isinstance(seller_details, dict) else ABSENT
    expect_equal(echoed, profile, "SPT-ISS-012", what="seller_details.network_business_profile", exchanges=[exchange])
    granted = spt.granted(str(body.get("id")))
    expect_ok(
        granted,
        "SPT-ISS-012",
        object_type="shared_payment.granted_token",
        tip="a token issued with network_id is granted to the seller that profile names",
    )


@pytest.mark.requirement("SPT-ISS-019")
@pytest.mark.parametrize("interval", ["hour", "day", "week", "month", "year"])
def test_issue_recurring_interval_is_echoed_with_count_one(spt: Scenario, interval: str) -> None:
    params = spt.issue_params()
    params["usage_limits"]["recurring"] = {"interval": interval}
    exchange = spt.agent.post(ISSUED, params)
    body = expect_ok(exchange, "SPT-ISS-019", object_type=ISSUED_OBJECT)
    limits = body.get("usage_limits")
    recurring = limits.get("recurring", ABSENT) if isinstance(limits, dict) else ABSENT
    shown = (
        {k: recurring.get(k, ABSENT) for k in ("interval", "interval_count")}
        if isinstance(recurring, dict)
        else recurring
    )
    expect_equal(
        shown,
        {"interval": interval, "interval_count": 1},
        "SPT-ISS-019",
        what="usage_limits.recurring",
        tip="interval_count defaults to 1 when not sent (D-16)",
        exchanges=[exchange],
    )
