"""EventLog, against a fake target (httpx.MockTransport) that pushes to a real receiver or
answers GET /v1/events."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

import conformance.events
from conformance.client import Journal
from conformance.endpoints import WebhookEndpoints
from conformance.event_sources import choose_mode
from conformance.events import EventLog, EventWatch, silence_window
from conformance.options import RunOptions
from conformance.receiver import Receiver, scan_delivery, sign
from conformance.session import RunState
from conformance.spec import default_spec
from conformance.target import target_from_mapping
from conformance.violation import Violation
from conformance.waiting import RealTime, Timeline, VirtualTime

KEYS = {"sk_test_agent0000": "agent", "sk_test_seller000": "seller", "sk_test_other0000": "other_seller"}


def target_mapping(**capabilities: bool) -> dict[str, Any]:
    return {
        "base_url": "http://fake.test",
        "agent": {"secret_key": "sk_test_agent0000"},
        "seller": {"secret_key": "sk_test_seller000", "network_business_profile": "profile_test_s"},
        "other_seller": {"secret_key": "sk_test_other0000", "network_business_profile": "profile_test_o"},
        "capabilities": capabilities,
    }


def event(event_id: str, type_: str, object_id: str, created: int = 1_800_000_000, **extra: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": type_,
        "created": created,
        "livemode": False,
        "data": {"object": {"id": object_id, "object": "shared_payment.issued_token", **extra}},
    }


@dataclass
class FakeTarget:
    """Just enough of a Stripe-like server: webhook endpoints and a newest-first event list."""

    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {role, url, secret}
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # role -> oldest first
    requests: list[tuple[str, str, str, dict[str, str]]] = field(default_factory=list)
    page_size_cap: int = 100
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: httpx.Request) -> httpx.Response:
        role = KEYS[request.headers["Authorization"].removeprefix("Bearer ")]
        query = dict(parse_qsl(request.url.query.decode()))
        form = dict(parse_qsl(request.content.decode()))
        path = request.url.path
        with self.lock:
            self.requests.append((role, request.method, path, query or form))
        headers = {"Request-Id": "req_fake"}
        if request.method == "POST" and path == "/v1/webhook_endpoints":
            endpoint_id = f"we_{len(self.endpoints) + 1}"
            secret = f"whsec_fake{len(self.endpoints) + 1:08d}"
            self.endpoints[endpoint_id] = {"role": role, "url": form["url"], "secret": secret}
            body = {"id": endpoint_id, "object": "webhook_endpoint", "secret": secret, "url": form["url"]}
            return httpx.Response(200, json=body, headers=headers)
        if request.method == "DELETE" and path.startswith("/v1/webhook_endpoints/"):
            self.endpoints.pop(path.rsplit("/", 1)[1], None)
            return httpx.Response(200, json={"id": path.rsplit("/", 1)[1], "deleted": True}, headers=headers)
        if request.method == "GET" and path == "/v1/events":
            with self.lock:
                listed = [e for e in reversed(self.events.get(role, [])) if e["type"] == query.get("type", e["type"])]
            if "starting_after" in query:
                ids = [e["id"] for e in listed]
                listed = listed[ids.index(query["starting_after"]) + 1 :]
            limit = min(int(query.get("limit", 10)), self.page_size_cap)
            page = {"object": "list", "data": listed[:limit], "has_more": len(listed) > limit, "url": "/v1/events"}
            return httpx.Response(200, json=page, headers=headers)
        return httpx.Response(404, json={"error": {"type": "invalid_request_error", "message": "no"}}, headers=headers)

    def record(self, role: str, payload: Mapping[str, Any]) -> None:
        with self.lock:
            self.events.setdefault(role, []).append(dict(payload))

    def push(self, role: str, payload: Mapping[str, Any], *, bad_signature: bool = False) -> None:
        body = json.dumps(payload)
        for endpoint in list(self.endpoints.values()):
            if endpoint["role"] == role:
                secret = "whsec_wrong000" if bad_signature else endpoint["secret"]
                header = sign(body, secret, int(time.time()))
                with httpx.Client(verify=False) as client:  # noqa: S501 - plain http to the loopback receiver
                    client.post(endpoint["url"], content=body.encode(), headers={"Stripe-Signature": header})

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r[1] == method and r[2] == path)


@pytest.fixture
def fake() -> FakeTarget:
    return FakeTarget()


def run_state(fake: FakeTarget, *, embedded: bool = True, max_wait: float = 2.0, **capabilities: bool) -> RunState:
    target = target_from_mapping(target_mapping(**capabilities), embedded=embedded)
    http = httpx.Client(base_url=target.base_url, transport=httpx.MockTransport(fake.handle))
    return RunState(default_spec(), target, RunOptions(max_wait=max_wait), _http=http)


@dataclass
class Push:
    """A run observing events by push: its receiver, endpoints and watch."""

    state: RunState
    receiver: Receiver
    endpoints: WebhookEndpoints
    watch: EventWatch

    def log(self, journal: Journal | None = None, test: str = "test_x") -> EventLog:
        return self.watch.log(journal or self.state.journal(), test)


@pytest.fixture
def push_run(fake: FakeTarget) -> Iterator[Push]:
    state = run_state(fake, webhook_endpoints=True)
    with Receiver(inspect=lambda d: scan_delivery(d, state.context)) as receiver:
        endpoints = WebhookEndpoints(state, receiver)
        yield Push(state, receiver, endpoints, EventWatch(state, mode="push", timeline=RealTime(), endpoints=endpoints))
        endpoints.close()
    state.close()


def pull_watch(state: RunState, timeline: Timeline | None = None) -> EventWatch:
    return EventWatch(state, mode="pull", timeline=timeline or RealTime())


def verdicts(watch: EventWatch) -> list[tuple[str, str, str | None]]:
    """(test, requirement, what was received or None when it held) of each expectation judged."""
    found: list[tuple[str, str, str | None]] = []
    watch.close(lambda e, v: found.append((e.test, e.requirement, v.received if v is not None else None)))
    return found


# ------------------------------------------------------------------ choosing how
@pytest.mark.parametrize(
    ("capabilities", "option", "mode"),
    [
        ({"webhook_endpoints": True, "events": True}, "auto", "push"),
        ({"events": True}, "auto", "pull"),
        ({}, "auto", None),
        ({"webhook_endpoints": True, "events": True}, "pull", "pull"),
        ({"events": True}, "push", None),
        ({"webhook_endpoints": True}, "pull", None),
    ],
)
def test_choose_mode_option_and_capabilities_pick_the_source(
    capabilities: dict[str, bool], option: str, mode: str | None
) -> None:
    chosen, reason = choose_mode(target_from_mapping(target_mapping(**capabilities)), option)
    assert chosen == mode
    assert bool(reason) is (mode is None)


def test_event_log_without_source_skips_with_the_reason(fake: FakeTarget) -> None:
    state = run_state(fake)
    watch = EventWatch(state, mode=None, timeline=RealTime(), reason="the target offers nothing")
    log = watch.log(state.journal())
    assert not log.available
    with pytest.raises(pytest.skip.Exception, match="offers nothing"):
        log.wait_for("agent", "shared_payment.issued_token.used", "spt_1")
    with pytest.raises(pytest.skip.Exception):
        log.expect_none("agent", "spt_1", "SPT-EVT-007")
    assert verdicts(watch) == []


# ------------------------------------------------------------------ push
def test_event_log_push_creates_one_endpoint_per_account_once(fake: FakeTarget, push_run: Push) -> None:
    push_run.log()
    push_run.log()
    assert fake.count("POST", "/v1/webhook_endpoints") == 3
    created = [r[3] for r in fake.requests if r[1] == "POST"]
    assert all(form["enabled_events[0]"] == "*" for form in created)
    assert {e["role"] for e in fake.endpoints.values()} == {"agent", "seller", "other_seller"}
    push_run.endpoints.close()
    assert fake.count("DELETE", "/v1/webhook_endpoints/we_1") == 1
    assert fake.endpoints == {}


def test_event_log_push_wait_for_returns_the_matching_event(fake: FakeTarget, push_run: Push) -> None:
    log = push_run.log()
    fake.push("agent", event("evt_other", "shared_payment.issued_token.used", "spt_other"))
    fake.push("seller", event("evt_seller", "shared_payment.issued_token.used", "spt_1"))
    later = threading.Timer(0.1, fake.push, ("agent", event("evt_1", "shared_payment.issued_token.used", "spt_1")))
    later.start()
    (found,) = log.wait_for("agent", "shared_payment.issued_token.used", "spt_1", requirement="SPT-EVT-001")
    later.join()
    assert found.id == "evt_1"
    assert found.via == "push"
    assert found.role == "agent"
    assert found.object_id == "spt_1"
    assert found.data_object["object"] == "shared_payment.issued_token"
    assert found.delivery is not None
    assert found.delivery.signature is not None
    assert found.delivery.signature.valid


def test_event_log_push_missing_event_raises_the_requirement(push_run: Push) -> None:
    log = push_run.log()
    started = time.monotonic()
    with pytest.raises(Violation) as raised:
        log.wait_for("agent", "shared_payment.issued_token.used", "spt_1", timeout=0.2, requirement="SPT-EVT-001")
    assert raised.value.requirement == "SPT-EVT-001"
    assert "0 shared_payment.issued_token.used event(s) about spt_1" in raised.value.received
    assert time.monotonic() - started < 1.5
    assert log.wait_for("agent", "shared_payment.issued_token.used", "spt_1", timeout=0.05) == []


def test_event_watch_waits_its_full_patience_once_per_missing_event_type(fake: FakeTarget, push_run: Push) -> None:
    log = push_run.log()
    used, deactivated = "shared_payment.issued_token.used", "shared_payment.issued_token.deactivated"
    fake.push("agent", event("evt_0", deactivated, "spt_0"))
    log.wait_for("agent", deactivated, "spt_0")  # the server does send events
    assert push_run.watch.patience("agent", used) == push_run.watch.max_wait == 2.0
    with pytest.raises(Violation):
        log.wait_for("agent", used, "spt_1", requirement="SPT-EVT-001")
    # The source has proved it does not send this: the next wait for it is a quiet period long.
    assert push_run.watch.patience("agent", used) == 1.0
    assert push_run.watch.patience("agent", deactivated) == 2.0
    assert push_run.watch.patience("seller", used) == 2.0
    with pytest.raises(Violation) as raised:
        log.wait_for("agent", used, "spt_2", requirement="SPT-EVT-001")
    assert "an earlier wait for this event type ran its full time" in raised.value.received
    fake.push("agent", event("evt_3", used, "spt_3"))
    log.wait_for("agent", used, "spt_3", requirement="SPT-EVT-001")
    assert push_run.watch.patience("agent", used) == 2.0  # it arrived: patience is restored


def test_event_watch_takes_one_look_once_a_full_wait_found_the_server_silent(push_run: Push) -> None:
    log = push_run.log()
    with pytest.raises(Violation):
        log.wait_for("agent", "shared_payment.issued_token.used", "spt_1", requirement="SPT-EVT-001")
    # Nothing at all has arrived in the run: every later wait, of any kind, takes one look.
    assert push_run.watch.patience("seller", "shared_payment.granted_token.deactivated") == 0.0
    started = time.monotonic()
    assert log.wait_for("seller", "shared_payment.granted_token.deactivated", "spt_2") == []
    assert time.monotonic() - started < 1.0


def test_event_watch_finds_a_silent_server_one_patience_after_the_first_event_due(push_run: Push) -> None:
    used = "shared_payment.issued_token.used"
    push_run.log(test="test_early").expect_arrival("agent", used, "spt_0", "SPT-EVT-001")
    time.sleep(1.2)  # the rest of the run goes on; nothing is ever delivered
    log = push_run.log(test="test_late")
    started = time.monotonic()
    with pytest.raises(Violation) as raised:
        log.wait_for("agent", used, "spt_1", requirement="SPT-EVT-001")
    waited = time.monotonic() - started
    # Its own patience (2 s) would end 3.2 s after the arrival was asked; the run's silence, at 2 s.
    assert 0.5 < waited < 1.5
    assert "no delivery at all has reached any endpoint in the 2 s since the run first expected" in (
        raised.value.received
    )
    assert push_run.watch.patience("seller", "shared_payment.granted_token.deactivated") == 0.0


@pytest.mark.parametrize(("max_wait", "window"), [(30.0, 10.0), (5.0, 5.0), (60.0, 20.0), (2.0, 2.0)])
def test_silence_window_is_a_third_of_max_wait_at_least_the_first_delivery_wait(max_wait: float, window: float) -> None:
    assert silence_window(max_wait) == window


@pytest.fixture
def short_silence(fake: FakeTarget, monkeypatch: pytest.MonkeyPatch) -> Iterator[Push]:
    """A push run with a 3 s --max-wait whose silence window is 1 s (a floor of 0.5 s, to keep the test short)."""
    monkeypatch.setattr(conformance.events, "FIRST_DELIVERY_WAIT", 0.5)
    state = run_state(fake, webhook_endpoints=True, max_wait=3.0)
    with Receiver(inspect=lambda d: scan_delivery(d, state.context)) as receiver:
        endpoints = WebhookEndpoints(state, receiver)
        yield Push(state, receiver, endpoints, EventWatch(state, mode="push", timeline=RealTime(), endpoints=endpoints))
        endpoints.close()
    state.close()


def test_event_watch_ends_a_wait_one_silence_window_after_the_first_event_due(short_silence: Push) -> None:
    assert short_silence.watch.silence == 1.0
    used = "shared_payment.issued_token.used"
    short_silence.log(test="test_early").expect_arrival("agent", used, "spt_0", "SPT-EVT-001")
    started = time.monotonic()
    with pytest.raises(Violation) as raised:
        short_silence.log(test="test_late").wait_for("agent", used, "spt_1", requirement="SPT-EVT-001")
    assert 0.8 < time.monotonic() - started < 2.0  # the window (1 s), not the test's patience (3 s)
    assert "no delivery at all has reached any endpoint in the 1 s since the run first expected" in (
        raised.value.received
    )


def test_event_watch_awaits_arrivals_from_a_silent_server_one_silence_window(short_silence: Push) -> None:
    """A run whose tests only state arrivals (no wait ever runs out) still stops awaiting a
    server that delivers nothing at the end of the silence window, not at each arrival's patience."""
    for n in range(3):
        short_silence.log(test=f"test_{n}").expect_arrival(
            "agent", "shared_payment.issued_token.used", f"spt_{n}", "SPT-EVT-001"
        )
    started = time.monotonic()
    judged = verdicts(short_silence.watch)
    assert [r for _, r, received in judged if received is not None] == ["SPT-EVT-001"] * 3
    assert time.monotonic() - started < 2.5  # the window (1 s) and the floor's quiet, not a 3 s patience


