"""PaymentMethods: resolving what a request names, cloning for a seller, retrieving.

A test shortcut (`pm_card_visa`, …) names a card, not an object: each use creates a concrete
`pm_` in the account that named it, as Stripe does. A seller's clone, made when a payment uses a
token, is a new `pm_` in the seller's account carrying `shared_payment_granted_token` and no CVC
check result, metadata or customer of the original (SPT-USE-002/003).
"""

from __future__ import annotations

import hashlib

from reference_impl import cards, views
from reference_impl.context import Call, Env, Outcome
from reference_impl.errors import InvalidRequest, NotFound
from reference_impl.ids import new_id
from reference_impl.objects import Account, PaymentMethod
from reference_impl.store import Tx

__all__ = ["clone_for_seller", "resolve", "retrieve_payment_method"]


def _fingerprint(env: Env, kind: str) -> str:
    # Stable per card within one database, different across databases, like Stripe's.
    digest = hashlib.sha256(f"{env.fingerprint_salt}:{kind}".encode()).hexdigest()
    return "".join(c for c in digest if c.isalpha())[:8] + digest[:8]


def _from_card(env: Env, account: Account, card: cards.TestCard, now: int) -> PaymentMethod:
    return PaymentMethod(
        id=new_id("pm"),
        account=account.id,
        created=now,
        card_kind=card.kind,
        brand=card.brand,
        last4=card.last4,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        funding=card.funding,
        country=card.country,
        fingerprint=_fingerprint(env, card.kind),
        cvc_check="pass",
    )


def resolve(env: Env, tx: Tx, account: Account, ref: str, param: str, now: int) -> PaymentMethod:
    """The PaymentMethod `ref` names for `account`: a new one for a test shortcut, or one of the
    account's own. Anything else is 404 resource_missing, worded as for an id that does not
    exist (D-27)."""
    card = cards.SHORTCUTS.get(ref)
    if card is not None:
        pm = _from_card(env, account, card, now)
        tx.put(pm)
        return pm
    found = tx.get(PaymentMethod, ref, account.id)
    if found is None:
        raise NotFound(f"No such PaymentMethod: '{ref}'", param=param)
    if found.shared_payment_granted_token is not None:
        # A clone stands for one payment with a token; sharing or reusing it would escape the
        # token's limits.
        raise InvalidRequest(
            "This PaymentMethod was created from a shared payment token and cannot be shared again.",
            param=param,
        )
    return found


def clone_for_seller(original: PaymentMethod, seller: str, token_id: str, now: int) -> PaymentMethod:
    clone: PaymentMethod = original.replace(
        id=new_id("pm"),
        account=seller,
        created=now,
        cvc_check=None,
        shared_payment_granted_token=token_id,
    )
    return clone


def retrieve_payment_method(env: Env, tx: Tx, call: Call) -> Outcome:
    ref = call.path_id or ""
    pm = (
        resolve(env, tx, call.account, ref, "payment_method", env.clock.now())
        if ref in cards.SHORTCUTS
        else tx.get(PaymentMethod, ref, call.account.id)
    )
    if pm is None:
        raise NotFound(f"No such PaymentMethod: '{ref}'", param="payment_method", in_path=True)
    return Outcome.ok(views.payment_method(pm))
