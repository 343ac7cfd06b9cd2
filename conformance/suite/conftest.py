"""Fixtures of the conformance suite: the accounts, the clock, the scenario vocabulary, events.

When the run records or replays (`spt-conformance run --record`, `spt-conformance replay`), the
fixtures that touch time and webhooks ask `cassette_session` how: a replay gets a receiver that
listens on no port, a clock that does not sleep and an event watch on virtual time. The event
watch judges the run's deferred expectations when the session ends, and hands each verdict to
the plugin for the test that made it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from conformance import waiting
from conformance.cassettes.replay_receiver import ReplayReceiver
from conformance.cassettes.session import CassetteSession, cassette_session
from conformance.client import Journal, StripeClient
from conformance.clock import Clock
from conformance.deliveries import DeliveryLog, scan_delivery
from conformance.endpoints import WebhookEndpoints
from conformance.event_sources import choose_mode
from conformance.events import EventLog, EventWatch
from conformance.expectations import Expectation
from conformance.plugin import JOURNAL_KEY, report_late, run_state
from conformance.progress import TIME_PROPERTY
from conformance.receiver import Receiver
from conformance.scenario import Scenario
from conformance.session import RunState
from conformance.violation import Violation, ViolationGroup
from conformance.waiting import RealTime, VirtualTime


@pytest.fixture(scope="session")
def spt_run(request: pytest.FixtureRequest) -> RunState:
    state = run_state(request.config)
    if state is None:
        pytest.exit("no target: pass --spt-target FILE (or use `spt-conformance run`)", returncode=2)
    assert isinstance(state, RunState)
    return state


@pytest.fixture
def journal(request: pytest.FixtureRequest, spt_run: RunState) -> Iterator[Journal]:
    """Every exchange of this test, checked by the registered checks as it happens."""
    journal = spt_run.journal()
    request.node.stash[JOURNAL_KEY] = journal
    yield journal
    violations = [f for f in journal.findings if isinstance(f, Violation)]
    if violations:
        # Reported against their own requirements by the plugin; raised so pytest sees them too.
        raise ViolationGroup(violations)


@pytest.fixture
def agent(spt_run: RunState, journal: Journal) -> StripeClient:
    return spt_run.client(spt_run.target.agent, journal)


@pytest.fixture
def seller(spt_run: RunState, journal: Journal) -> StripeClient:
    return spt_run.client(spt_run.target.seller, journal)


@pytest.fixture
def other_seller(spt_run: RunState, journal: Journal) -> StripeClient:
    account = spt_run.target.other_seller
    if account is None:
        pytest.skip("the target names no other_seller account")
    return spt_run.client(account, journal)


def _replaying(request: pytest.FixtureRequest) -> bool:
    session = cassette_session(request.config)
    return session is not None and session.replaying


@pytest.fixture
def clock(request: pytest.FixtureRequest, spt_run: RunState, agent: StripeClient) -> Clock:
    extension, max_wait = spt_run.target.has("clock"), spt_run.options.wait_limit
    session = cassette_session(request.config)
    if session is not None:
        return session.make_clock(agent, extension=extension, max_wait=max_wait)
    return Clock(agent, extension=extension, max_wait=max_wait)


@pytest.fixture
def spt(spt_run: RunState, agent: StripeClient, seller: StripeClient, journal: Journal, clock: Clock) -> Scenario:
    other = spt_run.target.other_seller
    return Scenario(
        spt_run.target,
        agent,
        seller,
        spt_run.client(other, journal) if other is not None else None,
        clock,
    )


@pytest.fixture(scope="session")
def webhook_receiver(request: pytest.FixtureRequest, spt_run: RunState) -> Iterator[DeliveryLog]:
    """The process's webhook receiver; every delivery's body is scanned like a response."""
    session: CassetteSession | None = cassette_session(request.config)
    receiver: DeliveryLog
    if _replaying(request):
        receiver = ReplayReceiver(inspect=lambda delivery: scan_delivery(delivery, spt_run.context))
    else:
        receiver = Receiver(
            public_url=spt_run.options.public_url,
            port=spt_run.options.receiver_port or 0,
            inspect=lambda delivery: scan_delivery(delivery, spt_run.context),
        )
    with receiver:
        if session is not None:
            session.attach_receiver(receiver)
        yield receiver


@pytest.fixture(scope="session")
def webhook_endpoints(
    request: pytest.FixtureRequest, spt_run: RunState, webhook_receiver: DeliveryLog
) -> Iterator[WebhookEndpoints]:
    """One endpoint per account (enabled_events *), made by the first test that needs events."""
    session = cassette_session(request.config)
    endpoints = WebhookEndpoints(spt_run, webhook_receiver, scope=session.session_scope if session else None)
    yield endpoints
    endpoints.close()


@pytest.fixture(scope="session")
def event_watch(request: pytest.FixtureRequest, spt_run: RunState) -> Iterator[EventWatch]:
    """The run's events; its expectations are judged when the session ends, before the
    endpoints go (this fixture is torn down first, having asked for them)."""
    mode, reason = choose_mode(spt_run.target, spt_run.options.events)
    endpoints = request.getfixturevalue("webhook_endpoints") if mode == "push" else None
    timeline = VirtualTime() if _replaying(request) else RealTime()
    watch = EventWatch(spt_run, mode=mode, timeline=timeline, endpoints=endpoints, reason=reason)
    yield watch

    def report(expectation: Expectation, violation: Violation | None) -> None:
        report_late(request.config, expectation.test, expectation.requirement, violation)

    session = cassette_session(request.config)
    with session.session_scope() if session is not None else contextlib.nullcontext():
        watch.close(report)


@pytest.fixture
def events(request: pytest.FixtureRequest, event_watch: EventWatch, journal: Journal) -> EventLog:
    """The events the test's accounts receive, pushed or pulled as the target allows."""
    return event_watch.log(journal, request.node.nodeid)


@pytest.fixture
def max_wait(spt_run: RunState) -> float:
    """The longest a test may wait for real time to pass or an event to arrive."""
    return spt_run.options.wait_limit


_spent_before: dict[str, float] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """The teardown report carries where this process's time went since the previous one."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when != "teardown":
        return
    now = {**waiting.spent(), "cpu": time.process_time()}
    split = {kind: seconds - _spent_before.get(kind, 0.0) for kind, seconds in now.items()}
    _spent_before.update(now)
    journal = item.stash.get(JOURNAL_KEY, None)
    split["requests"] = sum(e.elapsed_ms for e in journal.exchanges) / 1000 if journal is not None else 0.0
    report.user_properties.append((TIME_PROPERTY, split))