def test_event_watch_waits_its_own_patience_once_the_server_delivered_anything(
    fake: FakeTarget, push_run: Push
) -> None:
    used = "shared_payment.issued_token.used"
    push_run.log(test="test_early").expect_arrival("agent", used, "spt_0", "SPT-EVT-001")
    fake.push("seller", event("evt_9", "shared_payment.granted_token.used", "spt_9"))  # the server is not silent
    time.sleep(1.2)
    log = push_run.log(test="test_late")
    started = time.monotonic()
    with pytest.raises(Violation) as raised:
        log.wait_for("agent", used, "spt_1", requirement="SPT-EVT-001")
    assert time.monotonic() - started >= 2.0
    assert "no delivery at all" not in raised.value.received


def test_event_watch_keeps_its_patience_for_a_server_that_sends_the_wrong_events(
    fake: FakeTarget, push_run: Push
) -> None:
    log = push_run.log()
    used = "shared_payment.issued_token.used"
    # The agent's event went to the seller: the awaited one never comes, but the server is not silent.
    fake.push("seller", event("evt_1", used, "spt_1"))
    with pytest.raises(Violation):
        log.wait_for("agent", used, "spt_1", requirement="SPT-EVT-001")
    assert push_run.watch.patience("seller", "shared_payment.granted_token.deactivated") == push_run.watch.max_wait


