"""The token state machine: one literal table, (state, trigger) -> transition.

Rules of this file:
- `TABLE` is the whole lifecycle. A move that is not a key of it is illegal, and `step` raises
  one `IllegalTransition` naming the trigger, the actor and the state. No other module compares
  a token's state to decide whether a trigger may happen; they all ask `step`.
- Each transition says who may cause it (`actor`), where it goes, with which deactivation
  reason, which effects it has (by name, the vocabulary of spec/lifecycle.yaml), which guards
  must hold before it (in order), which automatic trigger may follow, and which events go to
  which party.
- The guards (`GUARDS`) and the effects (`EFFECTS`) are defined here, beside the table, as pure
  functions of the token: `attempt` checks a transition's guards, `apply` makes its effects.
  The two party guards (`caller_is_grantee`, `caller_is_issuer`) are held first by the lookups,
  which answer "no such token" to anyone else (D-25) before any trigger is considered; here
  they are checked again, so that no transition can happen for the wrong party.
- tests/reference_impl/test_machine.py checks this table against spec/lifecycle.yaml (states,
  triggers, actors, from/to, reasons, guards, effects, emitted events per party, forbidden
  moves). Change both together: the test fails when either drifts.
- Transitions the reference server never causes (D-12 `resolve`, D-13 `require_action` and
  `complete_action`) stay in the table so the picture is complete; nothing calls them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from reference_impl.domain import Reason, State, Token, current_usage, expiry_due, headroom
from reference_impl.errors import InvalidRequest

__all__ = [
    "EFFECTS",
    "GUARDS",
    "TABLE",
    "Attempt",
    "Emit",
    "IllegalTransition",
    "Transition",
    "apply",
    "attempt",
    "step",
]

AGENT, SELLER, CLOCK, AUTOMATIC, PLATFORM = "agent", "seller", "clock", "automatic", "platform"


@dataclass(frozen=True)
class Emit:
    event: str
    to: str  # the party: "agent" (issued view) or "seller" (granted view)


@dataclass(frozen=True)
class Transition:
    actor: str
    to: State
    reason: Reason | None = None
    guards: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()
    emits: tuple[Emit, ...] = ()
    follow: tuple[str, ...] = ()


class IllegalTransition(Exception):
    def __init__(self, trigger: str, actor: str, state: State) -> None:
        super().__init__(f"trigger {trigger!r} by {actor!r} is not allowed in state {state.value!r}")
        self.trigger, self.actor, self.state = trigger, actor, state


_USED = (
    Emit("shared_payment.issued_token.used", AGENT),
    Emit("shared_payment.granted_token.used", SELLER),
)
_DEACTIVATED = (
    Emit("shared_payment.issued_token.deactivated", AGENT),
    Emit("shared_payment.granted_token.deactivated", SELLER),
)
_USE_GUARDS = ("caller_is_grantee", "not_expired", "currency_matches", "fits_headroom")

_A, _R, _D, _N = State.ACTIVE, State.REQUIRES_ACTION, State.DEACTIVATED, State.NONE

TABLE: Final[Mapping[tuple[State, str], Transition]] = {
    # state, trigger            actor      to  reason / guards / effects / emits
    (_N, "issue"): Transition(AGENT, _A, effects=("start_usage",)),
    (_A, "use"): Transition(
        SELLER, _A, guards=_USE_GUARDS, effects=("capture_amount",), emits=_USED, follow=("reach_cap",)
    ),
    (_A, "decline"): Transition(SELLER, _A, guards=_USE_GUARDS),
    (_A, "reach_cap"): Transition(AUTOMATIC, _D, Reason.CONSUMED, effects=("deactivate_now",), emits=_DEACTIVATED),
    (_A, "revoke"): Transition(AGENT, _D, Reason.REVOKED, ("caller_is_issuer",), ("deactivate_now",), _DEACTIVATED),
    (_R, "revoke"): Transition(AGENT, _D, Reason.REVOKED, ("caller_is_issuer",), ("deactivate_now",), _DEACTIVATED),
    (_A, "test_helper_revoke"): Transition(
        SELLER, _D, Reason.REVOKED, ("caller_is_grantee",), ("deactivate_now",), _DEACTIVATED
    ),
    (_R, "test_helper_revoke"): Transition(
        SELLER, _D, Reason.REVOKED, ("caller_is_grantee",), ("deactivate_now",), _DEACTIVATED
    ),
    (_A, "reach_expiry"): Transition(CLOCK, _D, Reason.EXPIRED, effects=("deactivate_at_expiry",), emits=_DEACTIVATED),
    (_R, "reach_expiry"): Transition(CLOCK, _D, Reason.EXPIRED, effects=("deactivate_at_expiry",), emits=_DEACTIVATED),
    (_A, "window_reset"): Transition(CLOCK, _A, effects=("reset_usage",)),
    (_A, "require_action"): Transition(
        PLATFORM, _R, emits=(Emit("shared_payment.issued_token.requires_action", AGENT),)
    ),
    (_R, "complete_action"): Transition(PLATFORM, _A, emits=(Emit("shared_payment.issued_token.active", AGENT),)),
    (_A, "resolve"): Transition(PLATFORM, _D, Reason.RESOLVED, effects=("deactivate_now",), emits=_DEACTIVATED),
    (_R, "resolve"): Transition(PLATFORM, _D, Reason.RESOLVED, effects=("deactivate_now",), emits=_DEACTIVATED),
}


def step(state: State, trigger: str, actor: str) -> Transition:
    """The transition for `trigger` caused by `actor` in `state`, or IllegalTransition."""
    transition = TABLE.get((state, trigger))
    if transition is None or transition.actor != actor:
        raise IllegalTransition(trigger, actor, state)
    return transition


# ------------------------------------------------------------------ guards
@dataclass(frozen=True)
class Attempt:
    """What a guard judges besides the token: who asks, when, and for a use what and how."""

    caller: str
    now: int
    amount: int = 0
    currency: str = ""
    token_param: str = ""
    check_headroom: bool = True  # False only for a deliberate bug of faults.py


class WrongParty(Exception):
    """A party guard failed: the caller is not the token's grantee or issuer."""


