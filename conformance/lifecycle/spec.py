"""The token lifecycle (`spec/lifecycle.yaml`) as frozen, typed objects.

This is the data only. Its meaning (what `fits_headroom` or `capture_amount` does) lives once in
`conformance.lifecycle.model`; the reference server writes the same table as code and a test compares them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from conformance.specfile import Location, SpecFile

__all__ = ["Emit", "Forbidden", "Guard", "Invariant", "Lifecycle", "Observation", "State", "Trigger", "build_lifecycle"]


@dataclass(frozen=True)
class State:
    name: str
    description: str
    terminal: bool
    issued_status: str
    reasons: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Guard:
    name: str
    description: str
    requirements: tuple[str, ...]
    # Exactly one of these says how the suite breaks the guard on purpose.
    violated_by_actor: str | None = None
    violated_by_param: tuple[str, str] | None = None  # (parameter, kind of wrong value)
    violated_by_trigger: str | None = None


@dataclass(frozen=True)
class Emit:
    event: str
    to: str
    level: str
    requirement: str | None = None


@dataclass(frozen=True)
class Trigger:
    name: str
    description: str
    actor: str
    sources: tuple[str, ...]  # `from:` — states, or "none" for creation
    target: str  # `to:`
    guards: tuple[str, ...]
    effects: tuple[str, ...]
    emits: tuple[Emit, ...]
    requirements: tuple[str, ...]
    generate: bool
    operation: str | None = None
    reason: str | None = None
    when: str | None = None
    follow: tuple[str, ...] = ()
    response_status: int = 200
    response_error_type: str | None = None
    needs: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Observation:
    name: str
    actor: str
    operation: str
    requirements: tuple[str, ...]


@dataclass(frozen=True)
class Forbidden:
    name: str
    description: str
    trigger: str
    sources: tuple[str, ...] = ()  # `from:` states the trigger may never leave
    violates: str | None = None  # or: the guard the move breaks
    requirements: tuple[str, ...] = ()
    requirements_by_reason: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    def requirements_for(self, reason: str | None) -> tuple[str, ...]:
        """The IDs a refusal of this move proves, given the reason the token was deactivated."""
        if reason is not None and reason in self.requirements_by_reason:
            return (*self.requirements, *self.requirements_by_reason[reason])
        return self.requirements


@dataclass(frozen=True)
class Invariant:
    name: str
    description: str
    requirements: tuple[str, ...]


@dataclass(frozen=True)
class Lifecycle:
    states: Mapping[str, State]
    actors: Mapping[str, str]
    guards: Mapping[str, Guard]
    triggers: Mapping[str, Trigger]
    observations: tuple[Observation, ...]
    forbidden: tuple[Forbidden, ...]
    invariants: tuple[Invariant, ...]

    @property
    def generated_triggers(self) -> tuple[Trigger, ...]:
        return tuple(t for t in self.triggers.values() if t.generate)

    def requirement_ids(self) -> frozenset[str]:
        """Every requirement ID the lifecycle names anywhere."""
        ids: set[str] = set()
        for guard in self.guards.values():
            ids.update(guard.requirements)
        for trigger in self.triggers.values():
            ids.update(trigger.requirements)
            ids.update(e.requirement for e in trigger.emits if e.requirement)
        for observation in self.observations:
            ids.update(observation.requirements)
        for forbidden in self.forbidden:
            ids.update(forbidden.requirements)
            for by_reason in forbidden.requirements_by_reason.values():
                ids.update(by_reason)
        for invariant in self.invariants:
            ids.update(invariant.requirements)
        return frozenset(ids)


def build_lifecycle(
    file: SpecFile, requirement_ids: frozenset[str], operation_ids: frozenset[str]
) -> tuple[Lifecycle, list[tuple[Location, str]]]:
    """Turn a schema-valid lifecycle file into a Lifecycle, with the cross-reference problems."""
    data = file.data
    problems: list[tuple[Location, str]] = []

    def check_ids(ids: list[str], *path: str | int) -> tuple[str, ...]:
        for position, requirement_id in enumerate(ids):
            if requirement_id not in requirement_ids:
                problems.append((file.at(*path, position), f"{requirement_id} is not in spec/requirements.yaml"))
        return tuple(ids)

    def check_operation(operation: str | None, *path: str | int) -> None:
        if operation is not None and operation not in operation_ids:
            problems.append((file.at(*path), f"operation {operation!r} is not an operationId of spec/openapi.yaml"))

    states = {
        name: State(
            name, s["description"], s["terminal"], s["issued_status"], MappingProxyType(dict(s.get("reasons", {})))
        )
        for name, s in data["states"].items()
    }
    for name, state in states.items():
        if state.reasons and name != "deactivated":
            problems.append((file.at("states", name, "reasons"), "only the deactivated state has reasons"))
    reasons = set(states["deactivated"].reasons)

    guards = {}
    for name, g in data["guards"].items():
        by = g["violated_by"]
        guards[name] = Guard(
            name,
            g["description"],
            check_ids(g["requirements"], "guards", name, "requirements"),
            violated_by_actor=by.get("actor"),
            violated_by_param=(by["param"], by["value"]) if "param" in by else None,
            violated_by_trigger=by.get("trigger"),
        )

    triggers: dict[str, Trigger] = {}
    for position, t in enumerate(data["triggers"]):
        here = ("triggers", position)
        if t["name"] in triggers:
            problems.append((file.at(*here, "name"), f"trigger {t['name']!r} is defined twice"))
        for g_position, guard in enumerate(t["guards"]):
            if guard not in guards:
                problems.append(
                    (file.at(*here, "guards", g_position), f"guard {guard!r} is not defined under `guards`")
                )
        if t.get("reason") is not None and t["reason"] not in reasons:
            problems.append((file.at(*here, "reason"), f"{t['reason']!r} is not a reason of the deactivated state"))
        check_operation(t.get("operation"), *here, "operation")
        for e_position, emit in enumerate(t["emits"]):
            if emit.get("requirement") is not None:
                check_ids([emit["requirement"]], *here, "emits", e_position, "requirement")
        response = t.get("response", {})
        triggers[t["name"]] = Trigger(
            name=t["name"],
            description=t["description"],
            actor=t["actor"],
            sources=tuple(t["from"]),
            target=t["to"],
            guards=tuple(t["guards"]),
            effects=tuple(t["effects"]),
            emits=tuple(Emit(e["event"], e["to"], e["level"], e.get("requirement")) for e in t["emits"]),
            requirements=check_ids(t["requirements"], *here, "requirements"),
            generate=t["generate"],
            operation=t.get("operation"),
            reason=t.get("reason"),
            when=t.get("when"),
            follow=tuple(t.get("follow", ())),
            response_status=response.get("status", 200),
            response_error_type=response.get("error_type"),
            needs=frozenset(t.get("needs", ())),
        )
    for position, t in enumerate(data["triggers"]):
        for f_position, name in enumerate(t.get("follow", ())):
            if name not in triggers:
                problems.append((file.at("triggers", position, "follow", f_position), f"no trigger named {name!r}"))
    for name, guard in guards.items():
        if guard.violated_by_trigger is not None and guard.violated_by_trigger not in triggers:
            problems.append(
                (file.at("guards", name, "violated_by", "trigger"), f"no trigger named {guard.violated_by_trigger!r}")
            )

    observations = []
    for position, o in enumerate(data["observations"]):
        check_operation(o["operation"], "observations", position, "operation")
        observations.append(
            Observation(
                o["name"],
                o["actor"],
                o["operation"],
                check_ids(o["requirements"], "observations", position, "requirements"),
            )
        )

    forbidden = []
    for position, f in enumerate(data["forbidden"]):
        here = ("forbidden", position)
        trigger = triggers.get(f["trigger"])
        if trigger is None:
            problems.append((file.at(*here, "trigger"), f"no trigger named {f['trigger']!r}"))
        elif f.get("violates") is not None and f["violates"] not in trigger.guards:
            problems.append(
                (file.at(*here, "violates"), f"trigger {trigger.name!r} has no guard {f['violates']!r} to violate")
            )
        elif trigger is not None:
            for s_position, state in enumerate(f.get("from", ())):
                if state in trigger.sources:
                    problems.append(
                        (
                            file.at(*here, "from", s_position),
                            f"trigger {trigger.name!r} is allowed from {state!r}, so it cannot be forbidden there",
                        )
                    )
        by_reason = {
            reason: check_ids(ids, *here, "requirements_by_reason", reason)
            for reason, ids in f.get("requirements_by_reason", {}).items()
        }
        forbidden.append(
            Forbidden(
                name=f["name"],
                description=f["description"],
                trigger=f["trigger"],
                sources=tuple(f.get("from", ())),
                violates=f.get("violates"),
                requirements=check_ids(f.get("requirements", []), *here, "requirements"),
                requirements_by_reason=MappingProxyType(by_reason),
            )
        )

    invariants = tuple(
        Invariant(i["name"], i["description"], check_ids(i["requirements"], "invariants", position, "requirements"))
        for position, i in enumerate(data["invariants"])
    )
    lifecycle = Lifecycle(
        states=MappingProxyType(states),
        actors=MappingProxyType(dict(data["actors"])),
        guards=MappingProxyType(guards),
        triggers=MappingProxyType(triggers),
        observations=tuple(observations),
        forbidden=tuple(forbidden),
        invariants=invariants,
    )
    return lifecycle, problems