def test_event_watch_judges_expectations_after_the_final_quiet_period(fake: FakeTarget, push_run: Push) -> None:
    used = "shared_payment.issued_token.used"
    first = push_run.log(test="test_once")
    fake.push("agent", event("evt_1", used, "spt_1"))
    first.wait_for("agent", used, "spt_1")
    first.expect_count("agent", "spt_1", used, 1, "SPT-EVT-001")
    second = push_run.log(test="test_none")
    second.expect_none("other_seller", "spt_1", "SPT-EVT-007")
    # A duplicate and a stray, after both tests have moved on: the final judgement sees them.

    def late() -> None:
        fake.push("agent", event("evt_dup", used, "spt_1"))
        fake.push("other_seller", event("evt_x", used, "spt_1"))

    later = threading.Timer(0.05, late)
    later.start()
    judged = verdicts(push_run.watch)
    later.join()
    assert [(t, r) for t, r, _ in judged] == [("test_once", "SPT-EVT-001"), ("test_none", "SPT-EVT-007")]
    assert judged[0][2] is not None
    assert "2 shared_payment.issued_token.used" in judged[0][2]
    assert judged[1][2] is not None
    assert "the other_seller received" in judged[1][2]
    assert verdicts(push_run.watch) == []  # each expectation is judged once


