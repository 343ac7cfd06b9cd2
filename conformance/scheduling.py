"""Under `-n`, the tests that share the target's clock run on one worker, one after another.

The clock extension's clock is one per server. A test that moves it (`Clock.advance`,
`pass_beyond`) expires every short-lived token of every test running meanwhile, and a test that
issues a token meant to expire on time (a lead time, not the default month) needs nobody else to
move it: run on two workers at once, such tests fail each other and the lifecycle machine reads
two views that straddle an expiry. So pytest-xdist is given a scheduler that makes all of them
one unit of work, sent to one worker, while every other test is a unit of its own.

A module is listed here when its tests move the clock or issue expiring tokens;
`tests/conformance/test_scheduling.py` finds every suite module that does and checks the list.
"""

from __future__ import annotations

from functools import lru_cache

from xdist.scheduler import LoadScopeScheduling

__all__ = ["SHARED_CLOCK_MODULES", "SharedClockScheduling", "shares_clock"]

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


def shares_clock(nodeid: str) -> bool:
    module, _, name = nodeid.partition("::")
    return module.rsplit("/", 1)[-1] in SHARED_CLOCK_MODULES or any(name.endswith(op) for op in _clock_operations())


class SharedClockScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist has no type hints
    """pytest-xdist's scope scheduling, with one scope for the clock's tests and one per other test."""

    def _split_scope(self, nodeid: str) -> str:
        return SHARED if shares_clock(nodeid) else nodeid
