"""Running the generated lifecycle machine: its settings, seed and budget, and the summary of a run.

`run_lifecycle()` builds the machine for the target's plan (`conformance.lifecycle.machine`),
runs it with the run's seed, raises the first Violation found (shrunk), and hands the tokens it
made to the event cross-check (`conformance.lifecycle.crosscheck`).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import hypothesis
import hypothesis.errors
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import get_state_machine_test

from conformance.client import Exchange
from conformance.lifecycle.crosscheck import EventSource, expect_events
from conformance.lifecycle.machine import build_machine
from conformance.lifecycle.plan import plan
from conformance.lifecycle.spec import Lifecycle
from conformance.lifecycle.world import World
from conformance.scenario import Scenario
from conformance.spec import Operation
from conformance.violation import Violation, find_exception

__all__ = ["FULL", "QUICK", "RunSummary", "run_lifecycle"]

FULL, QUICK = (20, 12), (3, 6)  # (examples, steps per example)


@dataclass(frozen=True)
class RunSummary:
    seed: int
    examples: int
    steps: int
    tokens: int
    exchanges: int
    tally: Mapping[str, int]

    def describe(self) -> str:
        moves = ", ".join(f"{name} ×{count}" for name, count in sorted(self.tally.items()))
        return (
            f"lifecycle machine: {self.examples} examples × {self.steps} steps, {self.tokens} tokens, "
            f"{self.exchanges} exchanges (seed {self.seed}); moves: {moves or 'none'}"
        )


@contextlib.contextmanager
def _shrink_budget(seconds: int) -> Iterator[None]:
    """Bound Hypothesis's shrinking (five minutes by default): each replay here is HTTP traffic."""
    from hypothesis.internal.conjecture import engine

    old = getattr(engine, "MAX_SHRINKING_SECONDS", None)
    if not isinstance(old, int):
        yield
        return
    engine.MAX_SHRINKING_SECONDS = seconds
    try:
        yield
    finally:
        engine.MAX_SHRINKING_SECONDS = old


def run_lifecycle(
    scenario: Scenario,
    exchanges: Callable[[], Sequence[Exchange]],
    *,
    lifecycle: Lifecycle,
    operations: Mapping[str, Operation],
    seed: int | None = None,
    max_examples: int | None = None,
    quick: bool = False,
    events: EventSource | None = None,
    report: Callable[[str], None] = print,
) -> RunSummary:
    """Run the generated machine; raise the first Violation found (shrunk), else summarise."""
    target = scenario.target
    the_plan = plan(lifecycle, operations, target.has)
    clients = {"agent": scenario.agent, "seller": scenario.seller}
    if scenario.other_seller is not None:
        clients["other_seller"] = scenario.other_seller
    seed = random.randrange(2**32) if seed is None else seed
    report(f"lifecycle machine: seed {seed} (rerun with --spt-seed {seed})")
    extension = target.has("clock")
    world = World(the_plan, scenario, clients, exchanges, extension, min(scenario.clock.lead_time(), 120), seed)
    examples, steps = QUICK if quick else FULL
    examples = max_examples or examples
    machine = build_machine(world)
    before = len(exchanges())
    test = get_state_machine_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            database=None,
            deadline=None,
            derandomize=False,
            print_blob=False,
            report_multiple_bugs=False,
            suppress_health_check=list(HealthCheck),
            # The explain phase replays the failure many more times to say which lines ran.
            phases=[p for p in Phase if p is not Phase.explain],
        ),
    )
    with _shrink_budget(15 if quick else 60):
        try:
            hypothesis.seed(seed)(test)()
        except hypothesis.errors.Flaky as flaky:
            # Shrinking replays the failing sequence, and the server's shared state (its clock,
            # moved by other tests or workers meanwhile) can make a replay go differently: report
            # what the sequence found, unshrunk, rather than Hypothesis's complaint.
            found = find_exception(flaky, Violation)
            if found is None:
                raise
            raise found from None
    if events is not None and events.available and the_plan.event_requirements():
        expect_events(the_plan, world.made, events)
    return RunSummary(seed, examples, steps, len(world.made), len(exchanges()) - before, dict(world.tally))