def test_event_watch_expectations_that_hold_are_reported_held(fake: FakeTarget, push_run: Push) -> None:
    used = "shared_payment.issued_token.used"
    log = push_run.log(test="test_ok")
    used_twice = event("evt_1", used, "spt_1")
    fake.push("agent", used_twice)
    fake.push("agent", used_twice)  # a retry of the same event: at least once, counted once
    log.wait_for("agent", used, "spt_1")
    log.expect_count("agent", "spt_1", used, 1, "SPT-EVT-001")
    log.expect_none("seller", "spt_1", "SPT-EVT-007")
    assert verdicts(push_run.watch) == [("test_ok", "SPT-EVT-001", None), ("test_ok", "SPT-EVT-007", None)]


def test_event_watch_final_quiet_lasts_while_the_receiver_is_busy(fake: FakeTarget, push_run: Push) -> None:
    log = push_run.log()
    push_run.watch.quiet = 0.3
    log.expect_count("agent", "spt_1", "shared_payment.issued_token.deactivated", 0, "SPT-EVT-003")

    def backlog() -> None:
        # A server working through a queue: other objects' events, then one about spt_1.
        for number in range(6):
            fake.push("agent", event(f"evt_busy{number}", "shared_payment.issued_token.used", "spt_other"))
            time.sleep(0.1)
        fake.push("agent", event("evt_late", "shared_payment.issued_token.deactivated", "spt_1"))

    sender = threading.Thread(target=backlog)
    sender.start()
    ((_, _, received),) = verdicts(push_run.watch)
    sender.join()
    assert received is not None
    assert "evt_late" in received


