"""Events that must come, once each: used and deactivated (SPT-EVT-001..004, -015), and expiry's (SPT-EXP-004).

Each party hears about its own view of a token: the agent gets shared_payment.issued_token.*,
the seller shared_payment.granted_token.*. No test here reads the events it causes, so none
waits: what must arrive, "exactly once" and "none" are expectations the run judges at its end
(waiting for the events still missing, then one quiet period), reported for the test that made
them.
"""

from __future__ import annotations

import pytest

from conformance.events import EventLog
from conformance.scenario import Scenario
from conformance.suite.event_steps import (
    DEACTIVATED_GRANTED,
    DEACTIVATED_ISSUED,
    REASONS,
    USED_GRANTED,
    USED_ISSUED,
    deactivated,
    paid,
    revoked,
)
from conformance.violation import expect_refused


# ------------------------------------------------------------------ used events
def each_payment_announced_once(spt: Scenario, events: EventLog, role: str, event_type: str, requirement: str) -> None:
    token = spt.issue(max_amount=1000)
    paid(spt, token, 300)
    paid(spt, token, 200)
    events.expect_arrival(role, event_type, token.id, requirement, count=2)
    events.expect_count(
        role,
        token.id,
        event_type,
        2,
        requirement,
        what="after two payments",
        tip="send one per succeeded payment, never more",
    )


@pytest.mark.requirement("SPT-EVT-001")
@pytest.mark.uses("SPT-USE-001")
def test_used_event_each_payment_sends_one_to_the_agent(spt: Scenario, events: EventLog) -> None:
    each_payment_announced_once(spt, events, "agent", USED_ISSUED, "SPT-EVT-001")


@pytest.mark.requirement("SPT-EVT-002")
@pytest.mark.uses("SPT-USE-001")
def test_used_event_each_payment_sends_one_to_the_seller(spt: Scenario, events: EventLog) -> None:
    each_payment_announced_once(spt, events, "seller", USED_GRANTED, "SPT-EVT-002")


# ------------------------------------------------------------------ deactivated events
def deactivation_announced_once(
    spt: Scenario, events: EventLog, reason: str, role: str, event_type: str, requirement: str
) -> None:
    token = deactivated(spt, reason)
    events.expect_arrival(role, event_type, token.id, requirement)
    spt.revoke(token.id)  # refused on a dead token; it must not deactivate it again
    events.expect_count(
        role,
        token.id,
        event_type,
        1,
        requirement,
        what=f"a token {reason}, then revoked again",
        tip="a token is deactivated once, so it is announced once",
    )


@pytest.mark.requirement("SPT-EVT-003")
@pytest.mark.parametrize("reason", REASONS)
@pytest.mark.uses("SPT-REV-001", "SPT-USE-001")
def test_deactivated_event_every_reason_sends_one_to_the_agent(spt: Scenario, events: EventLog, reason: str) -> None:
    deactivation_announced_once(spt, events, reason, "agent", DEACTIVATED_ISSUED, "SPT-EVT-003")


@pytest.mark.requirement("SPT-EVT-004")
@pytest.mark.parametrize("reason", REASONS)
@pytest.mark.uses("SPT-REV-001", "SPT-USE-001")
def test_deactivated_event_every_reason_sends_one_to_the_seller(spt: Scenario, events: EventLog, reason: str) -> None:
    deactivation_announced_once(spt, events, reason, "seller", DEACTIVATED_GRANTED, "SPT-EVT-004")


# ------------------------------------------------------------------ no use, no used event
@pytest.mark.requirement("SPT-EVT-015")
@pytest.mark.uses("SPT-EVT-003", "SPT-EVT-004", "SPT-REV-001", "SPT-REV-003", "SPT-USE-005", "SPT-USE-008")
def test_used_event_refused_payments_send_none(spt: Scenario, events: EventLog) -> None:
    token = spt.issue(max_amount=1000)
    expect_refused(spt.pay(token.id, 1500), "SPT-USE-005")
    expect_refused(spt.pay(token.id, 100, currency="eur"), "SPT-USE-008")
    revoked(spt, token)
    expect_refused(spt.pay(token.id, 100), "SPT-REV-003")
    events.expect_arrival("agent", DEACTIVATED_ISSUED, token.id, "SPT-EVT-003")
    events.expect_arrival("seller", DEACTIVATED_GRANTED, token.id, "SPT-EVT-004")
    for role in ("agent", "seller"):
        events.expect_none(
            role,
            token.id,
            "SPT-EVT-015",
            types=(USED_ISSUED, USED_GRANTED),
            expected="no used event: a refused payment is not a use",
            tip="emit used events only for payments that succeed",
        )


@pytest.mark.requirement("SPT-EVT-015")
@pytest.mark.uses("SPT-EVT-003", "SPT-EVT-004", "SPT-REV-001", "SPT-USE-011")
def test_used_event_declined_payment_sends_none(spt: Scenario, events: EventLog) -> None:
    token = spt.issue_declining(max_amount=1000)
    expect_refused(spt.pay(token.id, 100), "SPT-USE-011")
    revoked(spt, token)
    events.expect_arrival("agent", DEACTIVATED_ISSUED, token.id, "SPT-EVT-003")
    events.expect_arrival("seller", DEACTIVATED_GRANTED, token.id, "SPT-EVT-004")
    for role in ("agent", "seller"):
        events.expect_none(
            role,
            token.id,
            "SPT-EVT-015",
            types=(USED_ISSUED, USED_GRANTED),
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
    events.expect_arrival("agent", DEACTIVATED_ISSUED, token.id, "SPT-EXP-004")
    events.expect_arrival("seller", DEACTIVATED_GRANTED, token.id, "SPT-EXP-004")
