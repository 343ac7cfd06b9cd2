"""The order of a run's tests, and under `-n`, the tests that share the target's clock on one worker.

Order. The tests that only say which events they expect (`expect_arrival`, awaited together at
the end of the run) go first, and the tests that block on an event go last. A server that
delivers no event at all then costs one silence window counted from the first event due, which
the rest of the run overlaps (`EventWatch.silence_due`), instead of one counted from the middle
of the run. The modules in between keep their order.

The clock extension's clock is one per server. A test that moves it (`Clock.advance`,
`pass_beyond`) expires every short-lived token of every test running meanwhile, and a test that
issues a token meant to expire on time (a lead time, not the default month) needs nobody else to
move it: run on two workers at once, such tests fail each other and the lifecycle machine reads
two views that straddle an expiry. So pytest-xdist is given a scheduler that makes all of them
one unit of work, sent to one worker, while every other test is a unit of its own.

A module is listed here when its tests move the clock or issue expiring tokens;
`tests/conformance/test_scheduling.py` finds every suite module that does and checks the list,
as it checks the two lists of the order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TypeVar

from xdist.scheduler import LoadScopeScheduling

__all__ = [
    "EXPECTING_MODULES",
    "SHARED_CLOCK_MODULES",
    "WAITING_MODULES",
    "SharedClockScheduling",
    "run_order",
    "shares_clock",
]

EXPECTING_MODULES = frozenset(
    {"test_concurrency.py", "test_events_sent.py", "test_idempotency.py", "test_isolation.py"}
)
# In this order: the lifecycle machine does seconds of work before its first wait, which then
# still overlaps a silent server's deadline; the others wait almost at once.
WAITING_MODULES = (
    "test_lifecycle.py",
    "test_events_content.py",
    "test_events_list.py",
    "test_non_disclosure.py",
    "test_webhooks.py",
)

SHARED_CLOCK_MODULES = frozenset(
    {
        "test_bad_input.py",
        "test_events_sent.py",
        "test_expiry.py",
        "test_granted_view.py",
        "test_issuance.py",
        "test_lifecycle.py",
        "test_redemption.py",
        "test_revocation.py",
    }
)
SHARED = "shared-clock"


@lru_cache(maxsize=1)
def _clock_operations() -> frozenset[str]:
    """The contract tests' ids of the operations that move the clock (`[PostTestHelpers…ClockAdvance]`)."""
    from conformance.contract.operations import all_operation_ids, operation_needs
    from conformance.spec import default_spec

    spec = default_spec()
    return frozenset(f"[{op}]" for op in all_operation_ids(spec) if "clock" in operation_needs(spec, op))


def _module(nodeid: str) -> str:
    return nodeid.partition("::")[0].rsplit("/", 1)[-1]


Item = TypeVar("Item")


def run_order(items: Sequence[Item], nodeid: Callable[[Item], str]) -> list[Item]:
    """`items` with the expecting modules first and the waiting ones last (in their order),
    otherwise as given."""

    def rank(item: Item) -> int:
        module = _module(nodeid(item))
        if module in EXPECTING_MODULES:
            return 0
        return 2 + WAITING_MODULES.index(module) if module in WAITING_MODULES else 1

    return sorted(items, key=rank)  # stable: each module's tests keep their order


def shares_clock(nodeid: str) -> bool:
    name = nodeid.partition("::")[2]
    return _module(nodeid) in SHARED_CLOCK_MODULES or any(name.endswith(op) for op in _clock_operations())


class SharedClockScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist has no type hints
    """pytest-xdist's scope scheduling, with one scope for the clock's tests and one per other test."""

    def _split_scope(self, nodeid: str) -> str:
        return SHARED if shares_clock(nodeid) else nodeid