def test_event_log_push_findings_reach_the_journal_once(fake: FakeTarget, push_run: Push) -> None:
    journal = Journal()  # no registered checks: only what the deliveries bring
    log = push_run.log(journal)
    fake.push("seller", event("evt_1", "shared_payment.granted_token.used", "spt_1", note="4242424242424242"))
    log.wait_for("seller", "shared_payment.granted_token.used", "spt_1")
    log.wait_for("seller", "shared_payment.granted_token.used", "spt_1")
    assert [getattr(v, "requirement", None) for v in journal.findings] == ["SPT-SEC-008"]


def test_event_log_push_bad_signature_is_observed_with_its_verdict(fake: FakeTarget, push_run: Push) -> None:
    log = push_run.log()
    fake.push("agent", event("evt_1", "shared_payment.issued_token.used", "spt_1"), bad_signature=True)
    (found,) = log.wait_for("agent", "shared_payment.issued_token.used", "spt_1")
    assert found.delivery is not None
    assert found.delivery.signature is not None
    assert not found.delivery.signature.valid


def test_event_log_push_ignores_deliveries_from_before_the_test(fake: FakeTarget, push_run: Push) -> None:
    push_run.log()
    fake.push("agent", event("evt_old", "shared_payment.issued_token.used", "spt_1"))
    push_run.receiver.wait(lambda ds: len(ds) == 1, timeout=2)
    assert push_run.log().observed("agent") == []
    assert [e.id for e in push_run.watch.about("agent", "spt_1")] == ["evt_old"]  # the run saw it


