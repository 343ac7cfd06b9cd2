"""Events and webhooks (SPT-EVT-*), and expiry noticed without a call (SPT-EXP-004).

Each party hears about its own view of a token: the agent gets shared_payment.issued_token.*,
the seller shared_payment.granted_token.*, nobody else anything. Events are observed through the
`events` fixture (pushed to the suite's receiver or pulled from /v1/events) and matched by the
token's id; "exactly once" and "nothing" are read after the events have settled. Tests of the
webhook machinery itself (signatures, endpoints, enabled_events, retries) register their own
endpoints on the receiver and remove them when done.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from conformance.client import Exchange, StripeClient
from conformance.events import EVENTS, WEBHOOK_ENDPOINTS, Endpoint, EventLog, ObservedEvent, create_endpoint
from conformance.receiver import Delivery, Receiver
from conformance.scenario import Scenario, Token
from conformance.session import RunState
from conformance.violation import Violation, expect, expect_equal, expect_ok, expect_refused

USED_ISSUED = "shared_payment.issued_token.used"
USED_GRANTED = "shared_payment.granted_token.used"
DEACTIVATED_ISSUED = "shared_payment.issued_token.deactivated"
DEACTIVATED_GRANTED = "shared_payment.granted_token.deactivated"
ISSUED_OBJECT = "shared_payment.issued_token"
GRANTED_OBJECT = "shared_payment.granted_token"
REASONS = ("revoked", "consumed", "expired")


# ------------------------------------------------------------------ set-up vocabulary
def paid(spt: Scenario, token: Token, amount: int) -> dict[str, Any]:
    """A payment the test relies on; its failure is SPT-USE-001's."""
    return expect_ok(spt.pay(token.id, amount), "SPT-USE-001", object_type="payment_intent")


def revoked(spt: Scenario, token: Token) -> None:
    expect_ok(spt.revoke(token.id), "SPT-REV-001", object_type=ISSUED_OBJECT)


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


def of_type(events: Sequence[ObservedEvent], event_type: str) -> list[ObservedEvent]:
    return [e for e in events if e.type == event_type]


def ids(events: Sequence[ObservedEvent]) -> list[str]:
    return [e.id for e in events]


# ------------------------------------------------------------------ used events
@pytest.mark.requirement("SPT-EVT-001")
@pytest.mark.uses("SPT-USE-001")
def test_used_event_each_payment_sends_one_to_the_agent(spt: Scenario, events: EventLog) -> None:
    token = spt.issue(max_amount=1000)
    paid(spt, token, 300)
    paid(spt, token, 200)
    events.wait_for("agent", USED_ISSUED, token.id, count=2, requirement="SPT-EVT-001")
    used = of_type(events.settle("agent", token.id), USED_ISSUED)
    expect_equal(
        len(used),
        2,
        "SPT-EVT-001",
        what=f"{USED_ISSUED} events about the token after two payments",
        tip=f"events received: {ids(used)}; send one per succeeded payment, never more",
    )


@pytest.mark.requirement("SPT-EVT-002")
@pytest.mark.uses("SPT-USE-001")
def test_used_event_each_payment_sends_one_to_the_seller(spt: Scenario, events: EventLog) -> None:
    token = spt.issue(max_amount=1000)
    paid(spt, token, 300)
    paid(spt, token, 200)
    events.wait_for("seller", USED_GRANTED, token.id, count=2, requirement="SPT-EVT-002")
    used = of_type(events.settle("seller", token.id), USED_GRANTED)
    expect_equal(
        len(used),
        2,
        "SPT-EVT-002",
        what=f"{USED_GRANTED} events about the token after two payments",
        tip=f"events received: {ids(used)}; send one per succeeded payment, never more",
    )


# ------------------------------------------------------------------ deactivated events
@pytest.mark.requirement("SPT-EVT-003")
@pytest.mark.uses("SPT-REV-001", "SPT-USE-001")
@pytest.mark.parametrize("reason", REASONS)
def test_deactivated_event_every_reason_sends_one_to_the_agent(spt: Scenario, events: EventLog, reason: str) -> None:
    token = deactivated(spt, reason)
    events.wait_for("agent", DEACTIVATED_ISSUED, token.id, requirement="SPT-EVT-003")
    spt.revoke(token.id)  # refused on a dead token; it must not deactivate it again
    got = of_type(events.settle("agent", token.id), DEACTIVATED_ISSUED)
    expect_equal(
        len(got),
        1,
        "SPT-EVT-003",
        what=f"{DEACTIVATED_ISSUED} events about a token {reason}",
        tip=f"events received: {ids(got)}; a token is deactivated once, so it is announced once",
    )


