"""Every kind of response validates against its schema in spec/openapi.yaml (SPT-WIRE-008)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from tests.reference_impl.conftest import Receiver, World

OPENAPI = Path(__file__).resolve().parents[2] / "spec" / "openapi.yaml"


@pytest.fixture(scope="module")
def components() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))["components"]
    return data


def _check(components: dict[str, Any], schema: str, response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    root = {"$ref": f"#/components/schemas/{schema}", "components": components}
    jsonschema.Draft202012Validator(root).validate(body)
    return body


def test_views_token_objects_match_schemas(world: World, components: dict[str, Any]) -> None:
    form = {
        "payment_method": "pm_card_amex",
        "seller_details[network_business_profile]": world.seller.profile,
        "usage_limits[currency]": "usd",
        "usage_limits[max_amount]": "300",
        "usage_limits[recurring][interval]": "month",
        "shared_metadata[a]": "b",
        "expand[]": "risk_details",
    }
    issued = _check(
        components, "shared_payment.issued_token", world.agent.http.post("/v1/shared_payment/issued_tokens", data=form)
    )
    token = issued["id"]
    for expand in ({}, {"expand[]": "risk_details"}):
        _check(
            components,
            "shared_payment.issued_token",
            world.agent.http.get(f"/v1/shared_payment/issued_tokens/{token}", params=expand),
        )
        _check(
            components,
            "shared_payment.granted_token",
            world.seller.http.get(f"/v1/shared_payment/granted_tokens/{token}", params=expand),
        )
    helper = world.seller.http.post(
        "/v1/test_helpers/shared_payment/granted_tokens",
        data={
            "payment_method": "pm_card_visa",
            "usage_limits[currency]": "usd",
            "usage_limits[max_amount]": "5",
            "usage_limits[recurring_interval]": "year",
        },
    )
    granted = _check(components, "shared_payment.granted_token", helper)
    _check(
        components,
        "shared_payment.granted_token",
        world.seller.http.post(f"/v1/test_helpers/shared_payment/granted_tokens/{granted['id']}/revoke"),
    )
    _check(
        components,
        "shared_payment.issued_token",
        world.agent.http.post(f"/v1/shared_payment/issued_tokens/{token}/revoke"),
    )


def test_views_payment_objects_match_schemas(world: World, components: dict[str, Any]) -> None:
    token = world.issue()
    pay = {
        "amount": "100",
        "currency": "usd",
        "confirm": "true",
        "payment_method_data[shared_payment_granted_token]": token.id,
    }
    intent = _check(
        components,
        "payment_intent",
        world.seller.http.post(
            "/v1/payment_intents", data={**pay, "expand[0]": "latest_charge", "expand[1]": "payment_method"}
        ),
    )
    _check(components, "payment_intent", world.seller.http.get(f"/v1/payment_intents/{intent['id']}"))
    _check(components, "charge", httpx.Response(200, json=intent["latest_charge"]))
    _check(components, "payment_method", world.seller.http.get(f"/v1/payment_methods/{intent['payment_method']['id']}"))
    _check(components, "payment_method", world.agent.http.get(f"/v1/payment_methods/{token.payment_method}"))
    _check(
        components,
        "refund",
        world.seller.http.post("/v1/refunds", data={"payment_intent": intent["id"], "amount": "10"}),
    )
    unconfirmed = _check(
        components,
        "payment_intent",
        world.seller.http.post("/v1/payment_intents", data={"amount": "5", "currency": "usd"}),
    )
    _check(
        components,
        "payment_intent",
        world.seller.http.post(
            f"/v1/payment_intents/{unconfirmed['id']}/confirm",
            data={"payment_method_data[shared_payment_granted_token]": token.id},
        ),
    )


def test_views_errors_match_schema(world: World, components: dict[str, Any]) -> None:
    declined = world.issue(payment_method="pm_card_chargeDeclined")
    pay = {
        "amount": "100",
        "currency": "usd",
        "confirm": "true",
        "payment_method_data[shared_payment_granted_token]": declined.id,
    }
    body = _check(components, "error", world.seller.http.post("/v1/payment_intents", data=pay), 402)
    assert body["error"]["payment_intent"]["status"] == "requires_payment_method"
    _check(components, "error", world.seller.http.get("/v1/payment_intents/pi_nope"), 404)
    _check(components, "error", world.seller.http.post("/v1/payment_intents", data={}), 400)
    _check(components, "error", httpx.get(f"{world.server.base_url}/v1/events"), 401)
    _check(components, "error", world.seller.http.get("/v1/nowhere"), 404)


def test_views_events_and_endpoints_match_schemas(world: World, components: dict[str, Any], receiver: Receiver) -> None:
    endpoint = _check(
        components,
        "webhook_endpoint",
        world.agent.http.post(
            "/v1/webhook_endpoints", data={"url": receiver.url, "enabled_events[]": "*", "description": "d"}
        ),
    )
    assert endpoint["secret"].startswith("whsec_")
    listed = _check(components, "webhook_endpoint_list", world.agent.http.get("/v1/webhook_endpoints"))
    assert all("secret" not in e for e in listed["data"])
    token = world.issue()
    world.agent.http.post(f"/v1/shared_payment/issued_tokens/{token.id}/revoke")
    events = _check(components, "event_list", world.agent.http.get("/v1/events"))
    _check(
        components, "shared_payment_issued_token_event", world.agent.http.get(f"/v1/events/{events['data'][0]['id']}")
    )
    seller_events = world.seller.http.get("/v1/events", params={"limit": 1}).json()["data"]
    _check(components, "shared_payment_granted_token_event", httpx.Response(200, json=seller_events[0]))
    delivered = receiver.wait_for(1)[0]
    _check(components, "shared_payment_issued_token_event", httpx.Response(200, content=delivered.body))
    _check(components, "deleted_webhook_endpoint", world.agent.http.delete(f"/v1/webhook_endpoints/{endpoint['id']}"))
    _check(
        components, "test_helpers.shared_payment.clock", world.agent.http.get("/v1/test_helpers/shared_payment/clock")
    )
