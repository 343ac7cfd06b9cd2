"""The pure oracle of `spec/lifecycle.yaml`: what a token becomes, and what each outcome proves.

Theory of operation. A `TokenModel` is the suite's belief about one token. `step()` applies one
trigger of the lifecycle to it on behalf of a `Request` and answers a `Step`: accepted or
refused, by which guard or forbidden rule, the requirement IDs that outcome proves, the new
model, and the events each party must receive. `follow:` triggers (reach_cap) are applied by
`step()` when their `when:` holds; `elapse()` applies the clock's `when:` triggers (expiry, a
recurring window's end) as time passes.

Rules of this file:
- Each word of the lifecycle vocabulary (spec/schemas/lifecycle.schema.json: guards, effects,
  conditions, invariants) gets its meaning exactly once, in the tables `GUARDS`, `EFFECTS` and
  `CONDITIONS` here and `INVARIANTS` in `conformance.lifecycle.invariants`. A word the tables do not know is a `ModelError`, so a new word
  in the spec cannot be silently ignored. Which trigger uses which word is the spec's business:
  nothing here is written per trigger except `ASPECTS` (which of a trigger's requirements judges
  which part of its outcome, checked against the spec by tests/conformance/test_model.py).
- No I/O: time comes in with the request, views come in as mappings.
"""

from __future__ import annotations

import calendar
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conformance.lifecycle.spec import Lifecycle, Trigger

__all__ = [
    "ASPECTS",
    "CONDITIONS",
    "EFFECTS",
    "GUARDS",
    "NONE",
    "Emitted",
    "Limits",
    "ModelError",
    "Recurring",
    "Request",
    "Step",
    "TokenModel",
    "aspect",
    "elapse",
    "issue",
    "step",
    "word",
]

NONE = "none"  # the lifecycle's `from: [none]`: before the token exists


class ModelError(Exception):
    """The lifecycle asks for something the model cannot do: an unknown word, an unspecified move."""


@dataclass(frozen=True)
class Recurring:
    interval: str  # hour, day, week, month or year
    interval_count: int = 1


@dataclass(frozen=True)
class Limits:
    """The usage limits a token is issued with."""

    currency: str
    max_amount: int
    expires_at: int | None = None
    recurring: Recurring | None = None


@dataclass(frozen=True)
class TokenModel:
    state: str = NONE
    reason: str | None = None
    captured: int = 0
    max_amount: int = 0
    currency: str = ""
    expires_at: int | None = None
    # The deactivation happened at some moment in [deactivated_at, deactivated_by]: the suite
    # knows the server's time only between two readings.
    deactivated_at: int | None = None
    deactivated_by: int | None = None
    recurring: Recurring | None = None
    window_start: int | None = None  # when the current recurring window began
    payments: tuple[int, ...] = ()  # succeeded payments since the current window began
    issuer: str = "agent"
    grantee: str = "seller"

    @property
    def headroom(self) -> int:
        return self.max_amount - self.captured


@dataclass(frozen=True)
class Request:
    """One attempt at a trigger: who asks, when, and with what."""

    actor: str
    now: int
    until: int | None = None  # the server handled it at some moment in [now, until]
    amount: int | None = None
    currency: str | None = None
    limits: Limits | None = None  # for the creating trigger

    @property
    def latest(self) -> int:
        return self.now if self.until is None else self.until


@dataclass(frozen=True)
class Emitted:
    event: str
    to: str
    level: str
    requirement: str | None
    trigger: str


@dataclass(frozen=True)
class Step:
    trigger: str
    accepted: bool
    before: TokenModel
    model: TokenModel
    applied: tuple[str, ...] = ()  # the triggers applied, in order (the trigger, then its follows)
    refused_by: str | None = None  # the guard or forbidden rule that refused it
    requirements: tuple[str, ...] = ()  # what the outcome proves; the first is what a wrong answer breaks
    emitted: tuple[Emitted, ...] = ()
    status: int | None = None  # the expected status; None: any 4xx with a Stripe error
    error_type: str | None = None

    @property
    def requirement(self) -> str:
        return self.requirements[0]


# ---------------------------------------------------------------------------------- vocabulary
# Guards: (model, request) -> holds?
Guard = Callable[[TokenModel, Request], bool]
GUARDS: Mapping[str, Guard] = {
    "caller_is_issuer": lambda m, r: r.actor == m.issuer,
    "caller_is_grantee": lambda m, r: r.actor == m.grantee,
    "currency_matches": lambda m, r: r.currency == m.currency,
    "fits_headroom": lambda m, r: r.amount is not None and 0 < r.amount <= m.headroom,
    "not_expired": lambda m, r: m.expires_at is None or r.now < m.expires_at,
}