@pytest.mark.requirement("SPT-EVT-004")
@pytest.mark.uses("SPT-REV-001", "SPT-USE-001")
@pytest.mark.parametrize("reason", REASONS)
def test_deactivated_event_every_reason_sends_one_to_the_seller(spt: Scenario, events: EventLog, reason: str) -> None:
    token = deactivated(spt, reason)
    events.wait_for("seller", DEACTIVATED_GRANTED, token.id, requirement="SPT-EVT-004")
    spt.revoke(token.id)
    got = of_type(events.settle("seller", token.id), DEACTIVATED_GRANTED)
    expect_equal(
        len(got),
        1,
        "SPT-EVT-004",
        what=f"{DEACTIVATED_GRANTED} events about a token {reason}",
        tip=f"events received: {ids(got)}; a token is deactivated once, so it is announced once",
    )


# ------------------------------------------------------------------ what an event is
def used_and_revoked(spt: Scenario, events: EventLog) -> tuple[Token, list[ObservedEvent]]:
    """A token paid once and revoked, with the events each party got about it."""
    token = spt.issue(max_amount=1000)
    paid(spt, token, 300)
    revoked(spt, token)
    agent = [
        *events.wait_for("agent", USED_ISSUED, token.id, requirement="SPT-EVT-001"),
        *events.wait_for("agent", DEACTIVATED_ISSUED, token.id, requirement="SPT-EVT-003"),
    ]
    seller = events.wait_for("seller", DEACTIVATED_GRANTED, token.id, requirement="SPT-EVT-004")
    # The seller's used event is a SHOULD; take it if it came, without waiting for it.
    seller += [e for e in events.observed("seller") if e.object_id == token.id and e.type == USED_GRANTED]
    return token, agent + seller


def envelope_problems(event: Mapping[str, Any]) -> list[str]:
    problems = []
    if not (isinstance(event.get("id"), str) and event["id"].startswith("evt_")):
        problems.append(f"id {event.get('id')!r} is not an evt_ id")
    if event.get("object") != "event":
        problems.append(f"object is {event.get('object')!r}, not 'event'")
    if not isinstance(event.get("type"), str):
        problems.append("type is missing")
    created = event.get("created")
    if not isinstance(created, int) or isinstance(created, bool):
        problems.append(f"created {created!r} is not a unix time")
    if not isinstance(event.get("livemode"), bool):
        problems.append(f"livemode {event.get('livemode')!r} is not a boolean")
    if "api_version" not in event or not isinstance(event["api_version"], str | None):
        problems.append("api_version is missing")
    data = event.get("data")
    if not (isinstance(data, Mapping) and isinstance(data.get("object"), Mapping)):
        problems.append("data.object is not an object")
    return problems


@pytest.mark.requirement("SPT-EVT-005")
@pytest.mark.uses("SPT-EVT-001", "SPT-EVT-003", "SPT-EVT-004", "SPT-REV-001", "SPT-USE-001")
def test_event_envelope_is_a_v1_event(spt: Scenario, events: EventLog) -> None:
    _, observed = used_and_revoked(spt, events)
    for event in observed:
        problems = envelope_problems(event.event)
        expect(
            not problems,
            "SPT-EVT-005",
            received=f"{event.type} to the {event.role}: {'; '.join(problems)}",
            expected="a v1 event: evt_ id, object event, type, created, livemode, api_version and data.object",
            tip="use Stripe's snapshot event envelope, as stripe.Event parses it",
        )


@pytest.mark.requirement("SPT-EVT-006")
@pytest.mark.uses("SPT-EVT-001", "SPT-EVT-003", "SPT-EVT-004", "SPT-REV-001", "SPT-USE-001")
def test_event_data_object_is_the_receiving_partys_view(spt: Scenario, events: EventLog) -> None:
    token, observed = used_and_revoked(spt, events)
    for event in observed:
        wanted = ISSUED_OBJECT if event.role == "agent" else GRANTED_OBJECT
        expect(
            event.data_object.get("object") == wanted and event.object_id == token.id,
            "SPT-EVT-006",
            received=f"{event.type} to the {event.role} with data.object {event.data_object.get('object')!r} "
            f"{event.object_id!r}",
            expected=f"data.object the {wanted} {token.id}",
            tip="the agent's events carry the issued view, the seller's the granted view of the same spt_ id",
        )


