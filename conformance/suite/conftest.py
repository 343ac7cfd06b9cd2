"""Fixtures of the conformance suite: the accounts, the clock, the scenario vocabulary."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.client import Journal, StripeClient
from conformance.clock import Clock
from conformance.plugin import JOURNAL_KEY, run_state
from conformance.scenario import Scenario
from conformance.session import RunState
from conformance.violation import Violation, ViolationGroup


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


@pytest.fixture
def clock(spt_run: RunState, agent: StripeClient) -> Clock:
    return Clock(agent, extension=spt_run.target.has("clock"), max_wait=spt_run.options.max_wait)


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
