"""Webhook receiver outages against an embedded server with quick tuning: the receiver is down,
slow (it answers after the delivery timeout), or failing (500) for a while, and recovers; or it
never recovers and the server gives up (D-32).

Each scenario makes a few events for the agent (a payment and a revocation per token), lets the
outage act on their deliveries, ends it, and reports what the receiver saw: which events it
accepted, how many attempts each took, attempts after the recovery was complete, and whether every
attempt verifies with the endpoint's secret. What counts as delivered is what the server could
count as delivered: an accepted attempt answered in time.
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from conformance.receiver import Delivery, Receiver
from harness.reliability.calls import ISSUED, PAYMENT_INTENTS, issue_form, pay_form, revoke_path
from harness.reliability.deliveries import attempts_per_event, badly_signed
from reference_impl import RunningServer, start
from reference_impl.tuning import Tuning

__all__ = [
    "FAILURES",
    "GIVE_UP",
    "SCENARIOS",
    "TUNING",
    "OutageReport",
    "max_attempts",
    "receiver_down",
    "receiver_failing",
    "receiver_never_recovers",
    "receiver_slow",
]

TUNING: dict[str, Any] = {
    "webhook_timeout": 0.5,
    "webhook_backoff": 0.05,
    "webhook_backoff_cap": 0.2,
    "sweep_interval": 0.1,
}
REFUSE_ALL = 10**9
SLOW = 1.5  # seconds the slow receiver takes to answer: three times the timeout
FAILURES = 3  # attempts the failing receiver refuses, per event
GIVE_UP = 0.5  # webhook_give_up for the scenario where the receiver never recovers


@dataclass(frozen=True)
class OutageReport:
    scenario: str
    events: frozenset[str]  # the agent's events, as its events API lists them
    delivered: frozenset[str]  # events accepted in time by the receiver
    attempts: Counter[str]  # attempts that reached the receiver, per event
    late_attempts: int  # attempts after every event was delivered, or after the server gave up
    bad_signatures: list[str]
    seconds: float  # end of the outage -> every event delivered (never recovers: first event -> given up)
    pending_after: int  # sum of the events' pending_webhooks at the end

    @property
    def retries(self) -> int:
        return sum(self.attempts.values()) - len(self.attempts)


def max_attempts(window: float, tuning: Tuning) -> int:
    """The most attempts D-32's backoff allows within `window` seconds of the first: retry n
    waits at least three quarters (the jitter) of min(backoff * 2^(n-1), cap)."""
    attempts, elapsed = 1, 0.0
    while True:
        elapsed += 0.75 * min(tuning.webhook_backoff * 2 ** (attempts - 1), tuning.webhook_backoff_cap)
        if elapsed > window:
            return attempts
        attempts += 1


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Scene:
    """An embedded server, its agent's endpoint at `url`, and the calls that make events."""

    def __init__(self, server: RunningServer, url: str) -> None:
        self.server = server
        agent, seller = server.accounts["agent"], server.accounts["seller"]
        self.profile = seller.profile
        self.agent = httpx.Client(base_url=server.base_url, auth=(agent.secret_key, ""), timeout=10)
        self.seller = httpx.Client(base_url=server.base_url, auth=(seller.secret_key, ""), timeout=10)
        made = self.agent.post("/v1/webhook_endpoints", data={"url": url, "enabled_events[]": "*"})
        made.raise_for_status()
        self.secret: str = made.json()["secret"]

    def make_events(self, tokens: int) -> None:
        for _ in range(tokens):
            token = self.agent.post(ISSUED, data=issue_form(self.profile, 100)).json()["id"]
            self.seller.post(PAYMENT_INTENTS, data=pay_form(token, 1)).raise_for_status()
            self.agent.post(revoke_path(token)).raise_for_status()

    def events(self) -> frozenset[str]:
        return frozenset(e["id"] for e in self.agent.get("/v1/events", params={"limit": "100"}).json()["data"])

    def pending(self) -> int:
        listed = self.agent.get("/v1/events", params={"limit": "100"}).json()["data"]
        return sum(int(e["pending_webhooks"]) for e in listed)

    def close(self) -> None:
        self.agent.close()
        self.seller.close()


@contextmanager
def _scene(url: str, **tuning: Any) -> Iterator[_Scene]:
    with start(**{**TUNING, **tuning}) as server:
        scene = _Scene(server, url)
        try:
            yield scene
        finally:
            scene.close()


