"""What an event says: its envelope, whose view it carries, when it is sent (SPT-EVT-005..008, -016).

Events are observed through the `events` fixture (pushed to the suite's receiver or pulled from
/v1/events) and matched by the token's id; that nobody else hears of a token is an expectation
the run judges after its final quiet period.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from conformance.client import Exchange, StripeClient
from conformance.event_sources import ObservedEvent
from conformance.events import EventLog
from conformance.scenario import Scenario, Token
from conformance.suite.event_steps import (
    DEACTIVATED_GRANTED,
    DEACTIVATED_ISSUED,
    GRANTED_OBJECT,
    ISSUED_OBJECT,
    USED_GRANTED,
    USED_ISSUED,
    paid,
    revoked,
)
from conformance.violation import expect, expect_equal, expect_ok


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
    events.expect_none(
        "other_seller",
        token.id,
        "SPT-EVT-007",
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
@pytest.mark.parametrize("reason", ["revoked", "consumed"])
@pytest.mark.uses("SPT-EVT-003", "SPT-EVT-004")
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
