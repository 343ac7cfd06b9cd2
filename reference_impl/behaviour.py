"""How one server behaves where it may differ: the policy each core module reads, resolved once.

The correct server is `Behaviour()`. A deliberate bug (faults.py) or a legal variant (variants.py)
is a named change to these fields; `resolve` applies the named ones once, when a server is built,
and the result travels in the environment. Core modules read the field of their own seam (the
access rules, the token rules, the payment rules, the events, the transport) and never look at a
fault's or a variant's name. Nothing outside Python code can name either (see embedded.start).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from reference_impl.domain import Reason

__all__ = ["Behaviour", "Change", "check_names", "resolve"]

RevokeDead = Literal["refuse", "rewrite", "unchanged"]
PastExpiry = Literal["refuse", "accept", "accept_usable"]


@dataclass(frozen=True)
class Behaviour:
    # ---- access: who is who, and what an outsider is told
    no_key_account: bool = False  # a request without a key acts as the first account
    refused_key_shown_whole: bool = False
    any_seller_reads_granted: bool = False
    any_seller_can_pay: bool = False
    missing_path_token_status: int = 404  # a token named in the path that the caller may not see
    missing_param_token_status: int = 400  # a token named in a parameter: Stripe's 400 (param set)
    foreign_path_token_status: int = 404  # a token that exists but belongs to someone else
    unknown_seller_status: int = 400  # seller_details naming no known seller (D-27)
    # ---- requests: parameters and idempotency
    unknown_parameters_dropped: bool = False
    currency_case_insensitive: bool = True  # USD is usd, as Stripe accepts it
    legacy_token_param: bool = True  # the top-level shared_payment_granted_token alias (D-01)
    network_id_alias: bool = True  # seller_details[network_id] (D-05)
    recurring_both_accepted: bool = False  # both recurring forms: the nested one wins (D-16)
    idempotent_replays: bool = True
    idempotency_fingerprints_parameters: bool = True
    # ---- tokens: issue, expiry, revocation, the two views
    past_expiry: PastExpiry = "refuse"
    expiry_kept_offset: int | None = 0  # seconds added to the stored expires_at; None: not stored
    default_lifetime: int | None = None  # expires_at given to a token issued without one (D-17)
    expiry_stamp: Literal["expires_at", "noticed"] = "expires_at"
    expiry_reason: Reason = Reason.EXPIRED
    expiry_events: bool = True
    sweeper_expires: bool = True  # False: expiry is applied lazily, on the next read or use (D-30)
    revoke_applies: bool = True
    revoke_dead: RevokeDead = "refuse"
    revoked_status: str = "deactivated"
    helper_revokes_agent_tokens: bool = True  # D-29
    single_use: bool = False  # any successful payment consumes the token (D-10)
    granted_usage_stale: bool = False
    granted_hides_deactivation: bool = False
    granted_max_shows_headroom: bool = False
    granted_view_names_issuer_pm: bool = False
    clock_seconds_divisor: int = 1
    # ---- payments: what a payment is judged against, and what it leaves behind
    cap_per_payment: bool = False
    cap_slack: int = 0  # the judged amount is the real one minus this
    currency_checked: bool = True
    headroom_checked: bool = True
    revoked_still_pays: bool = False
    minimum_charge: bool = False  # amounts below the currency's minimum charge are refused
    clone_keeps_cvc_check: bool = False
    clone_is_original: bool = False
    decline_names_card_number: bool = False
    decline_consumes: bool = False
    cap_reached_consumes: bool = True
    capture_in_second_transaction: bool = False
    used_event_shows_before: bool = False
    refund_restores_headroom: bool = False
    # ---- events and webhooks
    events_livemode: bool = False
    every_endpoint_gets_every_event: bool = False
    granted_used_event: bool = True
    issued_used_event: bool = True
    issued_used_to_seller: bool = False
    issued_used_copies: int = 1
    granted_events_show_issued_view: bool = False
    granted_events_to_every_seller: bool = False
    previous_attributes: bool = False  # events carry data.previous_attributes (D-08)
    signature_over_body_only: bool = False
    endpoint_secret_listed: bool = False
    delivery_copies: int = 1  # each delivery sent this many times (at least once, D-32)
    delivery_order: Literal["event", "reversed"] = "event"
    delivery_delay: float = 0.0  # seconds before the first attempt
    deliveries_in_parallel: bool = False  # one endpoint's deliveries do not wait for each other
    # ---- the transport (app.py and variant_http.py)
    unknown_path_framework_404: bool = False
    malformed_form_crashes: bool = False
    replayed_header: bool = True  # Idempotent-Replayed on a replay (D-22)
    http: frozenset[str] = field(default_factory=frozenset)  # the HTTP variants of variant_http.py


Change = Callable[[Behaviour], Behaviour]


def check_names(names: Iterable[str], known: Iterable[str], what: str) -> frozenset[str]:
    """The names, all of them known; an unknown one is refused with the list of known ones."""
    chosen, allowed = frozenset(names), frozenset(known)
    unknown = sorted(chosen - allowed)
    if unknown:
        raise ValueError(f"unknown {what}(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}")
    return chosen


def resolve(changes: Mapping[str, Change], names: Iterable[str], what: str, base: Behaviour) -> Behaviour:
    """`base` with the named changes applied, in name order; an unknown name is refused."""
    for name in sorted(check_names(names, changes, what)):
        base = changes[name](base)
    return base