# ------------------------------------------------------------------ pull
def test_event_log_pull_finds_an_event_that_appears_later(fake: FakeTarget) -> None:
    state = run_state(fake, events=True)
    fake.record("agent", event("evt_old", "shared_payment.issued_token.used", "spt_0", created=1_799_999_000))
    log = pull_watch(state).log(state.journal())
    later = threading.Timer(
        0.1,
        fake.record,
        ("agent", event("evt_new", "shared_payment.issued_token.used", "spt_1", created=1_800_000_000)),
    )
    later.start()
    found = log.wait_for("agent", "shared_payment.issued_token.used", "spt_1", requirement="SPT-EVT-001")
    later.join()
    assert [e.id for e in found] == ["evt_new"]
    assert all(e.via == "pull" for e in found)
    polls = [r for r in fake.requests if r[2] == "/v1/events" and "type" in r[3]]
    assert polls
    assert polls[-1][3]["type"] == "shared_payment.issued_token.used"


def test_event_log_pull_pages_back_only_to_the_start_of_the_test(fake: FakeTarget) -> None:
    fake.page_size_cap = 2
    for number in range(10):
        fake.record(
            "agent", event(f"evt_old{number}", "shared_payment.issued_token.used", "spt_x", created=1000 + number)
        )
    state = run_state(fake, events=True)
    log = pull_watch(state).log(state.journal())
    for number in range(3):
        fake.record("agent", event(f"evt_new{number}", "shared_payment.issued_token.used", "spt_1", created=2000))
    found = log.wait_for("agent", "shared_payment.issued_token.used", "spt_1", count=3)
    assert sorted(e.id for e in found) == ["evt_new0", "evt_new1", "evt_new2"]
    # Pages of two: [new2, new1], [new0, old9], [old8, old7]; old8 is older than old9, the newest
    # event when the test began, so no poll reads further back.
    cursors = {r[3].get("starting_after") for r in fake.requests if r[2] == "/v1/events"}
    assert cursors == {None, "evt_new1", "evt_old9"}


def test_event_watch_pull_judges_each_account_apart(fake: FakeTarget) -> None:
    state = run_state(fake, events=True)
    watch = pull_watch(state)
    watch.quiet = 0.05
    log = watch.log(state.journal(), "test_pull")
    fake.record("agent", event("evt_1", "shared_payment.issued_token.used", "spt_1"))
    log.expect_none("other_seller", "spt_1", "SPT-EVT-007")
    log.expect_count("agent", "spt_1", "shared_payment.issued_token.used", 1, "SPT-EVT-001")
    assert verdicts(watch) == [("test_pull", "SPT-EVT-007", None), ("test_pull", "SPT-EVT-001", None)]
    assert [e.id for e in log.observed("agent")] == ["evt_1"]


