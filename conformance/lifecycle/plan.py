"""The moves a generated lifecycle test can drive, planned from `spec/lifecycle.yaml` alone.

`plan()` reads the lifecycle and the target's capabilities and lists the moves the suite can
drive: the creating trigger, every generated trigger with an operation, the clock's triggers (by
advancing the target's clock), every `forbidden:` entry (from a state it may never leave, or by
breaking a guard the way the guard's `violated_by` says), and the observations. Nothing is
written per trigger: a move's request follows from its guards (a `fits_headroom` guard means an
amount within the headroom, `currency_matches` the token's currency), its actor, and the
operation it names. `conformance.lifecycle.machine` turns the plan into a state machine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from conformance.lifecycle import model as oracle
from conformance.lifecycle.spec import Forbidden, Lifecycle, Trigger
from conformance.spec import Operation

__all__ = ["DECLINING", "Move", "Plan", "plan"]

DECLINING = "declined_payment_method"  # the capability that gives a token a card that declines


@dataclass(frozen=True)
class Move:
    """One rule of the machine: a trigger attempted, possibly against the lifecycle on purpose."""

    name: str
    trigger: Trigger
    forbidden: Forbidden | None = None
    actor: str = ""  # who sends it
    amount: str = "fitting"  # fitting (within the headroom) | above_headroom
    currency: str = "token"  # token | other_currency
    declining: bool | None = None  # only tokens with (True) or without (False) a declining card
    requirements: tuple[str, ...] = ()  # what the move can prove


@dataclass(frozen=True)
class Plan:
    lifecycle: Lifecycle
    creating: Trigger
    moves: tuple[Move, ...]
    clock_moves: tuple[Trigger, ...]  # clock triggers the suite drives by advancing the clock
    declining: bool  # whether tokens may carry the declining card
    expiring: bool  # whether tokens get short lifetimes that the machine passes

    def requirements(self) -> tuple[str, ...]:
        """Every requirement ID the machine can prove on this target."""
        ids: list[str] = list(self.creating.requirements)
        for move in self.moves:
            ids.extend(move.requirements)
        for trigger in self.clock_moves:
            ids.extend(trigger.requirements)
        for observation in self.lifecycle.observations:
            ids.extend(observation.requirements)
        for invariant in self.lifecycle.invariants:
            ids.extend(invariant.requirements)
        # A guard broken by a trigger the machine drives (not_expired, by the clock) is proved both
        # ways: refused once the trigger happened, accepted before.
        driven = {t.name for t in self.clock_moves}
        for guard in self.lifecycle.guards.values():
            if guard.violated_by_trigger in driven:
                ids.extend(guard.requirements)
        return tuple(dict.fromkeys(ids))

    def event_requirements(self) -> tuple[str, ...]:
        triggers = [self.creating, *(m.trigger for m in self.moves if m.forbidden is None), *self.clock_moves]
        for move in self.moves:
            triggers.extend(self.lifecycle.triggers[f] for f in move.trigger.follow)
        return tuple(dict.fromkeys(e.requirement for t in triggers for e in t.emits if e.requirement))


def _needs(trigger: Trigger, operations: Mapping[str, Operation]) -> set[str]:
    needs = set(trigger.needs)
    operation = operations.get(trigger.operation or "")
    if operation is not None and operation.extension:
        needs.add("clock")
    return needs


def plan(lifecycle: Lifecycle, operations: Mapping[str, Operation], has: Callable[[str], bool]) -> Plan:
    """The moves the suite can drive on a target offering the capabilities `has` says yes to."""
    creating = [t for t in lifecycle.triggers.values() if oracle.NONE in t.sources]
    if len(creating) != 1 or creating[0].operation is None:
        raise oracle.ModelError("spec/lifecycle.yaml needs exactly one creating trigger, with an operation")
    generated = [t for t in lifecycle.generated_triggers if all(has(n) for n in _needs(t, operations))]
    clock_moves = tuple(t for t in generated if t.actor == "clock" and t.operation and t.when)
    driven = [t for t in generated if t.operation and t.actor in ("agent", "seller") and oracle.NONE not in t.sources]
    declining = any(DECLINING in t.needs for t in driven)
    split = {t.operation for t in driven if DECLINING in t.needs}
    reasons = {lifecycle.triggers[f].reason for t in driven for f in t.follow} | {
        t.reason for t in (*driven, *clock_moves)
    }

    def card(trigger: Trigger) -> bool | None:
        return (DECLINING in trigger.needs) if trigger.operation in split else None

    moves: list[Move] = []
    for trigger in driven:
        follows = [r for f in trigger.follow for r in lifecycle.triggers[f].requirements]
        moves.append(
            Move(
                f"fire_{trigger.name}",
                trigger,
                actor=trigger.actor,
                declining=card(trigger),
                requirements=(*trigger.requirements, *follows),
            )
        )
    for forbidden in lifecycle.forbidden:
        trigger = lifecycle.triggers[forbidden.trigger]
        if trigger not in driven:
            continue
        if forbidden.sources:
            ids = [*forbidden.requirements]
            for reason, by_reason in forbidden.requirements_by_reason.items():
                if reason in reasons:
                    ids.extend(by_reason)
            moves.append(
                Move(f"attempt_{forbidden.name}", trigger, forbidden, actor=trigger.actor, requirements=tuple(ids))
            )
            continue
        guard = lifecycle.guards[forbidden.violates or ""]
        if guard.violated_by_actor is not None:
            if guard.violated_by_actor in ("other_seller",) and not has("other_seller"):
                continue
            moves.append(
                Move(
                    f"attempt_{forbidden.name}",
                    trigger,
                    forbidden,
                    actor=guard.violated_by_actor,
                    requirements=forbidden.requirements or guard.requirements,
                )
            )
        elif guard.violated_by_param is not None:
            param, value = guard.violated_by_param
            moves.append(
                Move(
                    f"attempt_{forbidden.name}",
                    trigger,
                    forbidden,
                    actor=trigger.actor,
                    amount=value if param == "amount" else "fitting",
                    currency=value if param == "currency" else "token",
                    requirements=forbidden.requirements or guard.requirements,
                )
            )
        # violated_by a trigger (not_expired by reach_expiry) happens through the clock moves.
    expiring = bool(clock_moves)
    return Plan(lifecycle, creating[0], tuple(moves), clock_moves, declining, expiring)