@pytest.mark.requirement("SPT-EVT-007")
@pytest.mark.uses("SPT-EVT-001", "SPT-EVT-003", "SPT-EVT-004", "SPT-REV-001", "SPT-USE-001")
def test_event_other_seller_receives_nothing_about_the_token(
    spt: Scenario, events: EventLog, other_seller: StripeClient
) -> None:
    token, _ = used_and_revoked(spt, events)
    strays = events.settle("other_seller", token.id)
    expect(
        not strays,
        "SPT-EVT-007",
        received=f"the other seller received {[e.type for e in strays]} about {token.id}",
        expected="no event about a token neither issued by nor granted to the account",
        tip="send each event only to the token's agent and to the seller it was granted to",
    )


def captured_value(view: Mapping[str, Any]) -> Any:
    usage = view.get("usage_details")
    amount = usage.get("amount_captured") if isinstance(usage, Mapping) else None
    return amount.get("value") if isinstance(amount, Mapping) else None


@pytest.mark.requirement("SPT-EVT-008")
@pytest.mark.uses("SPT-EVT-001", "SPT-EVT-003", "SPT-GRT-001", "SPT-ISS-005", "SPT-REV-001", "SPT-USE-001")
def test_event_data_object_shows_the_state_it_reports(spt: Scenario, events: EventLog) -> None:
    token = spt.issue(max_amount=1000)
    paid(spt, token, 300)
    paid(spt, token, 200)
    used = events.wait_for("agent", USED_ISSUED, token.id, count=2, requirement="SPT-EVT-001")
    shown = sorted(int(captured_value(e.data_object) or 0) for e in used[:2])
    expect_equal(
        shown,
        [300, 500],
        "SPT-EVT-008",
        what="amount_captured.value on the two used events",
        tip="a used event's data.object is the token after the payment it reports",
    )
    revoked(spt, token)
    for role, event_type, read in (
        ("agent", DEACTIVATED_ISSUED, spt.issued),
        ("seller", DEACTIVATED_GRANTED, spt.granted),
    ):
        (event, *_) = events.wait_for(role, event_type, token.id, requirement="SPT-EVT-003")
        now = expect_ok(read(token.id), "SPT-ISS-005" if role == "agent" else "SPT-GRT-001")
        reported = {k: event.data_object.get(k) for k in ("deactivated_reason", "deactivated_at")}
        expect_equal(
            reported,
            {"deactivated_reason": "revoked", "deactivated_at": now.get("deactivated_at")},
            "SPT-EVT-008",
            what=f"the deactivation on the {event_type} event (compared with a retrieve made when it arrived)",
            tip="record the event with the change it reports, from the token as changed",
        )
        if role == "agent":
            expect_equal(
                event.data_object.get("status"), "deactivated", "SPT-EVT-008", what=f"status on the {event_type} event"
            )


@pytest.mark.requirement("SPT-EVT-016")
@pytest.mark.uses("SPT-EVT-003", "SPT-EVT-004")
@pytest.mark.parametrize("reason", ["revoked", "consumed"])
def test_deactivated_event_is_sent_after_the_deactivation_is_visible(
    spt: Scenario, events: EventLog, reason: str
) -> None:
    token = spt.issue(max_amount=500)
    # The deactivating call runs in the background so that the event may arrive before its
    # response; the retrieve made the moment the event is seen must already show the change.
    act: Callable[[], Exchange] = (
        (lambda: spt.revoke(token.id)) if reason == "revoked" else (lambda: spt.pay(token.id, 500))
    )
    worker = threading.Thread(target=act)
    worker.start()
    try:
        events.wait_for("agent", DEACTIVATED_ISSUED, token.id, requirement="SPT-EVT-003")
        issued = spt.issued(token.id)
        events.wait_for("seller", DEACTIVATED_GRANTED, token.id, requirement="SPT-EVT-004")
        granted = spt.granted(token.id)
    finally:
        worker.join()
    for exchange in (issued, granted):
        body = exchange.body if isinstance(exchange.body, Mapping) else {}
        expect(
            exchange.status == 200 and body.get("deactivated_reason") == reason,
            "SPT-EVT-016",
            received=f"on receiving the deactivated event, {exchange.describe()} read deactivated_reason "
            f"{body.get('deactivated_reason')!r}",
            expected=f"deactivated_reason {reason!r}: the deactivation visible before its event is sent",
            tip="send events only after the transaction that records the change has committed",
            exchanges=[exchange],
        )


