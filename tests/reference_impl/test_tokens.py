"""Issuing, retrieving, revoking and the seller's test helpers, through the official SDK."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.reference_impl.conftest import World, error_of


def test_issue_valid_request_returns_active_issued_token(world: World) -> None:
    expires = int(time.time()) + 600
    token = world.issue(usage_limits={"max_amount": 1500, "expires_at": expires}, shared_metadata={"cart": "c1"})
    assert token.id.startswith("spt_")
    assert token.object == "shared_payment.issued_token"
    assert (token.status, token.deactivated_at, token.deactivated_reason) == ("active", None, None)
    assert token.livemode is False
    assert token.usage_details.amount_captured.value == 0
    assert token.usage_details.amount_captured.currency == "usd"
    assert token.usage_limits.to_dict() == {"currency": "usd", "max_amount": 1500, "expires_at": expires}
    assert token.seller_details.network_business_profile == world.seller.profile
    assert token.seller_details.external_id is None
    assert token.payment_method.startswith("pm_")
    assert token.payment_method != "pm_card_visa"
    assert token.shared_metadata.to_dict() == {"cart": "c1"}
    assert token.return_url is None
    assert token.next_action is None
    assert "risk_details" not in token


def test_issue_optional_fields_are_echoed(world: World) -> None:
    token = world.issue(
        seller_details={"network_business_profile": world.seller.profile, "external_id": "merchant_42"},
        setup_future_usage="on_session",
        return_url="https://agent.example/return",
        use_stripe_sdk=True,
    )
    assert token.seller_details.external_id == "merchant_42"
    assert token.setup_future_usage == "on_session"
    assert token.return_url == "https://agent.example/return"
    assert token.use_stripe_sdk is True


def test_issue_without_expiry_has_null_expires_at(world: World) -> None:
    token = world.agent.sdk.v1.shared_payment.issued_tokens.create(
        {
            "payment_method": "pm_card_visa",
            "seller_details": {"network_business_profile": world.seller.profile},
            "usage_limits": {"currency": "eur", "max_amount": 10},
        }
    )
    assert token.usage_limits.expires_at is None
    assert token.status == "active"


def test_issue_legacy_network_id_is_an_alias(world: World) -> None:
    token = world.issue(seller_details={"network_id": world.seller.profile})
    assert token.seller_details.network_business_profile == world.seller.profile
    granted = world.seller.sdk.v1.shared_payment.granted_tokens.retrieve(token.id)
    assert granted.id == token.id


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"usage_limits": {"max_amount": 0}}, "usage_limits[max_amount]"),
        ({"usage_limits": {"max_amount": -5}}, "usage_limits[max_amount]"),
        ({"usage_limits": {"currency": "US"}}, "usage_limits[currency]"),
        ({"usage_limits": {"currency": "abc"}}, "usage_limits[currency]"),
        ({"usage_limits": {"expires_at": 1_000_000}}, "usage_limits[expires_at]"),
        (
            {"seller_details": {"network_business_profile": "profile_test_nobody1234"}},
            "seller_details[network_business_profile]",
        ),
        ({"seller_details": {"external_id": "only_this"}}, "seller_details[network_business_profile]"),
        (
            {"usage_limits": {"recurring": {"interval": "month"}, "recurring_interval": "month"}},
            "usage_limits[recurring_interval]",
        ),
        ({"usage_limits": {"recurring": {"interval": "fortnight"}}}, "usage_limits[recurring][interval]"),
        ({"use_stripe_sdk": False}, "return_url"),
        ({"usage_limits": {"foo": "1"}}, "usage_limits[foo]"),
    ],
)
def test_issue_invalid_parameter_is_refused_with_param(world: World, overrides: dict[str, Any], param: str) -> None:
    err = error_of(lambda: world.issue(**overrides))
    assert err.http_status == 400
    assert err.error is not None
    assert (err.error.type, err.error.param) == ("invalid_request_error", param)


def test_issue_upper_case_currency_is_stored_lower_case_and_pays_in_any_case(world: World) -> None:
    token = world.issue(usage_limits={"currency": "USD"})
    assert token.usage_limits.currency == "usd"
    paid = world.pay(token.id, 100, currency="UsD")
    assert (paid.status, paid.currency) == ("succeeded", "usd")


def test_issue_seller_profile_of_an_agent_is_refused(world: World) -> None:
    agent_profile = world.server.accounts["agent"].profile
    err = error_of(lambda: world.issue(seller_details={"network_business_profile": agent_profile}))
    assert err.http_status == 400


@pytest.mark.parametrize("payment_method", ["pm_doesnotexist", "card_4242"])
def test_issue_unusable_payment_method_is_400_resource_missing(world: World, payment_method: str) -> None:
    err = error_of(lambda: world.issue(payment_method=payment_method))
    assert err.http_status == 400
    assert err.error is not None
    assert (err.error.code, err.error.param) == ("resource_missing", "payment_method")


def test_issue_another_accounts_payment_method_is_400_resource_missing(world: World) -> None:
    token = world.issue()
    pi = world.pay(token.id, 100)  # the clone belongs to the seller
    err = error_of(lambda: world.issue(payment_method=pi.payment_method))
    assert err.http_status == 400


def test_issue_concrete_payment_method_of_the_agent_is_reusable(world: World) -> None:
    first = world.issue()
    second = world.issue(payment_method=first.payment_method)
    assert second.payment_method == first.payment_method


def test_retrieve_issued_unchanged_token_equals_creation(world: World) -> None:
    token = world.issue(shared_metadata={"k": "v"})
    again = world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token.id)
    assert again.to_dict() == token.to_dict()


def test_retrieve_granted_view_agrees_with_issued_and_hides_issuer_fields(world: World) -> None:
    token = world.issue(shared_metadata={"order": "o-1"})
    granted = world.seller.sdk.v1.shared_payment.granted_tokens.retrieve(token.id)
    body = granted.to_dict()
    assert body["object"] == "shared_payment.granted_token"
    assert body["id"] == token.id
    assert body["usage_limits"] == token.usage_limits.to_dict()
    assert body["usage_details"] == token.usage_details.to_dict()
    assert body["shared_metadata"] == {"order": "o-1"}
    assert body["agent_details"] == {"network_business_profile": world.server.accounts["agent"].profile}
    card = body["payment_method_details"]["card"]
    assert body["payment_method_details"]["type"] == "card"
    assert (card["brand"], card["last4"], card["exp_month"], card["exp_year"]) == ("visa", "4242", 12, 2034)
    for field in ("status", "payment_method", "seller_details", "next_action", "setup_future_usage", "return_url"):
        assert field not in body
    assert token.payment_method not in str(body)


@pytest.mark.parametrize("view", ["issued", "granted"])
def test_retrieve_with_expand_risk_details_has_five_insights(world: World, view: str) -> None:
    token = world.issue()
    if view == "issued":
        obj = world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token.id, {"expand": ["risk_details"]})
    else:
        obj = world.seller.sdk.v1.shared_payment.granted_tokens.retrieve(token.id, {"expand": ["risk_details"]})
    insights = obj.risk_details.insights.to_dict()
    assert set(insights) == {"bot", "card_issuer_decline", "card_testing", "fraudulent_dispute", "stolen_card"}
    assert isinstance(insights["fraudulent_dispute"]["score"], int)
    assert isinstance(insights["bot"]["score"], float)
    assert insights["fraudulent_dispute"] == {"score": 8, "recommended_action": "continue"}


def test_retrieve_risk_details_of_fraudulent_card_recommends_block(world: World) -> None:
    token = world.issue(payment_method="pm_card_chargeDeclinedFraudulent")
    obj = world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token.id, {"expand": ["risk_details"]})
    assert obj.risk_details.insights.fraudulent_dispute.recommended_action == "block"


def test_retrieve_unknown_expansion_is_refused(world: World) -> None:
    token = world.issue()
    err = error_of(lambda: world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token.id, {"expand": ["seller"]}))
    assert err.http_status == 400
    assert err.error is not None
    assert err.error.param == "expand"


def _not_found_body(world: World, path: str, party_key: str) -> dict[str, Any]:
    party = {"agent": world.agent, "seller": world.seller, "other": world.other}[party_key]
    response = party.http.get(path)
    assert response.status_code == 404
    body: dict[str, Any] = response.json()["error"]
    return body


@pytest.mark.parametrize(
    ("view", "party"),
    [("issued", "seller"), ("issued", "other"), ("granted", "agent"), ("granted", "other")],
)
def test_retrieve_by_account_without_access_is_404_like_unknown_id(world: World, view: str, party: str) -> None:
    token = world.issue()
    base = f"/v1/shared_payment/{view}_tokens/"
    foreign = _not_found_body(world, base + token.id, party)
    missing = _not_found_body(world, base + "spt_doesnotexist0000000000", party)
    assert foreign["code"] == missing["code"] == "resource_missing"
    assert foreign["message"].replace(token.id, "X") == missing["message"].replace("spt_doesnotexist0000000000", "X")
    assert foreign["param"] == missing["param"]


def test_revoke_active_token_deactivates_both_views(world: World) -> None:
    token = world.issue()
    before = int(time.time())
    revoked = world.agent.sdk.v1.shared_payment.issued_tokens.revoke(token.id)
    assert (revoked.status, revoked.deactivated_reason) == ("deactivated", "revoked")
    assert before <= revoked.deactivated_at <= int(time.time()) + 1
    granted = world.seller.sdk.v1.shared_payment.granted_tokens.retrieve(token.id)
    assert (granted.deactivated_reason, granted.deactivated_at) == ("revoked", revoked.deactivated_at)


def test_revoke_twice_is_refused_and_changes_nothing(world: World) -> None:
    token = world.issue()
    first = world.agent.sdk.v1.shared_payment.issued_tokens.revoke(token.id)
    err = error_of(lambda: world.agent.sdk.v1.shared_payment.issued_tokens.revoke(token.id))
    assert err.http_status == 400
    assert err.error is not None
    assert err.error.code == "shared_payment_token_deactivated"
    after = world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token.id)
    assert after.to_dict() == first.to_dict()


def test_revoke_by_seller_on_issued_endpoint_is_404_and_changes_nothing(world: World) -> None:
    token = world.issue()
    response = world.seller.http.post(f"/v1/shared_payment/issued_tokens/{token.id}/revoke")
    assert response.status_code == 404
    assert world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token.id).status == "active"


def test_test_helper_create_grants_token_to_calling_seller(world: World) -> None:
    granted = world.seller.sdk.v1.test_helpers.shared_payment.granted_tokens.create(
        {"payment_method": "pm_card_mastercard", "usage_limits": {"currency": "usd", "max_amount": 500}}
    )
    assert granted.object == "shared_payment.granted_token"
    assert granted.id.startswith("spt_")
    assert granted.agent_details.network_business_profile is None
    assert granted.payment_method_details.card.last4 == "4444"
    assert granted.deactivated_at is None
    pi = world.pay(granted.id, 500)
    assert pi.status == "succeeded"
    assert world.other.http.get(f"/v1/shared_payment/granted_tokens/{granted.id}").status_code == 404


def test_test_helper_create_refuses_seller_details(world: World) -> None:
    response = world.seller.http.post(
        "/v1/test_helpers/shared_payment/granted_tokens",
        data={
            "payment_method": "pm_card_visa",
            "usage_limits[currency]": "usd",
            "usage_limits[max_amount]": "10",
            "seller_details[network_id]": "stripe_test_platform",
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("Received unknown parameter")


def test_test_helper_revoke_of_agent_token_shows_on_issued_view(world: World) -> None:
    token = world.issue()
    revoked = world.seller.sdk.v1.test_helpers.shared_payment.granted_tokens.revoke(token.id)
    assert revoked.deactivated_reason == "revoked"
    issued = world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token.id)
    assert (issued.status, issued.deactivated_reason) == ("deactivated", "revoked")
    err = error_of(lambda: world.pay(token.id, 10))
    assert err.error is not None
    assert err.error.code == "shared_payment_token_deactivated"


def test_test_helper_revoke_by_other_seller_is_404(world: World) -> None:
    token = world.issue()
    response = world.other.http.post(f"/v1/test_helpers/shared_payment/granted_tokens/{token.id}/revoke")
    assert response.status_code == 404
    assert world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token.id).status == "active"


def test_issue_recurring_limits_are_echoed_with_default_count(world: World) -> None:
    token = world.issue(usage_limits={"recurring": {"interval": "hour"}})
    assert token.usage_limits.recurring.to_dict() == {"interval": "hour", "interval_count": 1}
    legacy = world.issue(usage_limits={"recurring_interval": "week"})
    assert legacy.usage_limits.recurring_interval == "week"
