"""Expiry (SPT-EXP-*) and the clock extension that makes it testable (SPT-CLK-*).

Expiry tests never assume the extension: they issue tokens `clock.lead_time()` ahead and let
`clock.pass_beyond` make the time pass (instantly with the extension, by a short wait
otherwise). The clock tests need the extension and are skipped without it.

The extension's clock is one per server and other tests advance it at the same time, so a
clock test that sees more time pass than it caused tries again before it concludes. The
server's clock also runs in real time between requests, hence a small tolerance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from conformance.client import Exchange
from conformance.clock import CLOCK
from conformance.scenario import Scenario
from conformance.violation import expect, expect_equal, expect_error, expect_ok

CLOCK_OBJECT = "test_helpers.shared_payment.clock"
# Seconds the server's clock may run on its own during a test's few requests.
DRIFT = 2
ATTEMPTS = 3


def expired_token(spt: Scenario, **options: Any) -> str:
    """A token issued `lead_time` ahead whose expires_at has then passed."""
    token = spt.issue_expiring(**options)
    assert token.expires_at is not None
    spt.clock.pass_beyond(token.expires_at)
    return token.id


# ---------------------------------------------------------------------------- expiry
@pytest.mark.requirement("SPT-EXP-001")
def test_expired_token_payment_is_refused_and_captures_nothing(spt: Scenario) -> None:
    token_id = expired_token(spt, max_amount=1000)
    spt.expect_use_refused(
        spt.pay(token_id, 100),
        token_id,
        "SPT-EXP-001",
        captured=0,
        tip="compare expires_at with the server's now on every use, whether or not a sweeper ran",
    )


@pytest.mark.requirement("SPT-EXP-002")
def test_expired_token_reads_deactivated_expired_on_both_views(spt: Scenario) -> None:
    token_id = expired_token(spt)
    issued, granted = spt.views(token_id)
    expect_equal(
        (issued.get("status"), issued.get("deactivated_reason")),
        ("deactivated", "expired"),
        "SPT-EXP-002",
        what="issued (status, deactivated_reason) after expires_at",
        tip="a read must show the expiry even before a sweeper has run",
    )
    expect_equal(
        granted.get("deactivated_reason"), "expired", "SPT-EXP-002", what="granted deactivated_reason after expires_at"
    )


@pytest.mark.requirement("SPT-EXP-003")
def test_expired_token_deactivated_at_equals_expires_at(spt: Scenario) -> None:
    token = spt.issue_expiring()
    assert token.expires_at is not None
    spt.clock.pass_beyond(token.expires_at)
    issued = spt.read_issued(token.id)
    expect_equal(
        issued.get("deactivated_at"),
        token.expires_at,
        "SPT-EXP-003",
        what="deactivated_at of the expired token",
        tip="a token expires at expires_at exactly, whenever the server notices (D-30)",
    )


@pytest.mark.requirement("SPT-EXP-005")
def test_token_before_expires_at_remains_usable(spt: Scenario) -> None:
    lead = spt.clock.lead_time()
    token = spt.issue_expiring(max_amount=1000)
    assert token.expires_at is not None
    # With the extension, close in on expires_at (leaving room for real time to run) so an early
    # expiry shows. Without it, the local estimate of the target's now may be two seconds behind
    # (whole-second Date header and truncation), so waiting any part of a short lead is unsafe.
    margin = 30
    if spt.clock.can_travel and lead > margin:
        spt.clock.advance(lead - margin)
    exchange = spt.pay(token.id, 400)
    if exchange.status != 200:
        spt.skip_if_passed(token.expires_at, "while the test ran")
    intent = expect_ok(
        exchange,
        "SPT-EXP-005",
        object_type="payment_intent",
        tip="expires_at has not passed yet: the token may not expire early",
    )
    expect_equal(intent.get("status"), "succeeded", "SPT-EXP-005", what="status", exchanges=[exchange])
    status = spt.read_issued(token.id).get("status")
    if status != "active":
        spt.skip_if_passed(token.expires_at, "before the token was read back")
    expect_equal(status, "active", "SPT-EXP-005", what="status before expires_at")


# ---------------------------------------------------------------------------- the clock extension
def read_clock(spt: Scenario, requirement: str) -> tuple[int, Exchange]:
    exchange = spt.agent.get(CLOCK)
    body = expect_ok(exchange, requirement, object_type=CLOCK_OBJECT)
    now = body.get("now")
    expect(
        isinstance(now, int) and not isinstance(now, bool),
        requirement,
        received=f"now = {now!r}",
        expected="now, the server's time in whole unix seconds",
        exchanges=[exchange],
    )
    assert isinstance(now, int)
    return now, exchange


def retry_without_interference(attempt: Callable[[], int], requirement: str, *, expected: str) -> None:
    """Run `attempt`, which returns how many seconds the clock moved beyond what it should have,
    until that is within DRIFT. Another test's advance explains an excess once; the same excess
    every time is the server's doing, and breaks `requirement`."""
    excesses = []
    for _ in range(ATTEMPTS):
        excess = attempt()
        if excess <= DRIFT:
            return
        excesses.append(excess)
    expect(
        len(set(excesses)) > 1,
        requirement,
        received=f"the clock moved {excesses[0]} s more than expected in each of {ATTEMPTS} attempts",
        expected=expected,
    )
    pytest.skip(f"other tests kept advancing the shared clock during {ATTEMPTS} attempts; run with fewer workers")