# ------------------------------------------------------------------ no use, no used event
@pytest.mark.requirement("SPT-EVT-015")
@pytest.mark.uses("SPT-EVT-003", "SPT-EVT-004", "SPT-REV-001", "SPT-REV-003", "SPT-USE-005", "SPT-USE-008")
def test_used_event_refused_payments_send_none(spt: Scenario, events: EventLog) -> None:
    token = spt.issue(max_amount=1000)
    expect_refused(spt.pay(token.id, 1500), "SPT-USE-005")
    expect_refused(spt.pay(token.id, 100, currency="eur"), "SPT-USE-008")
    revoked(spt, token)
    expect_refused(spt.pay(token.id, 100), "SPT-REV-003")
    events.wait_for("agent", DEACTIVATED_ISSUED, token.id, requirement="SPT-EVT-003")
    events.wait_for("seller", DEACTIVATED_GRANTED, token.id, requirement="SPT-EVT-004")
    for role in ("agent", "seller"):
        used = [e for e in events.settle(role, token.id) if e.type in (USED_ISSUED, USED_GRANTED)]
        expect(
            not used,
            "SPT-EVT-015",
            received=f"{[e.type for e in used]} sent to the {role} for refused payments",
            expected="no used event: a refused payment is not a use",
            tip="emit used events only for payments that succeed",
        )


@pytest.mark.requirement("SPT-EVT-015")
@pytest.mark.uses("SPT-EVT-003", "SPT-EVT-004", "SPT-REV-001", "SPT-USE-011")
def test_used_event_declined_payment_sends_none(spt: Scenario, events: EventLog) -> None:
    token = spt.issue_declining(max_amount=1000)
    expect_refused(spt.pay(token.id, 100), "SPT-USE-011")
    revoked(spt, token)
    events.wait_for("agent", DEACTIVATED_ISSUED, token.id, requirement="SPT-EVT-003")
    events.wait_for("seller", DEACTIVATED_GRANTED, token.id, requirement="SPT-EVT-004")
    for role in ("agent", "seller"):
        used = [e for e in events.settle(role, token.id) if e.type in (USED_ISSUED, USED_GRANTED)]
        expect(
            not used,
            "SPT-EVT-015",
            received=f"{[e.type for e in used]} sent to the {role} for a declined payment",
            expected="no used event: a declined payment is not a use",
            tip="emit used events only for payments that succeed",
        )


# ------------------------------------------------------------------ expiry
@pytest.mark.requirement("SPT-EXP-004")
def test_expiry_events_are_sent_without_a_call_on_the_token(spt: Scenario, events: EventLog) -> None:
    token = spt.issue(expires_at=spt.clock.now() + spt.clock.lead_time())
    assert token.expires_at is not None
    spt.clock.pass_beyond(token.expires_at)
    # No retrieve, no payment: only the server's own bookkeeping may notice.
    events.wait_for("agent", DEACTIVATED_ISSUED, token.id, requirement="SPT-EXP-004")
    events.wait_for("seller", DEACTIVATED_GRANTED, token.id, requirement="SPT-EXP-004")


# ------------------------------------------------------------------ /v1/events
def list_until(client: StripeClient, event_type: str, wanted: set[str], max_wait: float) -> list[Exchange]:
    """Page GET /v1/events?type=… by two until every event about `wanted` objects is listed."""
    deadline = time.monotonic() + max_wait
    while True:
        pages: list[Exchange] = []
        params: dict[str, Any] = {"type": event_type, "limit": 2}
        found: set[str] = set()
        for _ in range(100):
            exchange = client.get(EVENTS, params)
            body = expect_ok(exchange, "SPT-EVT-012", object_type="list")
            pages.append(exchange)
            data = [e for e in body.get("data") or [] if isinstance(e, Mapping)]
            found |= {str((e.get("data") or {}).get("object", {}).get("id")) for e in data} & wanted
            if found == wanted or not body.get("has_more") or not data:
                break
            params["starting_after"] = data[-1].get("id")
        if found == wanted or time.monotonic() > deadline:
            return pages
        time.sleep(0.1)


