"""Judging what a server shows against the model: one step's outcome, and the invariants.

The model (`conformance.lifecycle.model`) says what a token should be; this module compares that belief
with the issued and granted views a server returns. `state_violations` judges a step's own
outcome; `invariant_violations` gives each word of the lifecycle's `invariants:` its meaning once,
in `INVARIANTS`, and checks them all on every read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from conformance.lifecycle.model import TokenModel, word
from conformance.lifecycle.spec import Lifecycle
from conformance.violation import Violation

__all__ = ["INVARIANTS", "Views", "captured_of", "invariant_violations", "state_violations"]


def captured_of(view: Mapping[str, Any]) -> tuple[Any, Any]:
    """(value, currency) of usage_details.amount_captured in a view."""
    usage = view.get("usage_details") if isinstance(view.get("usage_details"), Mapping) else {}
    assert isinstance(usage, Mapping)
    captured = usage.get("amount_captured") if isinstance(usage.get("amount_captured"), Mapping) else {}
    assert isinstance(captured, Mapping)
    return captured.get("value"), captured.get("currency")


def _limits_of(view: Mapping[str, Any]) -> Mapping[str, Any]:
    limits = view.get("usage_limits")
    return limits if isinstance(limits, Mapping) else {}


def _state_of(lifecycle: Lifecycle, view: Mapping[str, Any]) -> str | None:
    """The state an issued view shows, by its status (None when the status is unknown)."""
    status = view.get("status")
    return next((name for name, s in lifecycle.states.items() if s.issued_status == status), None)


def _name(view: Mapping[str, Any]) -> str:
    kind = "issued" if view.get("object") == "shared_payment.issued_token" else "granted"
    return f"the {kind} view of {view.get('id')}"


def state_violations(
    lifecycle: Lifecycle, model: TokenModel, view: Mapping[str, Any], requirements: Mapping[str, str], *, slack: int = 0
) -> list[Violation]:
    """Where one view differs from the model: state, reason, deactivated_at, amount_captured.

    `requirements` maps each part ("state", "captured", "deactivated_at") to the requirement a
    difference breaks; this is how a step's own outcome is judged before the invariants.
    """
    found: list[Violation] = []
    where = _name(view)
    issued = view.get("object") == "shared_payment.issued_token"
    if issued and _state_of(lifecycle, view) != model.state:
        expected = lifecycle.states[model.state].issued_status if model.state in lifecycle.states else model.state
        found.append(
            Violation(
                requirements["state"],
                received=f"{where} has status {view.get('status')!r}",
                expected=f"status {expected!r}" + (f" (deactivated_reason {model.reason})" if model.reason else ""),
                tip="replay the numbered calls below; the status must follow spec/lifecycle.yaml",
            )
        )
    if view.get("deactivated_reason") != model.reason:
        found.append(
            Violation(
                requirements["state"],
                received=f"{where} has deactivated_reason {view.get('deactivated_reason')!r}",
                expected=f"deactivated_reason {model.reason!r}",
                tip="the reason is set by the deactivating move and never changes afterwards",
            )
        )
    at = view.get("deactivated_at")
    if model.deactivated_at is None:
        good = at is None
        wanted = "null"
    else:
        latest = model.deactivated_by if model.deactivated_by is not None else model.deactivated_at
        good = isinstance(at, int) and model.deactivated_at - slack <= at <= latest + slack
        wanted = (
            str(model.deactivated_at)
            if latest == model.deactivated_at
            else f"between {model.deactivated_at} and {latest}"
        )
    if not good and not found:
        found.append(
            Violation(
                requirements["deactivated_at"],
                received=f"{where} has deactivated_at {at!r}",
                expected=f"deactivated_at {wanted}",
                tip="an expiry is dated at usage_limits.expires_at (D-30); other deactivations at the moment they happen",
            )
        )
    value, _currency = captured_of(view)
    if value != model.captured:
        found.append(
            Violation(
                requirements["captured"],
                received=f"{where} has amount_captured {value!r}",
                expected=f"amount_captured {model.captured} (the succeeded payments {list(model.payments)})",
                tip="only a succeeded payment adds to amount_captured, by exactly its amount",
            )
        )
    return found


# ---------------------------------------------------------------------------------- invariants
Views = tuple[Mapping[str, Any], Mapping[str, Any]]  # (issued, granted)
InvariantCheck = Callable[[Lifecycle, TokenModel, Views, Sequence[Views]], list[tuple[str, str, str]]]


def _within_cap(
    lifecycle: Lifecycle, m: TokenModel, views: Views, previous: Sequence[Views]
) -> list[tuple[str, str, str]]:
    out = []
    for view in views:
        value, _ = captured_of(view)
        # Against the cap the token was issued with: a view that misreports max_amount has not
        # overdrawn anything; that is views_agree's finding (or the issue's), not this one.
        cap = m.max_amount
        if not isinstance(value, int) or value > cap:
            out.append(
                (
                    f"{_name(view)}: amount_captured {value!r}, max_amount {cap!r}",
                    "amount_captured ≤ max_amount",
                    "the cap holds whatever the number and order of payments",
                )
            )
    return out


def _matches_payments(
    lifecycle: Lifecycle, m: TokenModel, views: Views, previous: Sequence[Views]
) -> list[tuple[str, str, str]]:
    out = []
    for view in views:
        value, _ = captured_of(view)
        if value != sum(m.payments):
            out.append(
                (
                    f"{_name(view)}: amount_captured {value!r}",
                    f"{sum(m.payments)}, the sum of the succeeded payments {list(m.payments)}",
                    "refused and declined payments capture nothing; each succeeded one adds exactly its amount",
                )
            )
    return out


def _monotonic(
    lifecycle: Lifecycle, m: TokenModel, views: Views, previous: Sequence[Views]
) -> list[tuple[str, str, str]]:
    if not previous:
        return []
    out = []
    for now_view, then_view in zip(views, previous[-1], strict=True):
        now, _ = captured_of(now_view)
        then, _ = captured_of(then_view)
        reset = m.recurring is not None and now == 0
        if isinstance(now, int) and isinstance(then, int) and now < then and not reset:
            out.append(
                (
                    f"{_name(now_view)}: amount_captured went from {then} to {now}",
                    "amount_captured never decreases (a refund does not restore headroom, D-09)",
                    "only the start of a recurring window resets it, to zero",
                )
            )
    return out


def _currency_fixed(
    lifecycle: Lifecycle, m: TokenModel, views: Views, previous: Sequence[Views]
) -> list[tuple[str, str, str]]:
    out = []
    for view in views:
        _, currency = captured_of(view)
        limit = _limits_of(view).get("currency")
        if currency != limit or limit != m.currency:
            out.append(
                (
                    f"{_name(view)}: amount_captured.currency {currency!r}, usage_limits.currency {limit!r}",
                    f"both {m.currency!r}, the currency the token was issued in",
                    "a token has one currency for life",
                )
            )
    return out


def _status_matches(
    lifecycle: Lifecycle, m: TokenModel, views: Views, previous: Sequence[Views]
) -> list[tuple[str, str, str]]:
    out = []
    issued = views[0]
    state = _state_of(lifecycle, issued)
    expected = lifecycle.states[m.state].issued_status if m.state in lifecycle.states else m.state
    if state != m.state:
        out.append(
            (
                f"{_name(issued)}: status {issued.get('status')!r}",
                f"status {expected!r}, a value of the status enum",
                "a revoked, consumed or expired token is `deactivated`, with the why in deactivated_reason (D-03)",
            )
        )
    for view in views:
        reason = view.get("deactivated_reason")
        if (reason is not None) != (m.state == "deactivated"):
            out.append(
                (
                    f"{_name(view)}: deactivated_reason {reason!r} while the token is {m.state}",
                    "deactivated_reason set exactly when the token is deactivated",
                    "a live token has deactivated_reason null",
                )
            )
    return out


def _set_once(
    lifecycle: Lifecycle, m: TokenModel, views: Views, previous: Sequence[Views]
) -> list[tuple[str, str, str]]:
    out = []
    for earlier in previous:
        for now_view, then_view in zip(views, earlier, strict=True):
            for field in ("deactivated_reason", "deactivated_at"):
                then, now = then_view.get(field), now_view.get(field)
                if then is not None and now != then:
                    out.append(
                        (
                            f"{_name(now_view)}: {field} changed from {then!r} to {now!r}",
                            f"{field} {then!r} for good",
                            "the first deactivation stands; later revokes are refused (D-28)",
                        )
                    )
    return out[:1]


def _views_agree(
    lifecycle: Lifecycle, m: TokenModel, views: Views, previous: Sequence[Views]
) -> list[tuple[str, str, str]]:
    issued, granted = views
    out = []
    for field in ("usage_limits", "usage_details", "deactivated_at", "deactivated_reason"):
        if issued.get(field) != granted.get(field):
            out.append(
                (
                    f"granted {field} {granted.get(field)!r}, issued {field} {issued.get(field)!r}",
                    f"the granted view's {field} equal to the issued view's",
                    "both views render one token; they cannot disagree",
                )
            )
    return out


INVARIANTS: Mapping[str, InvariantCheck] = {
    "captured_within_cap": _within_cap,
    "captured_matches_payments": _matches_payments,
    "captured_monotonic": _monotonic,
    "currency_fixed": _currency_fixed,
    "status_matches_state": _status_matches,
    "reason_set_once": _set_once,
    "views_agree": _views_agree,
}


def invariant_violations(
    model: TokenModel,
    issued_view: Mapping[str, Any],
    granted_view: Mapping[str, Any],
    previous_views: Sequence[Views] = (),
    *,
    lifecycle: Lifecycle,
) -> list[Violation]:
    """Every `invariants:` entry of the lifecycle on one reading of both views, in spec order.

    `previous_views` are the earlier readings of the same token, oldest first.
    """
    found: list[Violation] = []
    for invariant in lifecycle.invariants:
        check: InvariantCheck = word(INVARIANTS, "invariant", invariant.name)
        for received, expected, tip in check(lifecycle, model, (issued_view, granted_view), previous_views):
            found.append(
                Violation(
                    invariant.requirements[0],
                    received=f"{received}  [invariant {invariant.name}]",
                    expected=expected,
                    tip=tip,
                )
            )
    return found
