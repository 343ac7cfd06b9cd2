"""Paying with a granted token through PaymentIntents, declines, limits, refunds, concurrency."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from tests.reference_impl.conftest import World, error_of


def _captured(world: World, token_id: str) -> int:
    value: int = world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token_id).usage_details.amount_captured.value
    return value


def test_pay_within_limits_succeeds_with_seller_clone(world: World) -> None:
    token = world.issue()
    pi = world.pay(token.id, 400, expand=["latest_charge", "payment_method"])
    assert pi.status == "succeeded"
    assert pi.amount_received == 400
    assert pi.id.startswith("pi_")
    clone = pi.payment_method
    assert clone.id.startswith("pm_")
    assert clone.id != token.payment_method
    assert clone.shared_payment_granted_token == token.id
    assert clone.card.checks.cvc_check is None
    assert clone.customer is None
    assert clone.metadata.to_dict() == {}
    charge = pi.latest_charge
    assert charge.id.startswith("ch_")
    assert charge.status == "succeeded"
    assert charge.payment_method_details.shared_payment_granted_token == token.id
    assert charge.amount_captured == 400
    assert token.payment_method not in str(pi.to_dict())
    assert _captured(world, token.id) == 400


def test_pay_clone_is_readable_by_seller_only(world: World) -> None:
    token = world.issue()
    pi = world.pay(token.id, 10)
    assert world.seller.http.get(f"/v1/payment_methods/{pi.payment_method}").status_code == 200
    assert world.other.http.get(f"/v1/payment_methods/{pi.payment_method}").status_code == 404
    assert world.other.http.get(f"/v1/payment_intents/{pi.id}").status_code == 404
    original = world.agent.http.get(f"/v1/payment_methods/{token.payment_method}").json()
    assert original["card"]["checks"]["cvc_check"] == "pass"
    assert world.seller.http.get(f"/v1/payment_methods/{token.payment_method}").status_code == 404


def test_pay_partial_uses_accumulate_until_consumed(world: World) -> None:
    token = world.issue()
    world.pay(token.id, 300)
    world.pay(token.id, 300)
    assert world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token.id).status == "active"
    last = world.pay(token.id, 400)
    assert last.status == "succeeded"
    issued = world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token.id)
    assert (issued.status, issued.deactivated_reason) == ("deactivated", "consumed")
    assert issued.usage_details.amount_captured.value == 1000
    err = error_of(lambda: world.pay(token.id, 1))
    assert err.http_status == 400
    assert err.error is not None
    assert err.error.code == "shared_payment_token_deactivated"
    assert err.error.param == "payment_method_data[shared_payment_granted_token]"


@pytest.mark.parametrize(
    ("amount", "currency", "code", "param"),
    [
        (1001, "usd", "amount_too_large", "amount"),
        (10, "eur", "shared_payment_token_currency_mismatch", "currency"),
    ],
)
def test_pay_outside_limits_is_refused_and_creates_nothing(
    world: World, amount: int, currency: str, code: str, param: str
) -> None:
    token = world.issue()
    before = world.seller.http.get("/v1/events", params={"limit": 1}).json()["data"]
    err = error_of(lambda: world.pay(token.id, amount, currency))
    assert err.http_status == 400
    assert err.error is not None
    assert (err.error.code, err.error.param) == (code, param)
    assert _captured(world, token.id) == 0
    assert world.seller.http.get("/v1/events", params={"limit": 1}).json()["data"] == before


def test_pay_over_remaining_headroom_is_refused(world: World) -> None:
    token = world.issue()
    world.pay(token.id, 700)
    err = error_of(lambda: world.pay(token.id, 301))
    assert err.error is not None
    assert err.error.code == "amount_too_large"
    assert world.pay(token.id, 300).status == "succeeded"


@pytest.mark.parametrize(
    ("pm", "decline_code"),
    [
        ("pm_card_chargeDeclined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("pm_card_chargeDeclinedFraudulent", "fraudulent"),
    ],
)
def test_pay_declined_card_answers_402_and_consumes_nothing(world: World, pm: str, decline_code: str) -> None:
    token = world.issue(payment_method=pm)
    response = world.seller.http.post(
        "/v1/payment_intents",
        data={
            "amount": "100",
            "currency": "usd",
            "confirm": "true",
            "payment_method_data[shared_payment_granted_token]": token.id,
        },
    )
    assert response.status_code == 402
    error = response.json()["error"]
    assert (error["type"], error["code"], error["decline_code"]) == ("card_error", "card_declined", decline_code)
    intent = error["payment_intent"]
    assert intent["status"] == "requires_payment_method"
    assert intent["id"].startswith("pi_")
    assert intent["last_payment_error"]["decline_code"] == decline_code
    assert world.seller.http.get(f"/v1/payment_intents/{intent['id']}").json()["status"] == "requires_payment_method"
    issued = world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token.id)
    assert (issued.status, issued.usage_details.amount_captured.value) == ("active", 0)
    assert token.payment_method not in response.text


def test_pay_declined_with_sdk_raises_card_error(world: World) -> None:
    token = world.issue(payment_method="pm_card_chargeDeclined")
    err = error_of(lambda: world.pay(token.id, 100))
    assert err.http_status == 402
    assert err.code == "card_declined"


def test_pay_legacy_top_level_parameter_is_accepted(world: World) -> None:
    token = world.issue()
    pi = world.seller.sdk.v1.payment_intents.create(
        {"amount": 100, "currency": "usd", "confirm": True, "shared_payment_granted_token": token.id}
    )
    assert pi.status == "succeeded"


def test_pay_both_token_parameters_is_refused(world: World) -> None:
    token = world.issue()
    response = world.seller.http.post(
        "/v1/payment_intents",
        data={
            "amount": "10",
            "currency": "usd",
            "confirm": "true",
            "shared_payment_granted_token": token.id,
            "payment_method_data[shared_payment_granted_token]": token.id,
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "shared_payment_granted_token"


@pytest.mark.parametrize("extra", [{"payment_method_data[type]": "klarna"}, {"shared_payment_token": "x"}])
def test_pay_unsupported_parameters_are_refused(world: World, extra: dict[str, str]) -> None:
    token = world.issue()
    data = {"amount": "10", "currency": "usd", "confirm": "true"}
    data["payment_method_data[shared_payment_granted_token]"] = token.id
    response = world.seller.http.post("/v1/payment_intents", data={**data, **extra})
    assert response.status_code == 400


def test_pay_with_type_card_is_accepted(world: World) -> None:
    token = world.issue()
    pi = world.pay(token.id, 5, payment_method_data={"type": "card", "shared_payment_granted_token": token.id})
    assert pi.status == "succeeded"


def test_pay_unconfirmed_then_confirm_uses_token(world: World) -> None:
    token = world.issue()
    pi = world.seller.sdk.v1.payment_intents.create({"amount": 250, "currency": "usd"})
    assert pi.status == "requires_payment_method"
    done = world.seller.sdk.v1.payment_intents.confirm(
        pi.id, {"payment_method_data": {"shared_payment_granted_token": token.id}}
    )
    assert done.status == "succeeded"
    assert _captured(world, token.id) == 250
    err = error_of(lambda: world.seller.sdk.v1.payment_intents.confirm(pi.id))
    assert err.error is not None
    assert err.error.code == "payment_intent_unexpected_state"


def test_pay_created_with_token_unconfirmed_then_confirmed_without_params(world: World) -> None:
    token = world.issue()
    pi = world.seller.sdk.v1.payment_intents.create(
        {"amount": 100, "currency": "usd", "payment_method_data": {"shared_payment_granted_token": token.id}}
    )
    assert pi.status == "requires_confirmation"
    assert _captured(world, token.id) == 0
    assert world.seller.sdk.v1.payment_intents.confirm(pi.id).status == "succeeded"


def test_pay_confirm_refused_leaves_intent_unchanged(world: World) -> None:
    token = world.issue()
    pi = world.seller.sdk.v1.payment_intents.create({"amount": 5000, "currency": "usd"})
    err = error_of(
        lambda: world.seller.sdk.v1.payment_intents.confirm(
            pi.id, {"payment_method_data": {"shared_payment_granted_token": token.id}}
        )
    )
    assert err.error is not None
    assert err.error.code == "amount_too_large"
    assert world.seller.sdk.v1.payment_intents.retrieve(pi.id).status == "requires_payment_method"


@pytest.mark.parametrize("who", ["other", "agent"])
def test_pay_with_token_not_granted_to_caller_is_400_resource_missing(world: World, who: str) -> None:
    token = world.issue()
    party = world.other if who == "other" else world.agent
    err = error_of(lambda: world.pay(token.id, 10, party=party))
    assert err.http_status == 400  # a token named in a parameter, as Stripe answers
    assert err.error is not None
    assert (err.error.code, err.error.param) == (
        "resource_missing",
        "payment_method_data[shared_payment_granted_token]",
    )
    assert _captured(world, token.id) == 0


def test_pay_unknown_token_is_400_resource_missing(world: World) -> None:
    err = error_of(lambda: world.pay("spt_nonexistent000000000000", 10))
    assert err.http_status == 400
    assert err.error is not None
    assert err.error.code == "resource_missing"


def test_pay_capture_method_manual_is_refused(world: World) -> None:
    token = world.issue()
    err = error_of(lambda: world.pay(token.id, 10, capture_method="manual"))
    assert err.http_status == 400
    assert _captured(world, token.id) == 0


def test_refund_does_not_restore_headroom(world: World) -> None:
    token = world.issue()
    pi = world.pay(token.id, 1000)
    refund = world.seller.sdk.v1.refunds.create({"payment_intent": pi.id, "amount": 400})
    assert refund.id.startswith("re_")
    assert (refund.status, refund.amount) == ("succeeded", 400)
    issued = world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token.id)
    assert (issued.usage_details.amount_captured.value, issued.deactivated_reason) == (1000, "consumed")
    rest = world.seller.sdk.v1.refunds.create({"charge": pi.latest_charge})
    assert rest.amount == 600
    err = error_of(lambda: world.seller.sdk.v1.refunds.create({"payment_intent": pi.id}))
    assert err.error is not None
    assert err.error.code == "charge_already_refunded"
    charge = world.seller.sdk.v1.payment_intents.retrieve(pi.id, {"expand": ["latest_charge"]}).latest_charge
    assert (charge.amount_refunded, charge.refunded) == (1000, True)


def test_refund_over_remaining_and_foreign_intent_are_refused(world: World) -> None:
    token = world.issue()
    pi = world.pay(token.id, 100)
    err = error_of(lambda: world.seller.sdk.v1.refunds.create({"payment_intent": pi.id, "amount": 101}))
    assert err.error is not None
    assert err.error.code == "amount_too_large"
    err = error_of(lambda: world.other.sdk.v1.refunds.create({"payment_intent": pi.id}))
    assert err.http_status == 400
    assert err.error is not None
    assert (err.error.code, err.error.param) == ("resource_missing", "payment_intent")


def test_pay_concurrent_payments_never_exceed_the_cap(world: World) -> None:
    """20 payments of 70 against a cap of 1000 at once: exactly 14 fit and succeed."""
    token = world.issue()
    results: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)
    data = {
        "amount": "70",
        "currency": "usd",
        "confirm": "true",
        "payment_method_data[shared_payment_granted_token]": token.id,
    }

    def pay() -> None:
        with httpx.Client(base_url=world.server.base_url, auth=(world.seller.key, ""), timeout=10) as client:
            barrier.wait()
            status = client.post("/v1/payment_intents", data=data).status_code
        with lock:
            results.append(status)

    threads = [threading.Thread(target=pay) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200] * 14 + [400] * 6
    assert _captured(world, token.id) == 980


def _events_for(world: World, token_id: str, party: Any) -> list[str]:
    data = party.http.get("/v1/events", params={"limit": 100}).json()["data"]
    return [e["type"] for e in data if e["data"]["object"]["id"] == token_id]


def test_pay_success_emits_used_events_to_both_parties_only(world: World) -> None:
    token = world.issue()
    world.pay(token.id, 100)
    assert _events_for(world, token.id, world.agent) == ["shared_payment.issued_token.used"]
    assert _events_for(world, token.id, world.seller) == ["shared_payment.granted_token.used"]
    assert _events_for(world, token.id, world.other) == []


def test_pay_reaching_cap_emits_used_then_deactivated(world: World) -> None:
    token = world.issue(usage_limits={"max_amount": 50})
    world.pay(token.id, 50)
    time.sleep(0)  # events are committed with the payment; nothing to wait for
    assert _events_for(world, token.id, world.agent) == [
        "shared_payment.issued_token.deactivated",
        "shared_payment.issued_token.used",
    ]
    assert _events_for(world, token.id, world.seller) == [
        "shared_payment.granted_token.deactivated",
        "shared_payment.granted_token.used",
    ]