@pytest.mark.requirement("SPT-EVT-012")
@pytest.mark.uses("SPT-REV-001")
def test_events_list_is_filtered_paged_and_newest_first(spt: Scenario, max_wait: float) -> None:
    tokens = [spt.issue() for _ in range(3)]
    for token in tokens:
        revoked(spt, token)
    pages = list_until(spt.agent, DEACTIVATED_ISSUED, {t.id for t in tokens}, max_wait)
    listed: list[Mapping[str, Any]] = []
    for number, page in enumerate(pages):
        body = page.body
        data = body.get("data") or []
        expect(
            len(data) <= 2,
            "SPT-EVT-012",
            received=f"{len(data)} events on a page with limit=2",
            expected="at most 2",
            exchanges=[page],
        )
        if number < len(pages) - 1:
            expect(
                body.get("has_more") is True,
                "SPT-EVT-012",
                received=f"has_more {body.get('has_more')!r} on a page followed by more events",
                expected="has_more true",
                exchanges=[page],
            )
        listed += data
    types = sorted({str(e.get("type")) for e in listed} - {DEACTIVATED_ISSUED})
    expect(
        not types,
        "SPT-EVT-012",
        received=f"type={DEACTIVATED_ISSUED} listed {types}",
        expected=f"only {DEACTIVATED_ISSUED} events",
        exchanges=pages[:1],
    )
    event_ids = [e.get("id") for e in listed]
    expect(
        len(event_ids) == len(set(event_ids)),
        "SPT-EVT-012",
        received="an event listed on two pages",
        expected="starting_after continues after the last event of the previous page",
        exchanges=pages,
    )
    created = [e.get("created") for e in listed]
    stamps = [c for c in created if isinstance(c, int)]
    expect(
        len(stamps) == len(created) and stamps == sorted(stamps, reverse=True),
        "SPT-EVT-012",
        received=f"created in listed order: {created}",
        expected="newest first (created never increasing)",
        exchanges=pages,
    )
    about = {str(e["data"]["object"]["id"]) for e in listed if isinstance(e.get("data"), Mapping)}
    missing = sorted({t.id for t in tokens} - about)
    expect(
        not missing,
        "SPT-EVT-012",
        received=f"no {DEACTIVATED_ISSUED} event listed for {missing}",
        expected="every event of the account listed, page after page",
        exchanges=pages[-1:],
    )


@pytest.mark.requirement("SPT-EVT-013")
@pytest.mark.uses("SPT-EVT-012", "SPT-REV-001")
def test_event_retrieve_is_the_accounts_own(spt: Scenario, max_wait: float) -> None:
    token = spt.issue()
    revoked(spt, token)
    pages = list_until(spt.agent, DEACTIVATED_ISSUED, {token.id}, max_wait)
    mine = [
        e
        for p in pages
        for e in p.body.get("data") or []
        if isinstance(e, Mapping) and (e.get("data") or {}).get("object", {}).get("id") == token.id
    ]
    expect(
        bool(mine),
        "SPT-EVT-013",
        received=f"no {DEACTIVATED_ISSUED} event listed for {token.id}",
        expected="the event to retrieve",
        exchanges=pages[-1:],
    )
    event_id = str(mine[0]["id"])
    body = expect_ok(spt.agent.get(f"{EVENTS}/{event_id}"), "SPT-EVT-013", object_type="event")
    expect_equal(
        (body.get("id"), body.get("type")),
        (event_id, DEACTIVATED_ISSUED),
        "SPT-EVT-013",
        what="(id, type) of the retrieved event",
    )
    for stranger in [c for c in (spt.seller, spt.other_seller) if c is not None]:
        expect_refused(
            stranger.get(f"{EVENTS}/{event_id}"),
            "SPT-EVT-013",
            statuses=(404,),
            tip="an event belongs to one account; another account's id answers 404 as if it did not exist",
        )


# ------------------------------------------------------------------ webhook endpoints of the test's own
@contextmanager
def own_endpoint(
    client: StripeClient, receiver: Receiver, enabled_events: Sequence[str], *, requirement: str, fail_first: int = 0
) -> Iterator[Endpoint]:
    endpoint = create_endpoint(
        client, receiver, enabled_events=enabled_events, requirement=requirement, fail_first=fail_first
    )
    try:
        yield endpoint
    finally:
        client.delete(f"{WEBHOOK_ENDPOINTS}/{endpoint.id}")
        receiver.unregister(endpoint.name)


def about(receiver: Receiver, endpoint: Endpoint, object_id: str) -> list[Delivery]:
    return [
        d
        for d in receiver.deliveries(endpoint.name)
        if isinstance(d.event, Mapping) and (d.event.get("data") or {}).get("object", {}).get("id") == object_id
    ]


