"""Token use cases: issue, retrieve both views, revoke, the seller's test helpers, expiry and the
clock extension. Each runs inside the caller's one write transaction and asks `machine.step`
whether its trigger is allowed (`attempt` also checks the transition's guards); `apply` makes
the transition's effects, and the events it names are recorded here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from reference_impl import events, views
from reference_impl.context import Call, Env, NeedsSettle, Outcome
from reference_impl.currencies import CURRENCIES
from reference_impl.domain import Reason, Recurring, State, Token, UsageLimits, expiry_due, headroom
from reference_impl.errors import InvalidRequest, NotFound, ValidationError, not_found
from reference_impl.ids import new_id
from reference_impl.machine import Attempt, IllegalTransition, WrongParty, apply, attempt, dead_token_error, step
from reference_impl.objects import PaymentMethod
from reference_impl.payment_methods import resolve
from reference_impl.store import Tx

__all__ = [
    "LAST_UNIX_TIME",
    "advance_clock",
    "expire",
    "get_clock",
    "issue",
    "retrieve_granted",
    "retrieve_issued",
    "revoke_granted",
    "revoke_issued",
    "sweep",
    "test_create_granted",
    "token_pm",
]

LAST_UNIX_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z


def token_pm(tx: Tx, token: Token) -> PaymentMethod:
    pm = tx.get(PaymentMethod, token.payment_method)
    assert pm is not None, f"token {token.id} lost its payment method"
    return pm


def _load(env: Env, tx: Tx, token_id: str, *, owner: str, view: str, param: str) -> Token:
    """The token if the caller may see this view of it (D-25); 404 worded exactly as for an id
    that does not exist otherwise. A token past its expiry is expired first (NeedsSettle)."""
    token = tx.token(token_id)
    visible_to = None if token is None else (token.agent_account if view == "issued" else token.seller_account)
    if token is not None and view == "granted" and env.behaviour.any_seller_reads_granted:
        visible_to = owner if env.accounts.by_id[owner].role == "seller" else visible_to
    if token is None or visible_to != owner:
        label = "SharedPaymentIssuedToken" if view == "issued" else "SharedPaymentGrantedToken"
        status = env.behaviour.missing_path_token_status if token is None else env.behaviour.foreign_path_token_status
        raise not_found(f"No such {label}: '{token_id}'", param, status)
    if expiry_due(token, env.clock.now()):
        raise NeedsSettle(token.id)
    return token


def _limits(env: Env, raw: Mapping[str, Any], now: int, *, past_allowed: bool = False) -> UsageLimits:
    currency = raw["currency"]
    if currency not in CURRENCIES:
        raise InvalidRequest(f"Invalid currency: {currency}.", code="invalid_currency", param="usage_limits[currency]")
    expires_at = raw.get("expires_at")
    if expires_at is None and env.behaviour.default_lifetime is not None:
        expires_at = now + env.behaviour.default_lifetime
    if expires_at is not None and not (0 if past_allowed else now) < expires_at <= LAST_UNIX_TIME:
        raise InvalidRequest(
            f"usage_limits[expires_at] must be a unix time in the future (now is {now}).",
            param="usage_limits[expires_at]",
        )
    recurring = None
    if "recurring" in raw and "recurring_interval" in raw and not env.behaviour.recurring_both_accepted:
        raise InvalidRequest(
            "Pass either usage_limits[recurring] or usage_limits[recurring_interval], not both.",
            param="usage_limits[recurring_interval]",
        )
    if "recurring" in raw:
        recurring = Recurring(raw["recurring"]["interval"], raw["recurring"].get("interval_count", 1))
    elif "recurring_interval" in raw:
        recurring = Recurring(raw["recurring_interval"], 1, legacy=True)
    return UsageLimits(currency, raw["max_amount"], expires_at, recurring)


def _seller_profile(env: Env, details: Mapping[str, Any]) -> tuple[str, str]:
    profile, alias = details.get("network_business_profile"), details.get("network_id")
    if alias is not None and not env.behaviour.network_id_alias:
        raise ValidationError(
            "Received unknown parameter: seller_details[network_id]", param="seller_details[network_id]"
        )
    if profile and alias and profile != alias:
        raise InvalidRequest(
            "seller_details[network_id] is an alias of seller_details[network_business_profile]; "
            "they name different profiles.",
            param="seller_details[network_id]",
        )
    param = "seller_details[network_business_profile]" if profile else "seller_details[network_id]"
    chosen = profile or alias
    if not chosen:
        raise InvalidRequest(
            "seller_details must name the seller in network_business_profile: the token would be granted to no one.",
            param="seller_details[network_business_profile]",
        )
    seller = env.accounts.by_profile.get(chosen)
    if seller is None or seller.role != "seller":
        if env.behaviour.unknown_seller_status == 404:
            raise NotFound(f"No such business profile: '{chosen}'", param=param)
        raise InvalidRequest(f"No seller has the profile '{chosen}'.", param=param)
    return seller.id, chosen


def issue(env: Env, tx: Tx, call: Call) -> Outcome:
    params, now, agent = call.params, env.clock.now(), call.account
    seller, profile = _seller_profile(env, params["seller_details"])
    limits = _limits(env, params["usage_limits"], now, past_allowed=env.behaviour.past_expiry != "refuse")
    if params.get("use_stripe_sdk") is False and not params.get("return_url"):
        raise InvalidRequest("return_url is required when use_stripe_sdk is false.", param="return_url")
    pm = resolve(env, tx, agent, params["payment_method"], "payment_method", now)
    draft = Token(
        id=new_id("spt"),
        created=now,
        seller_account=seller,
        seller_profile=profile,
        payment_method=pm.id,
        limits=limits,
        agent_account=agent.id,
        agent_profile=agent.profile,
        external_id=params["seller_details"].get("external_id"),
        state=State.NONE,
        shared_metadata=params.get("shared_metadata", {}),
        setup_future_usage=params.get("setup_future_usage"),
        return_url=params.get("return_url"),
        use_stripe_sdk=params.get("use_stripe_sdk"),
    )
    token = apply(draft, step(State.NONE, "issue", "agent"), now)
    tx.put_token(_as_stored(env, token))
    return Outcome.ok(views.issued_token(token, pm, now, call.expand))


def _as_stored(env: Env, token: Token) -> Token:
    """The token as it is kept; only the deliberate bugs of faults.py keep another expiry than
    the one the issue answers with."""
    expires_at, offset = token.limits.expires_at, env.behaviour.expiry_kept_offset
    if expires_at is not None and env.behaviour.past_expiry == "accept_usable" and expires_at <= token.created:
        offset = None  # the deliberate bug: a token born expired never expires
    if expires_at is None or offset == 0:
        return token
    kept = None if offset is None else expires_at + offset
    return token.replace(limits=dataclasses.replace(token.limits, expires_at=kept))


def test_create_granted(env: Env, tx: Tx, call: Call) -> Outcome:
    params, now, seller = call.params, env.clock.now(), call.account
    if "customer" in params:
        # The reference server has no Customers, so no customer can be named (E5's `customer`).
        raise NotFound(f"No such customer: '{params['customer']}'", param="customer")
    limits = _limits(env, params["usage_limits"], now)
    pm = resolve(env, tx, seller, params["payment_method"], "payment_method", now)
    draft = Token(
        id=new_id("spt"),
        created=now,
        seller_account=seller.id,
        seller_profile=seller.profile,
        payment_method=pm.id,
        limits=limits,
        state=State.NONE,
        shared_metadata=params.get("shared_metadata", {}),
    )
    token = apply(draft, step(State.NONE, "issue", "agent"), now)
    tx.put_token(token)
    return Outcome.ok(views.granted_token(token, pm, now, call.expand))


def retrieve_issued(env: Env, tx: Tx, call: Call) -> Outcome:
    token = _load(
        env, tx, call.path_id or "", owner=call.account.id, view="issued", param="shared_payment_issued_token"
    )
    return Outcome.ok(views.issued_token(token, token_pm(tx, token), env.clock.now(), call.expand))


def retrieve_granted(env: Env, tx: Tx, call: Call) -> Outcome:
    token = _load(
        env, tx, call.path_id or "", owner=call.account.id, view="granted", param="shared_payment_granted_token"
    )
    now, shown, rules = env.clock.now(), token, env.behaviour
    if rules.granted_usage_stale:
        shown = shown.replace(amount_captured=0)
    if rules.granted_hides_deactivation:
        shown = shown.replace(deactivated_at=None, deactivated_reason=None)
    body = views.granted_token(shown, token_pm(tx, token), now, call.expand)
    if rules.granted_max_shows_headroom:
        body["usage_limits"]["max_amount"] = headroom(token, now)
    if rules.granted_view_names_issuer_pm:
        body["source_payment_method"] = token.payment_method
    return Outcome.ok(body)


def _revoke(env: Env, tx: Tx, call: Call, token: Token, trigger: str, actor: str) -> tuple[Token, PaymentMethod]:
    now, rules = env.clock.now(), env.behaviour
    if not rules.revoke_applies:
        return token, token_pm(tx, token)
    try:
        transition = attempt(token, trigger, actor, Attempt(call.account.id, now))
    except WrongParty:
        raise not_found(f"No such shared payment token: '{token.id}'", None) from None
    except IllegalTransition:
        if rules.revoke_dead == "refuse":
            raise dead_token_error(token, None) from None
        if rules.revoke_dead == "unchanged":
            return token, token_pm(tx, token)
        transition = step(State.ACTIVE, trigger, actor)
    revoked = apply(token, transition, now)
    tx.put_token(revoked)
    pm = token_pm(tx, revoked)
    events.emit(env, tx, revoked, pm, transition.emits, call, now)
    return revoked, pm


def revoke_issued(env: Env, tx: Tx, call: Call) -> Outcome:
    token = _load(
        env, tx, call.path_id or "", owner=call.account.id, view="issued", param="shared_payment_issued_token"
    )
    revoked, pm = _revoke(env, tx, call, token, "revoke", "agent")
    body = views.issued_token(revoked, pm, env.clock.now(), call.expand)
    if revoked.state is State.DEACTIVATED and revoked.deactivated_reason is Reason.REVOKED:
        body["status"] = env.behaviour.revoked_status
    return Outcome.ok(body)


def revoke_granted(env: Env, tx: Tx, call: Call) -> Outcome:
    token = _load(
        env, tx, call.path_id or "", owner=call.account.id, view="granted", param="shared_payment_granted_token"
    )
    if token.agent_account is not None and not env.behaviour.helper_revokes_agent_tokens:
        raise InvalidRequest(
            "The test helper revokes only tokens created with the test helper; this token was issued by an agent.",
            param="shared_payment_granted_token",
        )
    revoked, pm = _revoke(env, tx, call, token, "test_helper_revoke", "seller")
    return Outcome.ok(views.granted_token(revoked, pm, env.clock.now(), call.expand))


def expire(env: Env, tx: Tx, token: Token, now: int, call: Call | None = None) -> None:
    """Deactivate a token whose expires_at is reached; deactivated_at is expires_at (D-30)."""
    transition = step(token.state, "reach_expiry", "clock")
    expired = apply(token, transition, now)
    rules = env.behaviour
    if rules.expiry_stamp == "noticed":
        expired = expired.replace(deactivated_at=now)
    expired = expired.replace(deactivated_reason=rules.expiry_reason)
    tx.put_token(expired)
    if rules.expiry_events:
        events.emit(env, tx, expired, token_pm(tx, expired), transition.emits, call, now)


def settle(env: Env, token_id: str) -> None:
    """Expire one token in its own transaction if it is (still) due."""
    with env.store.write() as tx:
        token, now = tx.token(token_id), env.clock.now()
        if token is not None and expiry_due(token, now):
            expire(env, tx, token, now)


def sweep(env: Env, batch: int = 200) -> int:
    """Expire every due token, `batch` per transaction; the sweeper thread calls this."""
    total = 0
    if not env.behaviour.sweeper_expires:
        return total  # expiry is applied lazily, when the token is next read or used
    while True:
        with env.store.write() as tx:
            now = env.clock.now()
            due = tx.tokens_due(now, batch)
            for token in due:
                expire(env, tx, token, now)
        total += len(due)
        if len(due) < batch:
            return total


def get_clock(env: Env, tx: Tx, call: Call) -> Outcome:
    return Outcome.ok(views.clock(env.clock.now()))


def advance_clock(env: Env, tx: Tx, call: Call) -> Outcome:
    if env.clock.now() + call.params["seconds"] > LAST_UNIX_TIME:
        raise InvalidRequest("The clock cannot be advanced beyond the year 9999.", param="seconds")
    seconds = call.params["seconds"]
    seconds //= env.behaviour.clock_seconds_divisor
    now = env.clock.advance(tx, seconds)
    while due := tx.tokens_due(now, 500):
        for token in due:
            expire(env, tx, token, now, call)
    return Outcome.ok(views.clock(now))