def test_event_watch_on_virtual_time_never_sleeps(fake: FakeTarget) -> None:
    state = run_state(fake, events=True, embedded=False)
    watch = pull_watch(state, VirtualTime())
    log = watch.log(state.journal(), "test_virtual")
    log.expect_none("agent", "spt_1", "SPT-EVT-007")
    started = time.monotonic()
    assert log.wait_for("agent", "shared_payment.issued_token.used", "spt_1") == []
    assert verdicts(watch) == [("test_virtual", "SPT-EVT-007", None)]
    assert time.monotonic() - started < watch.quiet  # 30 s of patience and 5 s of quiet, none slept


def test_event_watch_quiet_period_is_short_on_the_reference_server(fake: FakeTarget) -> None:
    embedded = pull_watch(run_state(fake, events=True))
    external = pull_watch(run_state(fake, events=True, embedded=False))
    assert embedded.quiet < 1 < external.quiet


# ------------------------------------------------------------------ awaited at the end of the run
def test_event_watch_awaits_arrivals_together_at_the_end(fake: FakeTarget, push_run: Push) -> None:
    used = "shared_payment.issued_token.used"
    first, second = push_run.log(test="test_a"), push_run.log(test="test_b")
    first.expect_arrival("agent", used, "spt_1", "SPT-EVT-001")
    second.expect_arrival("seller", "shared_payment.granted_token.used", "spt_2", "SPT-EVT-002")
    # Both come after their tests have moved on, while the run waits for them: each one is held.

    def late() -> None:
        fake.push("agent", event("evt_1", used, "spt_1"))
        fake.push("seller", event("evt_2", "shared_payment.granted_token.used", "spt_2"))

    later = threading.Timer(0.3, late)
    later.start()
    started = time.monotonic()
    judged = verdicts(push_run.watch)
    later.join()
    assert judged == [("test_a", "SPT-EVT-001", None), ("test_b", "SPT-EVT-002", None)]
    assert time.monotonic() - started < push_run.watch.max_wait  # not a full wait each


def test_event_watch_arrival_that_never_comes_fails_its_test_once_due(fake: FakeTarget, push_run: Push) -> None:
    deactivated = "shared_payment.issued_token.deactivated"
    log = push_run.log(test="test_missing")
    fake.push("agent", event("evt_0", deactivated, "spt_0"))  # the server does send events
    log.wait_for("agent", deactivated, "spt_0")
    log.expect_arrival("agent", "shared_payment.issued_token.used", "spt_1", "SPT-EVT-001", count=2)
    fake.push("agent", event("evt_1", "shared_payment.issued_token.used", "spt_1"))  # one of the two
    started = time.monotonic()
    ((test, requirement, received),) = verdicts(push_run.watch)
    waited = time.monotonic() - started
    assert (test, requirement) == ("test_missing", "SPT-EVT-001")
    assert received is not None
    assert "1 shared_payment.issued_token.used event(s) about spt_1 reached the agent" in received
    assert 1.5 < waited < 2.0 + 1.5  # its patience (2 s, from when it was asked) and one quiet period


def test_event_watch_arrivals_from_a_silent_server_share_one_wait(push_run: Push) -> None:
    for n in range(5):
        push_run.log(test=f"test_{n}").expect_arrival(
            "agent", "shared_payment.issued_token.used", f"spt_{n}", "SPT-EVT-001"
        )
    started = time.monotonic()
    judged = verdicts(push_run.watch)
    assert [r for _, r, received in judged if received is not None] == ["SPT-EVT-001"] * 5
    assert time.monotonic() - started < 2 * push_run.watch.max_wait  # one patience, not five


