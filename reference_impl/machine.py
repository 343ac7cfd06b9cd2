"""The token state machine: one literal table, (state, trigger) -> transition.

Rules of this file:
- `TABLE` is the whole lifecycle. A move that is not a key of it is illegal, and `step` raises
  one `IllegalTransition` naming the trigger, the actor and the state. No other module compares
  a token's state to decide whether a trigger may happen; they all ask `step`.
- Each transition says who may cause it (`actor`), where it goes, with which deactivation
  reason, which effects the service must apply (by name, the vocabulary of
  spec/lifecycle.yaml), which guards the service checks before it (in order), which automatic
  trigger may follow, and which events go to which party.
- tests/reference_impl/test_machine.py checks this table against spec/lifecycle.yaml (states,
  triggers, actors, from/to, reasons, guards, effects, emitted events per party, forbidden
  moves). Change both together: the test fails when either drifts.
- Transitions the reference server never causes (D-12 `resolve`, D-13 `require_action` and
  `complete_action`) stay in the table so the picture is complete; nothing calls them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from reference_impl.domain import Reason, State

__all__ = ["TABLE", "Emit", "IllegalTransition", "Transition", "step"]

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
