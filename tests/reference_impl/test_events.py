"""Events (pull) and webhook deliveries (push): routing, envelopes, paging, signatures, retries."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import stripe

from tests.reference_impl.conftest import Receiver, World


def _endpoint(world: World, receiver: Receiver, events: list[str], party_name: str = "agent") -> str:
    party = {"agent": world.agent, "seller": world.seller, "other": world.other}[party_name]
    endpoint = party.sdk.v1.webhook_endpoints.create({"url": receiver.url, "enabled_events": events})
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.id.startswith("we_")
    return str(endpoint.secret)


def test_event_envelope_is_a_v1_snapshot_of_the_receiving_view(world: World) -> None:
    token = world.issue()
    world.agent.sdk.v1.shared_payment.issued_tokens.revoke(token.id)
    agent_events = world.agent.sdk.v1.events.list({"type": "shared_payment.issued_token.deactivated", "limit": 5})
    event = next(e for e in agent_events.data if e.data.object.id == token.id)
    assert event.id.startswith("evt_")
    assert event.object == "event"
    assert event.livemode is False
    assert event.api_version
    assert isinstance(event.created, int)
    assert event.data.object.object == "shared_payment.issued_token"
    assert (event.data.object.status, event.data.object.deactivated_reason) == ("deactivated", "revoked")
    assert event.request.id.startswith("req_")
    seller_event = world.seller.sdk.v1.events.retrieve(
        next(
            e.id
            for e in world.seller.sdk.v1.events.list({"limit": 20}).data
            if e.data.object.id == token.id and e.type == "shared_payment.granted_token.deactivated"
        )
    )
    assert seller_event.data.object.object == "shared_payment.granted_token"


def test_event_of_another_account_is_404(world: World) -> None:
    token = world.issue()
    world.agent.sdk.v1.shared_payment.issued_tokens.revoke(token.id)
    event_id = world.agent.sdk.v1.events.list({"limit": 1}).data[0].id
    assert world.seller.http.get(f"/v1/events/{event_id}").status_code == 404
    assert world.other.http.get(f"/v1/events/{event_id}").status_code == 404


def test_events_list_pages_newest_first(fresh: Callable[..., World]) -> None:
    world = fresh()
    tokens = [world.issue() for _ in range(5)]
    for token in tokens:
        world.agent.sdk.v1.shared_payment.issued_tokens.revoke(token.id)
    first = world.agent.http.get("/v1/events", params={"limit": 2}).json()
    assert first["object"] == "list"
    assert first["has_more"] is True
    assert first["url"] == "/v1/events"
    ids = [e["data"]["object"]["id"] for e in first["data"]]
    assert ids == [tokens[4].id, tokens[3].id]
    second = world.agent.http.get("/v1/events", params={"limit": 2, "starting_after": first["data"][-1]["id"]}).json()
    assert [e["data"]["object"]["id"] for e in second["data"]] == [tokens[2].id, tokens[1].id]
    last = world.agent.http.get("/v1/events", params={"limit": 2, "starting_after": second["data"][-1]["id"]}).json()
    assert [e["data"]["object"]["id"] for e in last["data"]] == [tokens[0].id]
    assert last["has_more"] is False
    back = world.agent.http.get("/v1/events", params={"limit": 2, "ending_before": last["data"][0]["id"]}).json()
    assert [e["data"]["object"]["id"] for e in back["data"]] == [tokens[2].id, tokens[1].id]
    assert back["has_more"] is True


def test_events_list_filters_by_type_and_types(world: World) -> None:
    token = world.issue(usage_limits={"max_amount": 100})
    world.pay(token.id, 100)
    used = world.agent.http.get("/v1/events", params={"type": "shared_payment.issued_token.used"}).json()["data"]
    assert used
    assert {e["type"] for e in used} == {"shared_payment.issued_token.used"}
    both = world.agent.http.get(
        "/v1/events",
        params=[
            ("types[]", "shared_payment.issued_token.used"),
            ("types[]", "shared_payment.issued_token.deactivated"),
        ],
    ).json()["data"]
    assert {e["type"] for e in both} == {"shared_payment.issued_token.used", "shared_payment.issued_token.deactivated"}
    wildcard = world.agent.http.get("/v1/events", params={"type": "shared_payment.*"}).json()["data"]
    assert len(wildcard) >= 2
    bad = world.agent.http.get("/v1/events", params={"type": "x.y", "types[]": "x.y"})
    assert bad.status_code == 400


def test_webhook_delivery_verifies_with_sdk_and_routes_per_party(world: World, receiver: Receiver) -> None:
    secret = _endpoint(world, receiver, ["shared_payment.issued_token.used", "shared_payment.issued_token.deactivated"])
    token = world.issue(usage_limits={"max_amount": 200})
    started = time.monotonic()
    world.pay(token.id, 200)
    got = receiver.wait_for(2)
    mine = [r for r in got if r.json()["data"]["object"]["id"] == token.id]
    assert {r.json()["type"] for r in mine} == {
        "shared_payment.issued_token.used",
        "shared_payment.issued_token.deactivated",
    }
    for delivery in mine:
        event = stripe.Webhook.construct_event(delivery.body, delivery.headers["Stripe-Signature"], secret)
        assert event.data.object.object == "shared_payment.issued_token"
        assert delivery.at - started < 2.0
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(mine[0].body, mine[0].headers["Stripe-Signature"], "whsec_wrong")


def test_webhook_endpoint_receives_only_enabled_types(world: World, receiver: Receiver) -> None:
    _endpoint(world, receiver, ["shared_payment.granted_token.deactivated"], "seller")
    token = world.issue()
    world.pay(token.id, 10)
    world.agent.sdk.v1.shared_payment.issued_tokens.revoke(token.id)
    got = receiver.wait_for(1)
    time.sleep(0.2)
    assert [r.json()["type"] for r in receiver.received] == ["shared_payment.granted_token.deactivated"]
    assert got[0].json()["data"]["object"]["object"] == "shared_payment.granted_token"


def test_webhook_failed_delivery_is_retried_until_accepted(world: World, receiver: Receiver) -> None:
    receiver.status = lambda n: 500 if n < 3 else 200
    _endpoint(world, receiver, ["*"], "other")
    world.other.sdk.v1.test_helpers.shared_payment.granted_tokens.create(
        {"payment_method": "pm_card_visa", "usage_limits": {"currency": "usd", "max_amount": 5}}
    )
    token = world.other.sdk.v1.test_helpers.shared_payment.granted_tokens.create(
        {"payment_method": "pm_card_visa", "usage_limits": {"currency": "usd", "max_amount": 5}}
    )
    world.other.sdk.v1.test_helpers.shared_payment.granted_tokens.revoke(token.id)
    got = receiver.wait_for(3, timeout=5)
    assert len(got) == 3
    assert len({r.body for r in got}) >= 1
    assert {r.json()["id"] for r in got} == {got[0].json()["id"]}
    time.sleep(0.4)
    assert len(receiver.received) == 3  # accepted: no further attempt
    event = world.other.sdk.v1.events.retrieve(got[0].json()["id"])
    assert event.pending_webhooks == 0


def test_webhook_endpoint_deleted_is_not_listed_nor_delivered(world: World, receiver: Receiver) -> None:
    endpoint = world.seller.sdk.v1.webhook_endpoints.create({"url": receiver.url, "enabled_events": ["*"]})
    listed = world.seller.http.get("/v1/webhook_endpoints").json()
    assert endpoint.id in [e["id"] for e in listed["data"]]
    assert all("secret" not in e for e in listed["data"])
    deleted = world.seller.http.delete(f"/v1/webhook_endpoints/{endpoint.id}").json()
    assert deleted == {"id": endpoint.id, "object": "webhook_endpoint", "deleted": True}
    assert endpoint.id not in [e["id"] for e in world.seller.http.get("/v1/webhook_endpoints").json()["data"]]
    world.agent.sdk.v1.shared_payment.issued_tokens.revoke(world.issue().id)
    time.sleep(0.3)
    assert receiver.received == []
    assert world.seller.http.delete(f"/v1/webhook_endpoints/{endpoint.id}").status_code == 404


def test_webhook_endpoint_unknown_event_type_is_refused(world: World, receiver: Receiver) -> None:
    response = world.seller.http.post(
        "/v1/webhook_endpoints", data={"url": receiver.url, "enabled_events[0]": "charge.nonsense"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "enabled_events[0]"


def test_webhook_delivery_latency_is_low(world: World, receiver: Receiver) -> None:
    _endpoint(world, receiver, ["shared_payment.issued_token.deactivated"])
    delays = []
    for n in range(1, 11):
        token = world.issue()
        started = time.monotonic()
        world.agent.http.post(f"/v1/shared_payment/issued_tokens/{token.id}/revoke")
        got = receiver.wait_for(n)
        delays.append(got[-1].at - started)
    assert max(delays) < 0.2, delays