def _start_usage(m: TokenModel, r: Request, reason: str | None) -> TokenModel:
    if r.limits is None:
        raise ModelError("start_usage needs the request's usage limits")
    limits = r.limits
    return dataclasses.replace(
        m,
        captured=0,
        payments=(),
        currency=limits.currency,
        max_amount=limits.max_amount,
        expires_at=limits.expires_at,
        recurring=limits.recurring,
        window_start=r.now if limits.recurring is not None else None,
    )


def _capture_amount(m: TokenModel, r: Request, reason: str | None) -> TokenModel:
    amount = r.amount or 0
    return dataclasses.replace(m, captured=m.captured + amount, payments=(*m.payments, amount))


def _reset_usage(m: TokenModel, r: Request, reason: str | None) -> TokenModel:
    start = m.window_start
    if m.recurring is not None and start is not None:
        while (end := _window_end(start, m.recurring)) <= r.now:
            start = end
    return dataclasses.replace(m, captured=0, payments=(), window_start=start)


def _deactivate_now(m: TokenModel, r: Request, reason: str | None) -> TokenModel:
    return dataclasses.replace(m, reason=reason, deactivated_at=r.now, deactivated_by=r.latest)


def _deactivate_at_expiry(m: TokenModel, r: Request, reason: str | None) -> TokenModel:
    if m.expires_at is None:
        raise ModelError("deactivate_at_expiry on a token without expires_at")
    return dataclasses.replace(m, reason=reason, deactivated_at=m.expires_at, deactivated_by=m.expires_at)


# Effects: (model, request, the trigger's reason) -> model. The state change itself is the
# trigger's `to:`, applied by step().
Effect = Callable[[TokenModel, Request, str | None], TokenModel]
EFFECTS: Mapping[str, Effect] = {
    "start_usage": _start_usage,
    "capture_amount": _capture_amount,
    "reset_usage": _reset_usage,
    "deactivate_now": _deactivate_now,
    "deactivate_at_expiry": _deactivate_at_expiry,
}


def _window_end(start: int, recurring: Recurring) -> int:
    """When the recurring window beginning at `start` ends (D-16: calendar months in UTC)."""
    fixed = {"hour": 3_600, "day": 86_400, "week": 7 * 86_400}
    if recurring.interval in fixed:
        return start + fixed[recurring.interval] * recurring.interval_count
    months = recurring.interval_count * (12 if recurring.interval == "year" else 1)
    moment = datetime.fromtimestamp(start, UTC)
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


# Conditions: (model, now) -> holds?
Condition = Callable[[TokenModel, int], bool]
CONDITIONS: Mapping[str, Condition] = {
    "cap_reached": lambda m, now: m.recurring is None and m.captured >= m.max_amount,
    "expiry_reached": lambda m, now: m.expires_at is not None and now >= m.expires_at,
    "window_elapsed": lambda m, now: (
        m.recurring is not None and m.window_start is not None and now >= _window_end(m.window_start, m.recurring)
    ),
}

# Which of a trigger's requirements judges which part of its outcome, where it is not the first
# one. "response": the answer to the request; "state": status and reason afterwards; "captured":
# amount_captured afterwards; "deactivated_at": the deactivation time.
ASPECTS: Mapping[str, Mapping[str, str]] = {
    "issue": {"state": "SPT-ISS-002", "captured": "SPT-ISS-003"},
    # D-10: a token that keeps headroom stays active; Stripe documents no single-use rule, so a
    # server that disagrees breaks the decision, not SPT-USE-001.
    "use": {"state": "SPT-USE-007", "captured": "SPT-USE-004"},
    "decline": {"state": "SPT-USE-012", "captured": "SPT-USE-012"},
    "reach_expiry": {"response": "SPT-CLK-003", "deactivated_at": "SPT-EXP-003"},
}


def aspect(trigger: Trigger, part: str) -> str:
    """The requirement that judges `part` of `trigger`'s outcome."""
    return ASPECTS.get(trigger.name, {}).get(part, trigger.requirements[0] if trigger.requirements else "")


# ---------------------------------------------------------------------------------- stepping
def word(table: Mapping[str, Any], kind: str, name: str) -> Any:
    try:
        return table[name]
    except KeyError:
        raise ModelError(
            f"the model gives no meaning to the {kind} {name!r}; add it to conformance/lifecycle/model.py"
        ) from None