def _caller_is_grantee(token: Token, at: Attempt) -> None:
    if token.seller_account != at.caller:
        raise WrongParty(at.caller)


def _caller_is_issuer(token: Token, at: Attempt) -> None:
    if token.agent_account != at.caller:
        raise WrongParty(at.caller)


def _not_expired(token: Token, at: Attempt) -> None:
    if expiry_due(token, at.now):
        raise expired_error(at.token_param)


def _currency_matches(token: Token, at: Attempt) -> None:
    if at.currency != token.limits.currency:
        raise InvalidRequest(
            f"The currency {at.currency} does not match the shared payment token's currency {token.limits.currency}.",
            code="shared_payment_token_currency_mismatch",
            param="currency",
        )


def _fits_headroom(token: Token, at: Attempt) -> None:
    left = headroom(token, at.now)
    if at.check_headroom and at.amount > left:
        raise InvalidRequest(
            f"The amount {at.amount} exceeds the shared payment token's remaining headroom of {left}.",
            code="amount_too_large",
            param="amount",
        )


GUARDS: Final[Mapping[str, Callable[[Token, Attempt], None]]] = {
    "caller_is_grantee": _caller_is_grantee,
    "caller_is_issuer": _caller_is_issuer,
    "not_expired": _not_expired,
    "currency_matches": _currency_matches,
    "fits_headroom": _fits_headroom,
}


def expired_error(param: str) -> InvalidRequest:
    return InvalidRequest(
        "This shared payment token has expired and cannot be used.", code="shared_payment_token_expired", param=param
    )


def dead_token_error(token: Token, param: str | None) -> InvalidRequest:
    """The refusal of a use or a revoke of a deactivated token (D-11, D-28)."""
    if param is not None and token.deactivated_reason is Reason.EXPIRED:
        return expired_error(param)
    return InvalidRequest(
        f"This shared payment token is already deactivated ({token.deactivated_reason}).",
        code="shared_payment_token_deactivated",
        param=param,
    )


def attempt(token: Token, trigger: str, actor: str, at: Attempt) -> Transition:
    """The transition for `trigger`, once each of its guards held, in the table's order.

    A use of a deactivated token is refused as D-11 says (expired, or deactivated); any other
    illegal move raises IllegalTransition, a failed guard its own refusal."""
    try:
        transition = step(token.state, trigger, actor)
    except IllegalTransition:
        if trigger in ("use", "decline") and token.state is State.DEACTIVATED:
            raise dead_token_error(token, at.token_param) from None
        raise
    for name in transition.guards:
        GUARDS[name](token, at)
    return transition


# ------------------------------------------------------------------ effects
def _start_usage(token: Token, transition: Transition, now: int, amount: int) -> dict[str, Any]:
    return {"amount_captured": 0, "usage_window": 0}


def _capture_amount(token: Token, transition: Transition, now: int, amount: int) -> dict[str, Any]:
    captured, window = current_usage(token, now)  # a new recurring window starts at 0
    return {"amount_captured": captured + amount, "usage_window": window}


def _deactivate_now(token: Token, transition: Transition, now: int, amount: int) -> dict[str, Any]:
    return {"deactivated_at": now, "deactivated_reason": transition.reason}


def _deactivate_at_expiry(token: Token, transition: Transition, now: int, amount: int) -> dict[str, Any]:
    return {"deactivated_at": token.limits.expires_at, "deactivated_reason": transition.reason}


def _reset_usage(token: Token, transition: Transition, now: int, amount: int) -> dict[str, Any]:
    return {"amount_captured": 0}


EFFECTS: Final[Mapping[str, Callable[[Token, Transition, int, int], dict[str, Any]]]] = {
    "start_usage": _start_usage,
    "capture_amount": _capture_amount,
    "deactivate_now": _deactivate_now,
    "deactivate_at_expiry": _deactivate_at_expiry,
    "reset_usage": _reset_usage,
}


def apply(token: Token, transition: Transition, now: int, amount: int = 0) -> Token:
    """The token after `transition`'s effects (the vocabulary of spec/lifecycle.yaml)."""
    changes: dict[str, Any] = {"state": transition.to}
    for effect in transition.effects:
        changes.update(EFFECTS[effect](token, transition, now, amount))
    return token.replace(**changes)
