"""A webhook receiver that is down, slow or failing for a while gets every event once it
recovers, each attempt signed; retries follow D-32's backoff, stop once an event is accepted,
and stop for good after the give-up time (SPT-EVT-009, SPT-EVT-014)."""

from __future__ import annotations

from harness.reliability.outage import (
    FAILURES,
    GIVE_UP,
    TUNING,
    max_attempts,
    receiver_down,
    receiver_failing,
    receiver_never_recovers,
    receiver_slow,
)
from reference_impl.tuning import Tuning

TOKENS = 3
EVENTS = 2 * TOKENS  # each token is paid once and revoked


def test_webhook_outage_receiver_down_gets_every_event_exactly_once_when_back() -> None:
    report = receiver_down(tokens=TOKENS)
    assert len(report.events) == EVENTS
    assert report.delivered == report.events
    # It was down for every earlier attempt, so each event reached it once: the accepted one.
    assert report.attempts == dict.fromkeys(report.events, 1)
    assert report.late_attempts == 0
    assert report.bad_signatures == []
    assert report.pending_after == 0


def test_webhook_outage_receiver_failing_gets_each_event_after_exactly_its_refusals() -> None:
    report = receiver_failing(tokens=TOKENS)
    assert report.delivered == report.events
    assert report.attempts == dict.fromkeys(report.events, FAILURES + 1)
    assert report.late_attempts == 0
    assert report.bad_signatures == []
    assert report.pending_after == 0


def test_webhook_outage_receiver_answering_after_the_timeout_is_sent_the_event_again() -> None:
    report = receiver_slow(tokens=2)
    # Every attempt before the switch was answered too late, so every event, including those,
    # must have been accepted after it.
    assert report.delivered == report.events
    assert sum(report.attempts.values()) > len(report.events)
    assert report.late_attempts == 0
    assert report.bad_signatures == []


def test_webhook_outage_receiver_never_recovering_gets_bounded_attempts_then_none() -> None:
    report = receiver_never_recovers(tokens=1)
    limit = max_attempts(GIVE_UP, Tuning(**{**TUNING, "webhook_give_up": GIVE_UP}))
    assert report.attempts.keys() == report.events
    assert all(2 <= n <= limit for n in report.attempts.values()), (report.attempts, limit)
    assert report.pending_after == 0  # given up: no delivery is pending
    assert report.late_attempts == 0  # nor sent again when the receiver comes back
    assert report.delivered == frozenset()
    assert report.bad_signatures == []