def _emits(trigger: Trigger) -> tuple[Emitted, ...]:
    return tuple(Emitted(e.event, e.to, e.level, e.requirement, trigger.name) for e in trigger.emits)


def _apply(trigger: Trigger, model: TokenModel, request: Request) -> TokenModel:
    for effect in trigger.effects:
        model = word(EFFECTS, "effect", effect)(model, request, trigger.reason)
    return dataclasses.replace(model, state=trigger.target)


def _follow(
    lifecycle: Lifecycle, trigger: Trigger, model: TokenModel, request: Request
) -> tuple[TokenModel, list[str], list[Emitted]]:
    applied: list[str] = []
    emitted: list[Emitted] = []
    for name in trigger.follow:
        follower = lifecycle.triggers[name]
        holds = follower.when is None or word(CONDITIONS, "condition", follower.when)(model, request.now)
        if holds and model.state in follower.sources:
            model = _apply(follower, model, request)
            applied.append(name)
            emitted.extend(_emits(follower))
    return model, applied, emitted


def step(lifecycle: Lifecycle, model: TokenModel, trigger_name: str, request: Request) -> Step:
    """Apply one trigger, or say why it is refused; never raises for a refusal."""
    trigger = lifecycle.triggers.get(trigger_name)
    if trigger is None:
        raise ModelError(f"spec/lifecycle.yaml has no trigger {trigger_name!r}")
    if model.state not in trigger.sources:
        for forbidden in lifecycle.forbidden:
            if forbidden.trigger == trigger.name and model.state in forbidden.sources:
                return Step(
                    trigger.name,
                    accepted=False,
                    before=model,
                    model=model,
                    refused_by=forbidden.name,
                    requirements=forbidden.requirements_for(model.reason),
                )
        raise ModelError(
            f"trigger {trigger.name!r} from state {model.state!r} is neither allowed nor forbidden by spec/lifecycle.yaml"
        )
    for name in trigger.guards:
        if not word(GUARDS, "guard", name)(model, request):
            violated = [f for f in lifecycle.forbidden if f.trigger == trigger.name and f.violates == name]
            requirements = (
                violated[0].requirements
                if violated and violated[0].requirements
                else lifecycle.guards[name].requirements
            )
            return Step(
                trigger.name, accepted=False, before=model, model=model, refused_by=name, requirements=requirements
            )
    after = _apply(trigger, model, request)
    after, followed, follow_events = _follow(lifecycle, trigger, after, request)
    proved = [aspect(trigger, "response"), *trigger.requirements]
    for name in followed:
        proved.extend(lifecycle.triggers[name].requirements)
    return Step(
        trigger.name,
        accepted=True,
        before=model,
        model=after,
        applied=(trigger.name, *followed),
        requirements=tuple(dict.fromkeys(r for r in proved if r)),
        emitted=(*_emits(trigger), *follow_events),
        status=trigger.response_status,
        error_type=trigger.response_error_type,
    )


def issue(lifecycle: Lifecycle, limits: Limits, now: int, *, issuer: str = "agent", grantee: str = "seller") -> Step:
    """The creating trigger (the one `from: [none]`) on a fresh model."""
    creating = [t for t in lifecycle.triggers.values() if NONE in t.sources]
    if len(creating) != 1:
        raise ModelError(f"spec/lifecycle.yaml needs exactly one trigger from `none`, found {len(creating)}")
    fresh = TokenModel(issuer=issuer, grantee=grantee)
    return step(lifecycle, fresh, creating[0].name, Request(issuer, now, limits=limits))


def elapse(lifecycle: Lifecycle, model: TokenModel, now: int) -> Step:
    """Let time reach `now`: apply every clock trigger whose `when:` holds, until none does."""
    applied: list[str] = []
    emitted: list[Emitted] = []
    current = model
    for _ in range(len(lifecycle.triggers) + 1):
        due = [
            t
            for t in lifecycle.triggers.values()
            if t.actor == "clock"
            and t.when is not None
            and current.state in t.sources
            and word(CONDITIONS, "condition", t.when)(current, now)
        ]
        if not due:
            break
        trigger = due[0]
        current = _apply(trigger, current, Request("clock", now))
        applied.append(trigger.name)
        emitted.extend(_emits(trigger))
    requirements: list[str] = []
    for name in applied:
        requirements.extend(lifecycle.triggers[name].requirements)
    return Step(
        "elapse",
        accepted=True,
        before=model,
        model=current,
        applied=tuple(applied),
        requirements=tuple(dict.fromkeys(requirements)),
        emitted=tuple(emitted),
    )