def _accepted_since(deliveries: list[Delivery], since: float) -> frozenset[str]:
    return frozenset(d.event_id for d in deliveries if d.accepted and d.received_monotonic >= since and d.event_id)


def _settle(receiver: Receiver, events: frozenset[str], since: float, timeout: float) -> float:
    """Wait until every event is accepted after `since`; the seconds that took."""
    receiver.wait(lambda got: _accepted_since(got, since) >= events, timeout)
    return time.monotonic() - since


def _quiet(receiver: Receiver, seconds: float) -> int:
    """Attempts arriving in the next `seconds`."""
    before = len(receiver.deliveries())
    time.sleep(seconds)
    return len(receiver.deliveries()) - before


def _report(
    name: str, receiver: Receiver, scene: _Scene, events: frozenset[str], since: float, **extra: Any
) -> OutageReport:
    deliveries = receiver.deliveries()
    return OutageReport(
        scenario=name,
        events=events,
        delivered=_accepted_since(deliveries, since),
        attempts=attempts_per_event(deliveries),
        bad_signatures=badly_signed(deliveries, {"agent": scene.secret}),
        pending_after=scene.pending(),
        **extra,
    )


def receiver_down(tokens: int = 3, outage: float = 0.6, timeout: float = 20.0) -> OutageReport:
    """Nothing listens at the endpoint's address for `outage` seconds, then the receiver starts there."""
    port = _free_port()
    with _scene(f"http://127.0.0.1:{port}/hooks/agent") as scene:
        scene.make_events(tokens)
        events = scene.events()
        time.sleep(outage)
        with Receiver(port=port) as receiver:
            receiver.register("agent", role="agent")
            back = time.monotonic()
            recovery = _settle(receiver, events, back, timeout)
            late = _quiet(receiver, 0.3)
            return _report("down", receiver, scene, events, back, seconds=recovery, late_attempts=late)


def receiver_failing(tokens: int = 3, failures: int = FAILURES, timeout: float = 20.0) -> OutageReport:
    """The receiver answers 500 to the first `failures` attempts of every event, then 200."""
    with Receiver() as receiver:
        url = receiver.register("agent", role="agent", fail_first=failures)
        # A generous timeout: here only the 500s may fail a delivery, however loaded the machine.
        with _scene(url, webhook_timeout=5.0) as scene:
            began = time.monotonic()
            scene.make_events(tokens)
            events = scene.events()
            recovery = _settle(receiver, events, began, timeout)
            late = _quiet(receiver, 0.3)
            return _report("failing", receiver, scene, events, began, seconds=recovery, late_attempts=late)


def receiver_slow(tokens: int = 2, timeout: float = 20.0) -> OutageReport:
    """The receiver answers after SLOW seconds (the server's timeout is a third of that) until two
    attempts have reached it, then at once. Deliveries from before the switch were answered too
    late: each of their events must be sent again."""
    with Receiver() as receiver:
        url = receiver.register("agent", role="agent", delay=SLOW)
        with _scene(url) as scene:
            scene.make_events(tokens)
            events = scene.events()
            receiver.wait(lambda got: len(got) >= 2, timeout)
            receiver.configure("agent", delay=0.0)
            switched = time.monotonic()
            recovery = _settle(receiver, events, switched, timeout)
            late = _quiet(receiver, 0.3)
            return _report("slow", receiver, scene, events, switched, seconds=recovery, late_attempts=late)


def receiver_never_recovers(tokens: int = 1, give_up: float = GIVE_UP, timeout: float = 10.0) -> OutageReport:
    """The receiver refuses everything; after `give_up` seconds of attempts the server stops
    (D-32), and stays stopped when the receiver comes back."""
    with Receiver() as receiver:
        url = receiver.register("agent", role="agent", fail_first=REFUSE_ALL)
        with _scene(url, webhook_give_up=give_up) as scene:
            began = time.monotonic()
            scene.make_events(tokens)
            events = scene.events()
            deadline = time.monotonic() + timeout
            while scene.pending() and time.monotonic() < deadline:
                time.sleep(0.05)
            receiver.configure("agent", fail_first=0)
            late = _quiet(receiver, give_up)
            gave_up = time.monotonic() - began
            return _report("never recovers", receiver, scene, events, began, seconds=gave_up, late_attempts=late)


SCENARIOS: dict[str, Callable[[], OutageReport]] = {
    "down": receiver_down,
    "failing": receiver_failing,
    "slow": receiver_slow,
    "never recovers": receiver_never_recovers,
}
