"""Paying with a granted token: PaymentIntents (create, confirm, retrieve) and refunds.

A payment's whole check-and-capture (ownership, state, expiry, currency, headroom, the capture,
the token's deactivation on reaching its cap, the PaymentIntent, the charge, the clone and the
events) happens in the one write transaction the service opened, so concurrent payments on one
token are serialised and the cap cannot be overdrawn (SPT-USE-006). A refusal raises and writes
nothing: no PaymentIntent is created (D-11). A decline is not a refusal: it answers 402 with the
PaymentIntent, left in requires_payment_method, inside the error, and consumes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from reference_impl import cards, events, views
from reference_impl.context import Call, Env, NeedsSettle, Outcome, dumps
from reference_impl.currencies import MINIMUM_CHARGE
from reference_impl.domain import Reason, State, Token, expiry_due
from reference_impl.errors import InvalidRequest, NotFound, not_found
from reference_impl.ids import new_id, new_secret
from reference_impl.machine import Attempt, apply, attempt, step
from reference_impl.objects import Charge, PaymentIntent, PaymentMethod, Refund
from reference_impl.payment_methods import clone_for_seller
from reference_impl.store import Tx
from reference_impl.tokens import token_pm

__all__ = ["confirm_payment_intent", "create_payment_intent", "create_refund", "retrieve_payment_intent"]

_NESTED = "payment_method_data[shared_payment_granted_token]"
_LEGACY = "shared_payment_granted_token"
_DOC = "https://docs.stripe.com/error-codes/card-declined"


def _token_ref(env: Env, params: Mapping[str, Any]) -> tuple[str, str] | None:
    """(token id, the parameter that named it) from the nested form or its legacy alias (D-01)."""
    if _LEGACY in params and not env.behaviour.legacy_token_param:
        raise InvalidRequest(f"Received unknown parameter: {_LEGACY}", param=_LEGACY)
    data = params.get("payment_method_data")
    nested = data.get("shared_payment_granted_token") if data is not None else None
    legacy = params.get(_LEGACY)
    if data is not None and data.get("type", "card") != "card":
        raise InvalidRequest("Only card payment methods can be shared (D-02).", param="payment_method_data[type]")
    if nested and legacy:
        raise InvalidRequest(f"Pass the token in {_NESTED} only; {_LEGACY} is its legacy alias.", param=_LEGACY)
    if data is not None and not nested:
        raise InvalidRequest(f"Missing required param: {_NESTED}.", param=_NESTED)
    if nested:
        return nested, _NESTED
    return (legacy, _LEGACY) if legacy else None


def _granted(env: Env, tx: Tx, call: Call, ref: tuple[str, str]) -> Token:
    token_id, param = ref
    token = tx.token(token_id)
    if token is None or (token.seller_account != call.account.id and not env.behaviour.any_seller_can_pay):
        status = env.behaviour.missing_param_token_status
        raise not_found(f"No such SharedPaymentGrantedToken: '{token_id}'", param, status)
    if expiry_due(token, env.clock.now()):
        raise NeedsSettle(token.id)
    return token


def _render(tx: Tx, pi: PaymentIntent, expand: frozenset[str]) -> dict[str, Any]:
    charge_view = pm_view = None
    if "latest_charge" in expand and pi.latest_charge:
        charge = tx.get(Charge, pi.latest_charge)
        assert charge is not None
        charge_pm = tx.get(PaymentMethod, charge.payment_method)
        assert charge_pm is not None
        charge_view = views.charge(charge, charge_pm)
    if "payment_method" in expand and pi.payment_method:
        pm = tx.get(PaymentMethod, pi.payment_method)
        assert pm is not None
        pm_view = views.payment_method(pm)
    return views.payment_intent(pi, charge_view, pm_view)


def _judged(env: Env, token: Token, amount: int, currency: str) -> tuple[Token, int, str]:
    """What a payment is checked against: the token, the amount and the currency. Only the
    deliberate bugs of faults.py make these differ from the real ones."""
    rules = env.behaviour
    if rules.cap_per_payment:
        token = token.replace(amount_captured=0)
    if rules.revoked_still_pays and token.deactivated_reason is Reason.REVOKED:
        token = token.replace(state=State.ACTIVE, deactivated_reason=None, deactivated_at=None)
    if not rules.currency_checked:
        currency = token.limits.currency
    return token, amount - rules.cap_slack, currency


def _check(env: Env, call: Call, token: Token, amount: int, currency: str, param: str) -> None:
    """The use guards on what the payment is judged against (SPT-USE-*, D-11)."""
    judged, judged_amount, judged_currency = _judged(env, token, amount, currency)
    caller = judged.seller_account if env.behaviour.any_seller_can_pay else call.account.id
    use = Attempt(caller, env.clock.now(), judged_amount, judged_currency, param, env.behaviour.headroom_checked)
    attempt(judged, "use", "seller", use)
    least = MINIMUM_CHARGE.get(currency, 50)
    if env.behaviour.minimum_charge and amount < least:
        raise InvalidRequest(
            f"Amount must be at least {least} in {currency} (the minimum charge amount).",
            code="amount_too_small",
            param="amount",
        )


def _capture_later(env: Env, used: Token) -> None:
    """The `cap_race` fault: the capture in a transaction of its own, after a pause in which
    concurrent payments are judged against the headroom it has not yet taken."""
    time.sleep(0.05)
    with env.store.write() as tx:
        tx.put_token(used)


def _confirm(env: Env, tx: Tx, call: Call, pi: PaymentIntent, token: Token, param: str) -> Outcome:
    now, amount, rules = env.clock.now(), pi.amount, env.behaviour
    _check(env, call, token, amount, pi.currency, param)
    if rules.revoked_still_pays and token.deactivated_reason is Reason.REVOKED:
        token = token.replace(state=State.ACTIVE, deactivated_reason=None, deactivated_at=None)
    original = token_pm(tx, token)
    clone = clone_for_seller(original, call.account.id, token.id, now)
    if rules.clone_keeps_cvc_check:
        clone = clone.replace(cvc_check=original.cvc_check)
    if rules.clone_is_original:
        clone = original
    tx.put(clone)
    charge = Charge(new_id("ch"), call.account.id, now, pi.id, clone.id, amount, pi.currency, "succeeded", token.id)
    decline = cards.BY_KIND[original.card_kind].decline_code
    if decline is not None:
        step(token.state, "decline", "seller")  # allowed, and changes nothing on the token
        message = cards.DECLINE_MESSAGES[decline]
        if rules.decline_names_card_number:
            message += f" (card {'4000' + '0' * 8 + original.last4})"
        if rules.decline_consumes:
            tx.put_token(token.replace(amount_captured=token.amount_captured + amount))
        charge = charge.replace(
            status="failed", failure_code="card_declined", decline_code=decline, failure_message=message
        )
        error = {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": decline,
            "message": message,
            "charge": charge.id,
            "doc_url": _DOC,
            "payment_method": views.payment_method(clone),
        }
        pi = pi.replace(
            status="requires_payment_method", payment_method=None, latest_charge=charge.id, token=None,
            token_param=None, last_payment_error=error,
        )  # fmt: skip
        tx.put(charge)
        tx.put(pi)
        return Outcome(402, dumps({"error": {**error, "payment_intent": _render(tx, pi, frozenset())}}))
    use = step(token.state, "use", "seller")
    used, emits = apply(token, use, now, amount), list(use.emits)
    reached = used.limits.recurring is None and used.amount_captured >= used.limits.max_amount
    if "reach_cap" in use.follow and (reached or rules.single_use) and rules.cap_reached_consumes:
        cap = step(used.state, "reach_cap", "automatic")
        used = apply(used, cap, now)
        emits.extend(cap.emits)
    if rules.capture_in_second_transaction:
        tx.on_commit(lambda: _capture_later(env, used))
    else:
        tx.put_token(used)
    tx.put(charge)
    pi = pi.replace(
        status="succeeded", payment_method=clone.id, latest_charge=charge.id, amount_received=amount,
        token=token.id, token_param=param, last_payment_error=None,
    )  # fmt: skip
    tx.put(pi)
    shown = token if rules.used_event_shows_before else used
    events.emit(env, tx, shown, original, emits, call, now)
    return Outcome.ok(_render(tx, pi, call.expand))


def create_payment_intent(env: Env, tx: Tx, call: Call) -> Outcome:
    params, now = call.params, env.clock.now()
    types = tuple(params.get("payment_method_types") or ("card",))
    if set(types) != {"card"}:
        raise InvalidRequest("The reference server accepts card payments only.", param="payment_method_types")
    pid = new_id("pi")
    pi = PaymentIntent(
        id=pid,
        account=call.account.id,
        created=now,
        amount=params["amount"],
        currency=params["currency"],
        status="requires_payment_method",
        client_secret=f"{pid}_secret_{new_secret('', 24)}",
        capture_method=params.get("capture_method", "automatic"),
        metadata=params.get("metadata", {}),
        description=params.get("description"),
        payment_method_types=types,
    )
    ref = _token_ref(env, params)
    if ref is None:
        if params.get("confirm"):
            raise InvalidRequest(
                f"You cannot confirm this PaymentIntent because it is missing a payment method: pass {_NESTED}.",
                code="payment_intent_unexpected_state",
                param=_NESTED,
            )
        tx.put(pi)
        return Outcome.ok(_render(tx, pi, call.expand))
    token = _granted(env, tx, call, ref)
    if params.get("confirm"):
        return _confirm(env, tx, call, pi, token, ref[1])
    _check(env, call, token, pi.amount, pi.currency, ref[1])
    pi = pi.replace(status="requires_confirmation", token=token.id, token_param=ref[1])
    tx.put(pi)
    return Outcome.ok(_render(tx, pi, call.expand))


def _own_intent(tx: Tx, call: Call) -> PaymentIntent:
    pi = tx.get(PaymentIntent, call.path_id or "", call.account.id)
    if pi is None:
        raise NotFound(f"No such payment_intent: '{call.path_id}'", param="intent", in_path=True)
    return pi


def confirm_payment_intent(env: Env, tx: Tx, call: Call) -> Outcome:
    pi = _own_intent(tx, call)
    if pi.status not in ("requires_payment_method", "requires_confirmation"):
        raise InvalidRequest(
            f"You cannot confirm this PaymentIntent because it has a status of {pi.status}.",
            code="payment_intent_unexpected_state",
        )
    ref = _token_ref(env, call.params) or ((pi.token, pi.token_param or _NESTED) if pi.token else None)
    if ref is None:
        raise InvalidRequest(
            f"You cannot confirm this PaymentIntent because it is missing a payment method: pass {_NESTED}.",
            code="payment_intent_unexpected_state",
            param=_NESTED,
        )
    return _confirm(env, tx, call, pi, _granted(env, tx, call, ref), ref[1])


def retrieve_payment_intent(env: Env, tx: Tx, call: Call) -> Outcome:
    return Outcome.ok(_render(tx, _own_intent(tx, call), call.expand))


def _refundable_charge(tx: Tx, call: Call) -> Charge:
    params, account = call.params, call.account.id
    if "payment_intent" not in params and "charge" not in params:
        raise InvalidRequest("One of charge or payment_intent is required.", param="payment_intent")
    charge = None
    if "payment_intent" in params:
        pi = tx.get(PaymentIntent, params["payment_intent"], account)
        if pi is None:
            raise NotFound(f"No such payment_intent: '{params['payment_intent']}'", param="payment_intent")
        if pi.status != "succeeded" or pi.latest_charge is None:
            raise InvalidRequest(
                "This PaymentIntent does not have a successful charge to refund.",
                code="charge_not_refundable",
                param="payment_intent",
            )
        charge = tx.get(Charge, pi.latest_charge)
    if "charge" in params:
        named = tx.get(Charge, params["charge"], account)
        if named is None:
            raise NotFound(f"No such charge: '{params['charge']}'", param="charge")
        if charge is not None and named.id != charge.id:
            raise InvalidRequest("charge does not belong to payment_intent.", param="charge")
        charge = named
    assert charge is not None
    if charge.status != "succeeded":
        raise InvalidRequest("This charge did not succeed and cannot be refunded.", code="charge_not_refundable")
    return charge


def create_refund(env: Env, tx: Tx, call: Call) -> Outcome:
    """A refund returns money; it does not restore the token's headroom (D-09)."""
    charge = _refundable_charge(tx, call)
    remaining = charge.amount - charge.amount_refunded
    if remaining <= 0:
        raise InvalidRequest(f"Charge {charge.id} has already been refunded.", code="charge_already_refunded")
    amount = call.params.get("amount", remaining)
    if amount > remaining:
        raise InvalidRequest(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining}).",
            code="amount_too_large",
            param="amount",
        )
    refund = Refund(
        id=new_id("re"),
        account=call.account.id,
        created=env.clock.now(),
        charge=charge.id,
        payment_intent=charge.payment_intent,
        amount=amount,
        currency=charge.currency,
        reason=call.params.get("reason"),
        metadata=call.params.get("metadata", {}),
    )
    tx.put(refund)
    tx.put(charge.replace(amount_refunded=charge.amount_refunded + amount))
    if env.behaviour.refund_restores_headroom and charge.shared_payment_granted_token:
        token = tx.token(charge.shared_payment_granted_token)
        if token is not None:
            tx.put_token(token.replace(amount_captured=max(0, token.amount_captured - amount)))
    return Outcome.ok(views.refund(refund))