@pytest.mark.requirement("SPT-CLK-001")
def test_clock_reads_server_time_that_tokens_are_stamped_with(spt: Scenario) -> None:
    before, _ = read_clock(spt, "SPT-CLK-001")
    token = spt.issue()
    after, exchange = read_clock(spt, "SPT-CLK-001")
    created = token.issued.get("created")
    expect(
        isinstance(created, int) and before <= created <= after + 1,
        "SPT-CLK-001",
        received=f"a token created at {created!r} between clock reads {before} and {after}",
        expected="the clock's now to be the time the server stamps objects with",
        tip="serve now from the same clock that stamps created, deactivated_at and expiry",
        exchanges=[exchange],
    )


@pytest.mark.requirement("SPT-CLK-002")
def test_clock_advance_moves_now_by_seconds(spt: Scenario) -> None:
    seconds = 17

    def attempt() -> int:
        before, _ = read_clock(spt, "SPT-CLK-002")
        exchange = spt.agent.post(f"{CLOCK}/advance", {"seconds": seconds})
        body = expect_ok(exchange, "SPT-CLK-002", object_type=CLOCK_OBJECT)
        now = body.get("now")
        expect(
            isinstance(now, int) and now - before >= seconds,
            "SPT-CLK-002",
            received=f"now {before} before, {now!r} in the answer to advance by {seconds}",
            expected=f"now moved forward by at least {seconds}",
            exchanges=[exchange],
        )
        assert isinstance(now, int)
        after, _ = read_clock(spt, "SPT-CLK-002")
        expect(
            after >= now,
            "SPT-CLK-002",
            received=f"the advance answered now = {now}, and a read right after it {after}",
            expected="a later read showing at least the time the advance answered (the clock only moves forward)",
            exchanges=[exchange],
        )
        return now - before - seconds

    retry_without_interference(attempt, "SPT-CLK-002", expected=f"now moved forward by {seconds}, give or take {DRIFT}")


@pytest.mark.requirement("SPT-CLK-003")
def test_clock_advance_expires_every_reached_token_only(spt: Scenario) -> None:
    later = spt.issue(expires_at=spt.clock.now() + 20 * spt.clock.lead_time())
    reached = [spt.issue_expiring(), spt.issue_expiring()]
    spt.clock.pass_beyond(max(token.expires_at or 0 for token in reached))
    for token in reached:
        issued = spt.read_issued(token.id)
        expect_equal(
            (issued.get("status"), issued.get("deactivated_reason")),
            ("deactivated", "expired"),
            "SPT-CLK-003",
            what="(status, deactivated_reason) of a token whose expires_at the advance passed",
            tip="the advance deactivates every token with expires_at <= the new now before it answers (D-31)",
        )
    expect_equal(
        spt.read_issued(later.id).get("status"),
        "active",
        "SPT-CLK-003",
        what="status of a token whose expires_at the advance did not reach",
        tip="expire only tokens with expires_at <= the new now",
    )


BAD_ADVANCES: list[tuple[str, Mapping[str, Any]]] = [
    ("missing", {}),
    ("not-an-integer", {"seconds": "soon"}),
    ("fraction", {"seconds": "1.5"}),
    ("zero", {"seconds": 0}),
    ("negative", {"seconds": -3600}),
]


@pytest.mark.requirement("SPT-CLK-004")
@pytest.mark.uses("SPT-CLK-002")
@pytest.mark.parametrize("params", [p for _, p in BAD_ADVANCES], ids=[n for n, _ in BAD_ADVANCES])
def test_clock_advance_invalid_seconds_is_refused_and_clock_stays(spt: Scenario, params: Mapping[str, Any]) -> None:
    def attempt() -> int:
        before, _ = read_clock(spt, "SPT-CLK-004")
        exchange = spt.agent.post(f"{CLOCK}/advance", params)
        expect_error(
            exchange,
            "SPT-CLK-004",
            status=400,
            type="invalid_request_error",
            tip="seconds is a required positive integer (D-31)",
        )
        after, _ = read_clock(spt, "SPT-CLK-004")
        expect(
            after >= before,
            "SPT-CLK-004",
            received=f"now {before} before the refused advance and {after} after it",
            expected="a clock that never moves back",
            exchanges=[exchange],
        )
        return after - before

    retry_without_interference(attempt, "SPT-CLK-004", expected="a refused advance leaves the clock where it was")