def await_delivery(
    receiver: Receiver,
    endpoint: Endpoint,
    object_id: str,
    event_type: str,
    *,
    accepted: bool,
    timeout: float,
    requirement: str,
) -> list[Delivery]:
    """Wait until `endpoint` got (and, if `accepted`, took) an event of `event_type` about `object_id`."""

    def arrived(_: list[Delivery]) -> bool:
        return any(
            d.event is not None and d.event.get("type") == event_type and (d.accepted or not accepted)
            for d in about(receiver, endpoint, object_id)
        )

    if not receiver.wait(arrived, timeout):
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
    spt: Scenario, webhook_receiver: Receiver, max_wait: float
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
            timeout=max_wait,
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
    spt: Scenario, webhook_receiver: Receiver, events: EventLog, max_wait: float
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
            timeout=max_wait,
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
    events.settle("agent", after.id)  # as long as any late delivery would take
    stray = about(webhook_receiver, endpoint, after.id)
    webhook_receiver.unregister(endpoint.name)
    expect(
        not stray,
        "SPT-EVT-010",
        received=f"{len(stray)} deliveries to the deleted endpoint",
        expected="nothing delivered to a deleted endpoint",
        tip="drop an endpoint's pending deliveries on delete",
    )


@pytest.mark.requirement("SPT-EVT-011")
@pytest.mark.uses("SPT-REV-001", "SPT-USE-001")
def test_webhook_endpoint_receives_exactly_its_enabled_events(
    spt: Scenario, webhook_receiver: Receiver, events: EventLog, max_wait: float
) -> None:
    with (
        own_endpoint(spt.agent, webhook_receiver, [DEACTIVATED_ISSUED], requirement="SPT-EVT-011") as narrow,
        own_endpoint(spt.agent, webhook_receiver, ["*"], requirement="SPT-EVT-011") as wide,
    ):
        token = spt.issue()
        paid(spt, token, 300)
        revoked(spt, token)
        for event_type in (USED_ISSUED, DEACTIVATED_ISSUED):
            await_delivery(
                webhook_receiver, wide, token.id, event_type, accepted=True, timeout=max_wait, requirement="SPT-EVT-011"
            )
        await_delivery(
            webhook_receiver,
            narrow,
            token.id,
            DEACTIVATED_ISSUED,
            accepted=True,
            timeout=max_wait,
            requirement="SPT-EVT-011",
        )
        time.sleep(events.quiet)  # room for a wrongly sent used event to arrive
        types = sorted({str((d.event or {}).get("type")) for d in about(webhook_receiver, narrow, token.id)})
    expect_equal(
        types,
        [DEACTIVATED_ISSUED],
        "SPT-EVT-011",
        what=f"event types delivered to an endpoint with enabled_events [{DEACTIVATED_ISSUED}]",
    )


@pytest.mark.requirement("SPT-EVT-014")
@pytest.mark.uses("SPT-REV-001")
def test_webhook_failed_delivery_is_retried_until_accepted(
    spt: Scenario, webhook_receiver: Receiver, events: EventLog, max_wait: float
) -> None:
    failures = 2
    with own_endpoint(
        spt.agent, webhook_receiver, [DEACTIVATED_ISSUED], requirement="SPT-EVT-014", fail_first=failures
    ) as endpoint:
        token = spt.issue()
        revoked(spt, token)
        await_delivery(
            webhook_receiver,
            endpoint,
            token.id,
            DEACTIVATED_ISSUED,
            accepted=True,
            timeout=max_wait,
            requirement="SPT-EVT-014",
        )
        time.sleep(events.quiet)  # room for a needless extra retry
        tries = about(webhook_receiver, endpoint, token.id)
    outcome = [(d.attempt, d.status) for d in tries]
    expect_equal(
        outcome,
        [(1, 500), (2, 500), (3, 200)],
        "SPT-EVT-014",
        what="(attempt, answer) of each delivery of the event to an endpoint failing its first two",
        tip="retry a non-2xx delivery with backoff, and stop once it is accepted",
    )
    expect_equal(len({d.event_id for d in tries}), 1, "SPT-EVT-014", what="distinct event ids across the retries")
    gaps = [later.received_monotonic - earlier.received_monotonic for earlier, later in itertools.pairwise(tries)]
    expect(
        all(gap >= 0.05 for gap in gaps),
        "SPT-EVT-014",
        received=f"retries after {[round(g, 3) for g in gaps]} s",
        expected="a pause (backoff) before each retry",
        tip="back off exponentially between attempts",
    )


@pytest.fixture
def max_wait(spt_run: RunState) -> float:
    return spt_run.options.wait_limit
