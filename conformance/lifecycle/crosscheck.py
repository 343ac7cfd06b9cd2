"""The lifecycle machine's events: what the model says each token emitted, against what each party got.

After the machine has run, every event the model says was emitted is waited for (each wait
returns the moment it is there), and "exactly these, no more" becomes one expectation per
requirement, judged after the run's final quiet period, when a late duplicate has had its chance
to show.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from conformance.lifecycle.plan import Plan
from conformance.lifecycle.world import Tracked
from conformance.violation import Violation

__all__ = ["EventSource", "expect_events", "judge_events"]


class EventSource(Protocol):
    """What the cross-check needs of `conformance.events.EventLog`."""

    @property
    def available(self) -> bool: ...

    def wait_for(self, role: str, event_type: str, object_id: str, *, count: int = 1) -> Sequence[Any]: ...

    def expect(self, requirement: str, judge: Callable[[], Violation | None], *, about: str = "") -> None: ...

    def about(self, role: str, object_id: str) -> Sequence[Any]: ...


def _requirements(plan: Plan) -> dict[str, str]:
    """The requirement each event type is judged by."""
    by_type: dict[str, str] = {}
    for trigger in plan.lifecycle.triggers.values():
        for emit in trigger.emits:
            if emit.requirement:
                by_type.setdefault(emit.event, emit.requirement)
    return by_type


def expect_events(plan: Plan, tokens: Sequence[Tracked], events: EventSource) -> None:
    """Wait for each token's expected events, then expect exactly those (judged at the end)."""
    if not tokens:
        return
    for token in tokens:
        for (role, event_type), count in Counter((e.to, e.event) for e in token.expected).items():
            events.wait_for(role, event_type, token.id, count=count)
    for requirement in sorted(set(_requirements(plan).values())):
        judge = functools.partial(judge_events, plan, tuple(tokens), events, requirement)
        events.expect(requirement, judge, about=f"the lifecycle machine's {len(tokens)} tokens")


def judge_events(plan: Plan, tokens: Sequence[Tracked], events: EventSource, requirement: str) -> Violation | None:
    """The first token whose events of `requirement`'s types are not what the model says."""
    by_type = _requirements(plan)
    roles = sorted({e.to for t in plan.lifecycle.triggers.values() for e in t.emits})
    for role in roles:
        for token in tokens:
            observed: Mapping[str, int] = Counter(e.type for e in events.about(role, token.id))
            wanted = Counter(e.event for e in token.expected if e.to == role)
            # A live token that may expire while the suite waits may add its deactivation.
            open_ended = token.model.state != "deactivated" and token.model.expires_at is not None
            for event_type in sorted(set(wanted) | set(observed)):
                if by_type.get(event_type) != requirement:
                    continue
                got, want = observed.get(event_type, 0), wanted[event_type]
                if got == want or (open_ended and event_type.endswith(".deactivated") and got == 1 and want == 0):
                    continue
                moves = " → ".join(dict.fromkeys(e.trigger for e in token.expected)) or "none"
                return Violation(
                    requirement,
                    received=f"{got} {event_type} event(s) about {token.id} for the {role}",
                    expected=f"exactly {want}, from what happened to it: {moves}",
                    tip="each succeeded payment sends one used event to each party, each deactivation one "
                    "deactivated event; events are matched by data.object.id",
                )
    return None