def test_event_watch_final_quiet_follows_how_fast_the_target_delivers(fake: FakeTarget) -> None:
    """Against another server, late duplicates are given three times its slowest delivery, at
    least a second; a server that delivers slowly keeps the whole quiet period."""
    state = run_state(fake, webhook_endpoints=True, embedded=False)
    with Receiver(inspect=lambda d: scan_delivery(d, state.context)) as receiver:
        endpoints = WebhookEndpoints(state, receiver)
        watch = EventWatch(state, mode="push", timeline=RealTime(), endpoints=endpoints)
        assert watch.final_quiet() == watch.quiet == 3.0  # nothing timed yet
        log = watch.log(state.journal(), "test_fast")
        fake.push("agent", event("evt_1", "shared_payment.issued_token.used", "spt_1"))
        log.wait_for("agent", "shared_payment.issued_token.used", "spt_1")
        assert watch.final_quiet() == 1.0
        later = threading.Timer(1.2, fake.push, ("agent", event("evt_2", "shared_payment.issued_token.used", "spt_2")))
        later.start()
        log.wait_for("agent", "shared_payment.issued_token.used", "spt_2")
        later.join()
        assert watch.final_quiet() == 3.0
        endpoints.close()
    state.close()


def test_event_watch_final_quiet_is_the_floor_once_the_server_is_found_silent(fake: FakeTarget) -> None:
    state = run_state(fake, webhook_endpoints=True, embedded=False, max_wait=0.5)
    with Receiver(inspect=lambda d: scan_delivery(d, state.context)) as receiver:
        endpoints = WebhookEndpoints(state, receiver)
        watch = EventWatch(state, mode="push", timeline=RealTime(), endpoints=endpoints)
        assert watch.final_quiet() == 3.0
        with pytest.raises(Violation):
            watch.log(state.journal(), "test_x").wait_for(
                "agent", "shared_payment.issued_token.used", "spt_1", requirement="SPT-EVT-001"
            )
        assert watch.final_quiet() == 1.0  # nothing came in a whole wait: no late duplicate to wait for
        endpoints.close()
    state.close()


def test_event_watch_count_resting_on_a_missing_arrival_is_reported_once(fake: FakeTarget, push_run: Push) -> None:
    """A server that never sends the event fails the arrival's requirement; the test's "exactly
    one" about the same event has nothing to judge and adds no second failure."""
    deactivated = "shared_payment.issued_token.deactivated"
    log = push_run.log(test="test_replay")
    fake.push("agent", event("evt_0", deactivated, "spt_0"))  # the server does send some events
    log.wait_for("agent", deactivated, "spt_0")
    log.expect_arrival("agent", "shared_payment.issued_token.used", "spt_1", "SPT-EVT-001")
    log.expect_count("agent", "spt_1", "shared_payment.issued_token.used", 1, "SPT-IDM-003")
    log.expect_count("agent", "spt_0", deactivated, 1, "SPT-EVT-003")  # came: judged as usual
    judged = verdicts(push_run.watch)
    assert [(r, received is None) for _, r, received in judged] == [("SPT-EVT-001", False), ("SPT-EVT-003", True)]


def test_event_watch_pulled_arrivals_read_each_account_once_per_round(fake: FakeTarget) -> None:
    state = run_state(fake, events=True)
    watch = pull_watch(state)
    log = watch.log(state.journal(), "test_pulled")
    for n in range(6):
        log.expect_arrival("agent", "shared_payment.issued_token.used", f"spt_{n}", "SPT-EVT-001")
        fake.record("agent", event(f"evt_{n}", "shared_payment.issued_token.used", f"spt_{n}"))
    watch.about("agent", "spt_0")  # the run's whole reader, started
    before = fake.count("GET", "/v1/events")
    watch._await_arrivals()  # all came: one round
    # One page of GET /v1/events per account, not one per awaited arrival (a rate-limited API).
    assert fake.count("GET", "/v1/events") - before == len(state.target.accounts)
    assert [received for _, _, received in verdicts(watch)] == [None] * 6
