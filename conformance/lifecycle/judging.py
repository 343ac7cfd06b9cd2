"""Judging one move of the lifecycle machine: its response, the parts of the state it decides, the calls made."""

from __future__ import annotations

from collections.abc import Iterable

from conformance.client import Exchange
from conformance.clock import CLOCK
from conformance.lifecycle import model as oracle
from conformance.lifecycle.model import Step
from conformance.lifecycle.plan import Plan
from conformance.violation import STRIPE_ERROR_TYPES, Violation

__all__ = ["call_list", "parts", "response_violation"]


def response_violation(step: Step, exchange: Exchange) -> Violation | None:
    error = exchange.error
    if step.accepted and step.status is not None and step.status < 300:
        good = 200 <= exchange.status < 300 and isinstance(exchange.body, dict)
        expected = f"{step.status}: the model accepts {step.trigger} here"
    elif step.accepted:
        good = exchange.status == step.status and error is not None and error.get("type") == step.error_type
        expected = f"{step.status} {step.error_type}: the model says the {step.trigger} is answered that way"
    else:
        good = 400 <= exchange.status < 500 and error is not None and error.get("type") in STRIPE_ERROR_TYPES
        expected = f"a refusal (4xx with a Stripe error body): {step.trigger} is refused by {step.refused_by}"
    if good:
        return None
    return Violation(
        step.requirement,
        received=f"{exchange.status} {exchange.response_text[:200]}",
        expected=expected,
        tip="the token was in state "
        + step.before.state
        + (f" ({step.before.reason})" if step.before.reason else "")
        + f" with {step.before.captured} of {step.before.max_amount} {step.before.currency} captured",
        exchanges=[exchange],
    )


def parts(plan: Plan, step: Step) -> dict[str, str]:
    """The requirement each part of the token's state after `step` is judged by."""
    if not step.accepted:
        return dict.fromkeys(("state", "captured", "deactivated_at"), step.requirement)
    triggers = plan.lifecycle.triggers
    first, last = triggers[step.applied[0]], triggers[step.applied[-1]]
    return {
        "state": oracle.aspect(last, "state"),
        "deactivated_at": oracle.aspect(last, "deactivated_at"),
        "captured": oracle.aspect(first, "captured"),
    }


def _form(exchange: Exchange) -> str:
    return exchange.request_body or (exchange.url.split("?", 1)[1] if "?" in exchange.url else "")


def call_list(exchanges: Iterable[Exchange]) -> str:
    """The HTTP calls of one example, numbered, without the clock readings between them."""
    lines = []
    shown = [e for e in exchanges if not (e.method == "GET" and e.path.split("?")[0] == CLOCK)]
    for number, exchange in enumerate(shown, 1):
        body = _form(exchange)
        lines.append(
            f"  {number:>2}. {exchange.actor:<12} {exchange.method} {exchange.path.split('?')[0]}"
            f"{'  ' + body if body else ''}  -> {exchange.describe().rsplit('-> ', 1)[1]}"
        )
    return "\n".join(lines)
