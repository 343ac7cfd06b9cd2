"""Webhooks: signatures, endpoints and their secrets, enabled_events, retries (SPT-EVT-009..011, -014).

These tests register endpoints of their own on the receiver. What an endpoint must not receive
(a deleted one anything, a narrow one other types, a retried one a needless extra try) is an
expectation judged after the run's final quiet period; such endpoints live until then.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from conformance.client import Exchange, StripeClient
from conformance.deliveries import Delivery, DeliveryLog
from conformance.endpoints import WEBHOOK_ENDPOINTS, Endpoint, WebhookEndpoints, create_endpoint
from conformance.events import EventLog
from conformance.scenario import Scenario
from conformance.suite.event_steps import DEACTIVATED_ISSUED, USED_ISSUED, paid, revoked
from conformance.violation import Violation, expect, expect_equal, expect_ok


# ------------------------------------------------------------------ webhook endpoints of the test's own
@contextmanager
def own_endpoint(
    client: StripeClient, receiver: DeliveryLog, enabled_events: Sequence[str], *, requirement: str, fail_first: int = 0
) -> Iterator[Endpoint]:
    endpoint = create_endpoint(
        client, receiver, enabled_events=enabled_events, requirement=requirement, fail_first=fail_first
    )
    try:
        yield endpoint
    finally:
        client.delete(f"{WEBHOOK_ENDPOINTS}/{endpoint.id}")
        receiver.unregister(endpoint.name)


def lasting_endpoint(
    client: StripeClient,
    endpoints: WebhookEndpoints,
    enabled_events: Sequence[str],
    *,
    requirement: str,
    fail_first: int = 0,
) -> Endpoint:
    """A test's own endpoint that lives until the run's final judgement (then is deleted)."""
    endpoint = create_endpoint(
        client, endpoints.receiver, enabled_events=enabled_events, requirement=requirement, fail_first=fail_first
    )
    endpoints.keep_until_end(endpoint)
    return endpoint


def about(receiver: DeliveryLog, endpoint: Endpoint, object_id: str) -> list[Delivery]:
    return [
        d
        for d in receiver.deliveries(endpoint.name)
        if isinstance(d.event, Mapping) and (d.event.get("data") or {}).get("object", {}).get("id") == object_id
    ]


def await_delivery(
    receiver: DeliveryLog,
    endpoint: Endpoint,
    object_id: str,
    event_type: str,
    *,
    accepted: bool,
    events: EventLog,
    requirement: str,
) -> list[Delivery]:
    """Wait until `endpoint` got (and, if `accepted`, took) an event of `event_type` about `object_id`.

    As long as the run's patience for that event to the agent (`EventWatch.patience`): a server
    that has delivered nothing in the run gets one look, not a full wait per test."""
    watch = events.watch
    timeout = watch.patience("agent", event_type)

    def arrived(_: list[Delivery]) -> bool:
        return any(
            d.event is not None and d.event.get("type") == event_type and (d.accepted or not accepted)
            for d in about(receiver, endpoint, object_id)
        )

    came = receiver.wait(arrived, timeout)
    watch.starved("agent", event_type, fed=came, heard=bool(receiver.deliveries()))
    if not came:
        seen = [(d.event or {}).get("type") for d in about(receiver, endpoint, object_id)]
        raise Violation(
            requirement,
            received=f"deliveries to {endpoint.url} about {object_id}: {seen}",
            expected=f"a {event_type} delivery within {timeout:g} s",
            tip="deliver every event to each endpoint whose enabled_events include its type",
        )
    return about(receiver, endpoint, object_id)


def listed_endpoint_ids(client: StripeClient) -> tuple[set[str], list[Mapping[str, Any]], list[Exchange]]:
    params: dict[str, Any] = {"limit": 100}
    items: list[Mapping[str, Any]] = []
    pages: list[Exchange] = []
    for _ in range(50):
        exchange = client.get(WEBHOOK_ENDPOINTS, params)
        body = expect_ok(exchange, "SPT-EVT-010", object_type="list")
        pages.append(exchange)
        data = [e for e in body.get("data") or [] if isinstance(e, Mapping)]
        items += data
        if not body.get("has_more") or not data:
            break
        params["starting_after"] = data[-1].get("id")
    return {str(e.get("id")) for e in items}, items, pages


@pytest.mark.requirement("SPT-EVT-009")
@pytest.mark.uses("SPT-EVT-011", "SPT-REV-001", "SPT-USE-001")
def test_webhook_every_delivery_is_signed_with_the_endpoint_secret(
    spt: Scenario, webhook_receiver: DeliveryLog, events: EventLog
) -> None:
    with own_endpoint(spt.agent, webhook_receiver, ["*"], requirement="SPT-EVT-009") as endpoint:
        token = spt.issue()
        paid(spt, token, 300)
        revoked(spt, token)
        await_delivery(
            webhook_receiver,
            endpoint,
            token.id,
            DEACTIVATED_ISSUED,
            accepted=True,
            events=events,
            requirement="SPT-EVT-011",
        )
    # Every delivery this process received is judged, its own endpoint's and the shared ones'.
    for delivery in webhook_receiver.deliveries():
        verdict = delivery.signature
        if verdict is None:
            continue  # an endpoint whose secret the suite never learnt (none of its own)
        header = delivery.header("Stripe-Signature")
        expect(
            verdict.valid,
            "SPT-EVT-009",
            received=f"Stripe-Signature {header!r} on {delivery.event_id} to the {delivery.role}: {verdict.reason}",
            expected='t=<unix>,v1=<hex HMAC-SHA256 of "t.body" keyed with the endpoint\'s whsec_ secret>',
            tip="sign the exact bytes sent, with the secret returned when the endpoint was created",
        )
        age = delivery.received_wall - (verdict.timestamp or 0)
        expect(
            abs(age) <= 300,
            "SPT-EVT-009",
            received=f"t={verdict.timestamp} on a delivery received at {delivery.received_wall:.0f} ({age:+.0f} s)",
            expected="t within 300 s of the delivery",
            tip="stamp t with the real time of sending (not a test clock), and re-sign each retry",
        )


@pytest.mark.requirement("SPT-EVT-010")
@pytest.mark.uses("SPT-EVT-003", "SPT-EVT-011", "SPT-REV-001")
def test_webhook_endpoint_secret_listing_and_deletion(
    spt: Scenario, webhook_receiver: DeliveryLog, events: EventLog
) -> None:
    endpoint = create_endpoint(spt.agent, webhook_receiver, enabled_events=["*"], requirement="SPT-EVT-010")
    try:
        present, items, pages = listed_endpoint_ids(spt.agent)
        expect(
            endpoint.id in present,
            "SPT-EVT-010",
            received=f"{endpoint.id} not listed",
            expected="a webhook endpoint listed while it exists",
            exchanges=pages,
        )
        shown = [e for e in items if e.get("id") == endpoint.id and e.get("secret")]
        expect(
            not shown,
            "SPT-EVT-010",
            received="the listed endpoint shows its secret",
            expected="the secret only in the creation response",
            exchanges=pages,
        )
        before = spt.issue()
        revoked(spt, before)
        await_delivery(
            webhook_receiver,
            endpoint,
            before.id,
            DEACTIVATED_ISSUED,
            accepted=True,
            events=events,
            requirement="SPT-EVT-011",
        )
    finally:
        deletion = spt.agent.delete(f"{WEBHOOK_ENDPOINTS}/{endpoint.id}")
    body = expect_ok(deletion, "SPT-EVT-010")
    expect_equal(
        (body.get("id"), body.get("deleted")),
        (endpoint.id, True),
        "SPT-EVT-010",
        what="(id, deleted) of the deletion",
        exchanges=[deletion],
    )
    present, _, pages = listed_endpoint_ids(spt.agent)
    expect(
        endpoint.id not in present,
        "SPT-EVT-010",
        received=f"{endpoint.id} still listed after deletion",
        expected="a deleted endpoint is not listed",
        exchanges=pages,
    )
    after = spt.issue()
    revoked(spt, after)
    events.wait_for("agent", DEACTIVATED_ISSUED, after.id, requirement="SPT-EVT-003")

    def nothing_after_deletion() -> Violation | None:
        stray = about(webhook_receiver, endpoint, after.id)
        if not stray:
            return None
        return Violation(
            "SPT-EVT-010",
            received=f"{len(stray)} deliveries about {after.id} to the deleted endpoint {endpoint.id}",
            expected="nothing delivered to a deleted endpoint",
            tip="drop an endpoint's pending deliveries on delete",
        )

    # Its path stays open on the receiver, so that a late delivery is seen by the final judgement.
    events.expect("SPT-EVT-010", nothing_after_deletion, about=f"nothing to the deleted {endpoint.id}")


@pytest.mark.requirement("SPT-EVT-011")
@pytest.mark.uses("SPT-REV-001", "SPT-USE-001")
def test_webhook_endpoint_receives_exactly_its_enabled_events(
    spt: Scenario, webhook_endpoints: WebhookEndpoints, events: EventLog
) -> None:
    receiver = webhook_endpoints.receiver
    narrow = lasting_endpoint(spt.agent, webhook_endpoints, [DEACTIVATED_ISSUED], requirement="SPT-EVT-011")
    wide = lasting_endpoint(spt.agent, webhook_endpoints, ["*"], requirement="SPT-EVT-011")
    token = spt.issue()
    paid(spt, token, 300)
    revoked(spt, token)
    for event_type in (USED_ISSUED, DEACTIVATED_ISSUED):
        await_delivery(receiver, wide, token.id, event_type, accepted=True, events=events, requirement="SPT-EVT-011")
    await_delivery(
        receiver, narrow, token.id, DEACTIVATED_ISSUED, accepted=True, events=events, requirement="SPT-EVT-011"
    )

    def only_enabled_types() -> Violation | None:
        types = sorted({str((d.event or {}).get("type")) for d in about(receiver, narrow, token.id)})
        if types == [DEACTIVATED_ISSUED]:
            return None
        return Violation(
            "SPT-EVT-011",
            received=f"event types {types} delivered about {token.id} to an endpoint with enabled_events "
            f"[{DEACTIVATED_ISSUED}]",
            expected=f"[{DEACTIVATED_ISSUED!r}]",
            tip="deliver an event only to the endpoints whose enabled_events include its type",
        )

    events.expect("SPT-EVT-011", only_enabled_types, about=f"only enabled events to {narrow.id}")


@pytest.mark.requirement("SPT-EVT-014")
@pytest.mark.uses("SPT-REV-001")
def test_webhook_failed_delivery_is_retried_until_accepted(
    spt: Scenario, webhook_endpoints: WebhookEndpoints, events: EventLog
) -> None:
    receiver = webhook_endpoints.receiver
    endpoint = lasting_endpoint(
        spt.agent, webhook_endpoints, [DEACTIVATED_ISSUED], requirement="SPT-EVT-014", fail_first=2
    )
    token = spt.issue()
    revoked(spt, token)
    await_delivery(
        receiver, endpoint, token.id, DEACTIVATED_ISSUED, accepted=True, events=events, requirement="SPT-EVT-014"
    )
    receiver.configure(endpoint.name, fail_first=0)  # the rest of the run's events are taken at once
    tries = about(receiver, endpoint, token.id)
    expect_equal(len({d.event_id for d in tries}), 1, "SPT-EVT-014", what="distinct event ids across the retries")
    gaps = [later.received_monotonic - earlier.received_monotonic for earlier, later in itertools.pairwise(tries)]
    expect(
        all(gap >= 0.05 for gap in gaps),
        "SPT-EVT-014",
        received=f"retries after {[round(g, 3) for g in gaps]} s",
        expected="a pause (backoff) before each retry",
        tip="back off exponentially between attempts",
    )

    def retried_until_accepted() -> Violation | None:
        outcome = [(d.attempt, d.status) for d in about(receiver, endpoint, token.id)]
        if outcome == [(1, 500), (2, 500), (3, 200)]:
            return None
        return Violation(
            "SPT-EVT-014",
            received=f"(attempt, answer) of each delivery about {token.id}: {outcome}",
            expected="[(1, 500), (2, 500), (3, 200)] to an endpoint failing its first two",
            tip="retry a non-2xx delivery with backoff, and stop once it is accepted",
        )

    events.expect("SPT-EVT-014", retried_until_accepted, about=f"no needless retry to {endpoint.id}")
