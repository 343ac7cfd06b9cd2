"""Idempotency (SPT-IDM-*): a retried POST is answered from memory and never runs twice.

Payments are where it matters: a retried confirm that ran again would capture twice. So most
tests here pay, and check the token's amount_captured, the one number that proves how many times
a payment executed.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from conformance.client import Exchange
from conformance.events import EventLog
from conformance.scenario import ISSUED, PAYMENT_INTENTS, Scenario
from conformance.violation import expect, expect_equal, expect_error, expect_ok, expect_refused

ISSUED_OBJECT = "shared_payment.issued_token"
USED_ISSUED = "shared_payment.issued_token.used"


def new_key() -> str:
    return f"spt-conformance-{uuid.uuid4()}"


def same_response(first: Exchange, again: Exchange, requirement: str, what: str) -> None:
    expect(
        (again.status, again.body) == (first.status, first.body),
        requirement,
        received=f"{again.status} {again.response_text[:300]}",
        expected=f"the saved response of the first {what}: {first.status} {first.response_text[:300]}",
        tip="save the status and body of the first execution under the key, and replay them",
        exchanges=[first, again],
    )


@pytest.mark.requirement("SPT-IDM-001")
@pytest.mark.uses("SPT-ISS-001")
def test_idempotent_issue_replays_the_saved_response(spt: Scenario) -> None:
    key = new_key()
    params = spt.issue_params(max_amount=700)
    first = spt.agent.post(ISSUED, params, idempotency_key=key)
    expect_ok(first, "SPT-ISS-001", object_type=ISSUED_OBJECT)
    again = spt.agent.post(ISSUED, params, idempotency_key=key)
    same_response(first, again, "SPT-IDM-001", "issue")


@pytest.mark.requirement("SPT-IDM-001")
@pytest.mark.uses("SPT-USE-001")
def test_idempotent_payment_replays_without_executing_again(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    key = new_key()
    first = spt.pay(token.id, 300, idempotency_key=key)
    expect_ok(first, "SPT-USE-001", object_type="payment_intent")
    again = spt.pay(token.id, 300, idempotency_key=key)
    same_response(first, again, "SPT-IDM-001", "payment")
    expect_equal(spt.captured(token.id), 300, "SPT-IDM-001", what="amount_captured after a payment and its replay")


@pytest.mark.requirement("SPT-IDM-002")
@pytest.mark.uses("SPT-USE-001")
def test_idempotency_key_reused_with_other_parameters_is_refused(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    key = new_key()
    expect_ok(spt.pay(token.id, 100, idempotency_key=key), "SPT-USE-001", object_type="payment_intent")
    for changed in ({"amount": 200}, {"currency": "eur"}, {"metadata": {"note": "changed"}}):
        params = {**spt.pay_params(token.id, 100), **changed}
        refused = spt.seller.post(PAYMENT_INTENTS, params, idempotency_key=key)
        error = expect_refused(refused, "SPT-IDM-002")
        expect_equal(
            error.get("type"),
            "idempotency_error",
            "SPT-IDM-002",
            what="error.type",
            exchanges=[refused],
            tip="compare the parameters of a retried key with the first request's",
        )
    expect_equal(spt.captured(token.id), 100, "SPT-IDM-002", what="amount_captured after the refused reuses")


@pytest.mark.requirement("SPT-IDM-003")
@pytest.mark.uses("SPT-EVT-001", "SPT-USE-001")
def test_replayed_payment_captures_once_and_sends_one_used_event(spt: Scenario, events: EventLog) -> None:
    token = spt.issue(max_amount=1000)
    key = new_key()
    replies = [spt.pay(token.id, 400, idempotency_key=key) for _ in range(3)]
    intent = expect_ok(replies[0], "SPT-USE-001", object_type="payment_intent")
    intents = {(r.body or {}).get("id") for r in replies}
    expect_equal(intents, {intent["id"]}, "SPT-IDM-003", what="PaymentIntent ids answered to three sends of one key")
    expect_equal(spt.captured(token.id), 400, "SPT-IDM-003", what="amount_captured after three sends of one payment")
    if events.available:
        events.expect_arrival("agent", USED_ISSUED, token.id, "SPT-EVT-001")
        events.expect_count(
            "agent", token.id, USED_ISSUED, 1, "SPT-IDM-003", what="after three sends of one payment with one key"
        )


@pytest.mark.requirement("SPT-IDM-004")
@pytest.mark.uses("SPT-USE-011")
def test_declined_payment_retried_with_its_key_replays_the_402(spt: Scenario) -> None:
    token = spt.issue_declining(max_amount=1000)
    key = new_key()
    first = spt.pay(token.id, 100, idempotency_key=key)
    expect_error(first, "SPT-USE-011", status=402, type="card_error")
    again = spt.pay(token.id, 100, idempotency_key=key)
    same_response(first, again, "SPT-IDM-004", "declined payment")


@pytest.mark.requirement("SPT-IDM-005")
def test_idempotency_key_is_scoped_to_the_account(spt: Scenario) -> None:
    key = new_key()
    token = spt.issue(max_amount=1000)
    issued = spt.agent.post(ISSUED, spt.issue_params(max_amount=900), idempotency_key=key)
    expect_ok(issued, "SPT-IDM-005", object_type=ISSUED_OBJECT)
    paid = spt.pay(token.id, 300, idempotency_key=key)
    expect_ok(
        paid,
        "SPT-IDM-005",
        object_type="payment_intent",
        tip="the seller's key is its own: the agent's use of the same string must not replay or refuse it",
    )
    expect_equal(spt.captured(token.id), 300, "SPT-IDM-005", what="amount_captured after the seller's payment")


@pytest.mark.requirement("SPT-IDM-006")
def test_concurrent_requests_with_one_key_execute_once(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    key = new_key()
    params = spt.pay_params(token.id, 250)
    start = threading.Barrier(10)
    replies: list[Exchange] = []
    lock = threading.Lock()

    def send() -> None:
        start.wait()
        reply = spt.seller.post(PAYMENT_INTENTS, params, idempotency_key=key)
        with lock:
            replies.append(reply)

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    succeeded = [r for r in replies if r.status == 200]
    odd = [r for r in replies if r.status not in (200, 409)]
    expect(
        not odd,
        "SPT-IDM-006",
        received=f"answers {sorted(r.status for r in replies)}",
        expected="each concurrent request answered with the saved 200 or a 409 conflict",
        exchanges=odd[:3],
    )
    for reply in [r for r in replies if r.status == 409]:
        expect_refused(reply, "SPT-IDM-006", statuses=(409,))
    bodies = {r.response_text for r in succeeded}
    expect(
        len(bodies) <= 1,
        "SPT-IDM-006",
        received=f"{len(bodies)} different 200 bodies",
        expected="one saved response, replayed identically",
        exchanges=succeeded[:2],
    )
    # Once the storm is over the key holds exactly one result.
    final = spt.seller.post(PAYMENT_INTENTS, params, idempotency_key=key)
    body: dict[str, Any] = expect_ok(final, "SPT-IDM-006", object_type="payment_intent")
    if succeeded:
        expect_equal(
            final.response_text,
            succeeded[0].response_text,
            "SPT-IDM-006",
            what="the body replayed after the concurrent sends",
            exchanges=[final, succeeded[0]],
        )
    expect_equal(body.get("status"), "succeeded", "SPT-IDM-006", what="status of the one PaymentIntent")
    expect_equal(spt.captured(token.id), 250, "SPT-IDM-006", what="amount_captured after ten concurrent sends")


@pytest.mark.requirement("SPT-IDM-007")
def test_idempotency_key_longer_than_255_is_refused(spt: Scenario) -> None:
    refused = spt.agent.post(ISSUED, spt.issue_params(), idempotency_key="k" * 256)
    error = expect_refused(refused, "SPT-IDM-007", statuses=(400,), tip="Stripe accepts keys of up to 255 characters")
    expect(
        error.get("type") in ("idempotency_error", "invalid_request_error"),
        "SPT-IDM-007",
        received=f"error.type {error.get('type')!r}",
        expected="idempotency_error (what Stripe answers) or invalid_request_error",
        exchanges=[refused],
    )


@pytest.mark.requirement("SPT-IDM-008")
@pytest.mark.uses("SPT-ISS-006")
def test_request_refused_by_validation_saves_nothing_under_its_key(spt: Scenario) -> None:
    key = new_key()
    broken = spt.issue_params()
    del broken["usage_limits"]["currency"]
    refused = spt.agent.post(ISSUED, broken, idempotency_key=key)
    expect_refused(refused, "SPT-ISS-006", statuses=(400,))
    corrected = spt.agent.post(ISSUED, spt.issue_params(), idempotency_key=key)
    expect_ok(
        corrected,
        "SPT-IDM-008",
        object_type=ISSUED_OBJECT,
        tip="a request that fails validation never began executing: keep nothing under its key",
    )
