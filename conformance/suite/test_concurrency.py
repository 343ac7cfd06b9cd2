"""Concurrency (SPT-USE-006): the cap holds however many payments race for one token.

Twenty sellers' threads pay at once. A server that reads the headroom, then captures, without
holding the token in between lets two payments through on the same headroom; these tests catch
it by the sum. A 409 (Stripe's lock_timeout) is retried with the same Idempotency-Key, as the
SDKs do, so a server that serialises by refusing contention is judged on the outcome, not on
its locking.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence

import pytest

from conformance.client import Exchange
from conformance.events import EventLog
from conformance.scenario import PAYMENT_INTENTS, Scenario, Token
from conformance.violation import expect, expect_decision, expect_equal, expect_refused

RETRIES_ON_409 = 5


def race(spt: Scenario, token: Token, amounts: Sequence[int]) -> list[tuple[int, Exchange]]:
    """Pay every amount at once from its own thread; each (amount, final answer)."""
    start = threading.Barrier(len(amounts))
    results: list[tuple[int, Exchange]] = []
    lock = threading.Lock()

    def pay(amount: int) -> None:
        key = f"spt-conformance-{uuid.uuid4()}"
        params = spt.pay_params(token.id, amount)
        start.wait()
        for attempt in range(RETRIES_ON_409 + 1):
            reply = spt.seller.post(PAYMENT_INTENTS, params, idempotency_key=key)
            if reply.status != 409 or attempt == RETRIES_ON_409:
                break
            time.sleep(0.05 * 2**attempt)
        with lock:
            results.append((amount, reply))

    threads = [threading.Thread(target=pay, args=(amount,)) for amount in amounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def succeeded(results: Sequence[tuple[int, Exchange]]) -> list[tuple[int, Exchange]]:
    return [
        (amount, r)
        for amount, r in results
        if r.status == 200 and isinstance(r.body, dict) and r.body.get("status") == "succeeded"
    ]


def lost(results: Sequence[tuple[int, Exchange]], won: Sequence[tuple[int, Exchange]]) -> list[tuple[int, Exchange]]:
    winners = {id(reply) for _, reply in won}
    return [(amount, reply) for amount, reply in results if id(reply) not in winners]


@pytest.mark.requirement("SPT-USE-006")
@pytest.mark.smoke
def test_concurrent_equal_payments_exactly_fill_the_cap(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    results = race(spt, token, [100] * 20)
    won = succeeded(results)
    for _, reply in lost(results, won):
        expect_refused(reply, "SPT-USE-006", tip="a payment that no longer fits is refused with a 4xx")
    captured = spt.captured(token.id)
    expect(
        captured <= 1000,
        "SPT-USE-006",
        received=f"amount_captured {captured} after 20 concurrent payments of 100",
        expected="at most max_amount 1000",
        tip="check and capture the headroom in one transaction",
    )
    expect_equal(
        captured,
        sum(amount for amount, _ in won),
        "SPT-USE-006",
        what="amount_captured against the sum of the succeeded payments",
    )
    expect_equal(
        len(won),
        10,
        "SPT-USE-006",
        what="succeeded payments of 100 against a cap of 1000",
        tip="every payment that fits the headroom left must succeed, however they interleave",
        rests_on="D-10",  # a single-use token lets one succeed, and still keeps the cap
    )


@pytest.mark.requirement("SPT-USE-006")
def test_concurrent_unequal_payments_never_pass_the_cap(spt: Scenario) -> None:
    # Unequal, and none below Stripe's minimum charge (50 cents), so that a refusal is about the cap.
    amounts = [350, 300, 250, 200, 150, 120, 100, 90, 80, 75, 70, 65, 60, 55, 50]
    token = spt.issue(max_amount=1000)
    results = race(spt, token, amounts)
    won = succeeded(results)
    captured = spt.captured(token.id)
    total = sum(amount for amount, _ in won)
    expect(captured <= 1000, "SPT-USE-006", received=f"amount_captured {captured}", expected="at most 1000")
    expect_equal(captured, total, "SPT-USE-006", what="amount_captured against the sum of the succeeded payments")
    # Headroom only shrinks, so a payment refused although it fits what is left at the end
    # would have fitted whenever it was tried.
    left = 1000 - captured
    wrongly = [amount for amount, _ in lost(results, won) if amount <= left]
    expect(
        not wrongly,
        "SPT-USE-006",
        received=f"payments of {wrongly} refused with {left} still free",
        expected="every payment that fits the headroom succeeds",
        rests_on="D-10",
    )


@pytest.mark.requirement("SPT-EVT-003")
@pytest.mark.uses("SPT-USE-006", "SPT-USE-007")
def test_concurrent_consumption_deactivates_once(spt: Scenario, events: EventLog) -> None:
    token = spt.issue(max_amount=500)
    won = succeeded(race(spt, token, [100] * 10))
    captured = spt.captured(token.id)
    expect(captured <= 500, "SPT-USE-006", received=f"amount_captured {captured}", expected="at most 500")
    # Five fill the cap of a multi-use token (D-10); a single-use one is consumed by the first.
    # Either way the token is used up, and says so once.
    expect_decision(
        len(won) == 5,
        "SPT-USE-007",
        received=f"{len(won)} of 10 concurrent payments of 100 succeeded against a cap of 500",
        expected="5: a token stays usable until its cap is reached (D-10)",
    )
    events.expect_arrival("agent", "shared_payment.issued_token.deactivated", token.id, "SPT-EVT-003")
    events.expect_count(
        "agent",
        token.id,
        "shared_payment.issued_token.deactivated",
        1,
        "SPT-EVT-003",
        what="after racing payments consumed the token",
    )
