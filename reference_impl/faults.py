"""Deliberate bugs the embedded server can be started with, to prove the suite catches them.

Each fault is one change to the server's `Behaviour` (behaviour.py), made once when the server
is built; the core reads the changed policy and never the fault's name. Faults reach the service
only through `reference_impl.embedded.start(faults=…)` or `create_app(faults=…)`: the command
line and the accounts file have no way to name one. The comment of each names the requirements
whose tests must fail against it; tests/mutants/mutants.yaml holds the same catalogue as data,
and tests/mutants/test_kill.py proves each of them is killed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Final

from reference_impl.behaviour import Behaviour, Change, check_names, resolve
from reference_impl.domain import Reason

__all__ = ["FAULTS", "KNOWN_FAULTS", "apply_faults", "check_faults"]

FAULTS: Final[Mapping[str, Change]] = {
    # ---- the cap and the usage
    # a payment over the remaining headroom succeeds (SPT-USE-005/006)
    "ignore_headroom": lambda b: replace(b, headroom_checked=False),
    # each payment is judged against max_amount alone (SPT-USE-006, SPT-USE-017)
    "cap_checked_per_payment": lambda b: replace(b, cap_per_payment=True),
    # a payment of headroom + 1 succeeds (SPT-USE-005)
    "cap_allows_one_over": lambda b: replace(b, cap_slack=1),
    # a payment of exactly the headroom is refused (SPT-USE-009, SPT-USE-006)
    "cap_refuses_exact_fit": lambda b: replace(b, cap_slack=-1),
    # the capture is written in a second transaction: concurrent payments overdraw (SPT-USE-006)
    "cap_race": lambda b: replace(b, capture_in_second_transaction=True),
    # a payment in another currency succeeds (SPT-USE-008)
    "currency_ignored": lambda b: replace(b, currency_checked=False),
    # reaching max_amount leaves the token active (SPT-USE-009, SPT-GRT-008)
    "consumed_never_reached": lambda b: replace(b, cap_reached_consumes=False),
    # a declined payment is counted as captured (SPT-USE-012)
    "declined_payment_consumes_headroom": lambda b: replace(b, decline_consumes=True),
    # a refund gives its amount back to the token (SPT-USE-017)
    "refund_restores_headroom": lambda b: replace(b, refund_restores_headroom=True),
    # ---- expiry
    # expires_at is answered but not kept: the token never expires (SPT-EXP-001/002)
    "expires_at_not_stored": lambda b: replace(b, expiry_kept_offset=None),
    # the token expires an hour after expires_at (SPT-EXP-001/002)
    "expires_at_grace_period": lambda b: replace(b, expiry_kept_offset=3600),
    # a token is issued with an expires_at already passed (SPT-ISS-010)
    "past_expires_at_accepted": lambda b: replace(b, past_expiry="accept"),
    # a past expires_at is accepted and the token born expired can be spent (SPT-ISS-010, SPT-EXP-001)
    "past_expires_at_usable": lambda b: replace(b, past_expiry="accept_usable"),
    # an expired token's deactivated_at is when it was noticed (SPT-EXP-003)
    "expiry_stamped_when_noticed": lambda b: replace(b, expiry_stamp="noticed"),
    # an expired token reads deactivated_reason revoked (SPT-EXP-002, SPT-CLK-003)
    "expiry_reason_revoked": lambda b: replace(b, expiry_reason=Reason.REVOKED),
    # expiry sends no deactivated events (SPT-EVT-003/004)
    "expiry_events_missing": lambda b: replace(b, expiry_events=False),
    # the clock extension reads seconds as milliseconds (SPT-CLK-002)
    "clock_advance_as_milliseconds": lambda b: replace(b, clock_seconds_divisor=1000),
    # ---- revocation
    # revoke answers 200 and changes nothing (SPT-REV-001/002/003/004)
    "revoke_ignored": lambda b: replace(b, revoke_applies=False),
    # a revoked token reads deactivated but a payment succeeds (SPT-REV-003/008)
    "revoked_token_still_pays": lambda b: replace(b, revoked_still_pays=True),
    # a dead token can be revoked again, rewriting it (SPT-REV-005/006)
    "revoke_rewrites_deactivation": lambda b: replace(b, revoke_dead="rewrite"),
    # the revoke answers status "revoked", not deactivated (SPT-REV-002)
    "revoked_status_outside_enum": lambda b: replace(b, revoked_status="revoked"),
    # ---- the two views
    # the granted view's amount_captured is never updated (SPT-GRT-007)
    "granted_usage_stale": lambda b: replace(b, granted_usage_stale=True),
    # the granted view never shows a deactivation (SPT-GRT-008, SPT-REV-004)
    "granted_view_hides_deactivation": lambda b: replace(b, granted_hides_deactivation=True),
    # the granted view carries an extra field naming the agent's PaymentMethod (SPT-SEC-009)
    "granted_view_names_issuer_payment_method": lambda b: replace(b, granted_view_names_issuer_pm=True),
    # the granted max_amount shows what is left, not the cap (SPT-GRT-002)
    "granted_limits_show_headroom": lambda b: replace(b, granted_max_shows_headroom=True),
    # ---- events and webhooks
    # the seller gets no shared_payment.granted_token.used (SPT-EVT-002)
    "skip_granted_used_event": lambda b: replace(b, granted_used_event=False),
    # the agent gets no shared_payment.issued_token.used (SPT-EVT-001)
    "skip_issued_used_event": lambda b: replace(b, issued_used_event=False),
    # the agent gets each used event twice (SPT-EVT-001, SPT-IDM-003)
    "duplicate_used_event": lambda b: replace(b, issued_used_copies=2),
    # the agent's used event goes to the seller (SPT-EVT-001, SPT-SEC-009)
    "used_event_to_seller": lambda b: replace(b, issued_used_to_seller=True),
    # the seller's events carry the issued view (SPT-EVT-006, SPT-SEC-009)
    "granted_event_carries_issued_view": lambda b: replace(b, granted_events_show_issued_view=True),
    # every seller hears of every token (SPT-EVT-007)
    "events_broadcast_to_every_seller": lambda b: replace(b, granted_events_to_every_seller=True),
    # a used event shows the token before the payment (SPT-EVT-008)
    "event_shows_state_before_change": lambda b: replace(b, used_event_shows_before=True),
    # v1 signs the body alone, not "t.body" (SPT-EVT-009)
    "webhook_signature_without_timestamp": lambda b: replace(b, signature_over_body_only=True),
    # listed webhook endpoints show their secret (SPT-EVT-010, SPT-SEC-010)
    "webhook_secret_listed": lambda b: replace(b, endpoint_secret_listed=True),
    # every endpoint gets every event (SPT-EVT-011)
    "enabled_events_ignored": lambda b: replace(b, every_endpoint_gets_every_event=True),
    # ---- authentication, isolation, non-disclosure
    # any seller reads any granted token (SPT-SEC-004)
    "granted_view_readable_by_any_seller": lambda b: replace(b, any_seller_reads_granted=True),
    # any seller pays with any token (SPT-SEC-005)
    "any_seller_can_pay": lambda b: replace(b, any_seller_can_pay=True),
    # a request without a key acts as the first account (SPT-SEC-001)
    "missing_credentials_accepted": lambda b: replace(b, no_key_account=True),
    # the seller pays with the agent's own PaymentMethod (SPT-USE-002, SPT-SEC-009)
    "original_payment_method_shared": lambda b: replace(b, clone_is_original=True),
    # the seller's clone keeps the original's CVC check (SPT-USE-003)
    "cvc_check_copied_to_clone": lambda b: replace(b, clone_keeps_cvc_check=True),
    # a decline message names the full card number (SPT-SEC-008)
    "card_number_in_decline": lambda b: replace(b, decline_names_card_number=True),
    # a refused secret key is echoed whole in the 401 (SPT-SEC-010)
    "refused_key_echoed": lambda b: replace(b, refused_key_shown_whole=True),
    # events report livemode true (SPT-SEC-012)
    "livemode_true_on_events": lambda b: replace(b, events_livemode=True),
    # ---- idempotency
    # a retried key runs again instead of replaying (SPT-IDM-001/003)
    "idempotent_replay_reexecutes": lambda b: replace(b, idempotent_replays=False),
    # a key reused with other parameters replays (SPT-IDM-002)
    "idempotency_ignores_parameters": lambda b: replace(b, idempotency_fingerprints_parameters=False),
    # ---- errors and the wire
    # a body the decoder refuses answers 500 (SPT-ERR-004/005)
    "malformed_form_is_a_server_error": lambda b: replace(b, malformed_form_crashes=True),
    # an unknown path answers {"detail": …} (SPT-ERR-001, SPT-ERR-008)
    "unknown_path_framework_404": lambda b: replace(b, unknown_path_framework_404=True),
    # an unknown top-level parameter is dropped, not refused (SPT-WIRE-004)
    "unknown_parameters_ignored": lambda b: replace(b, unknown_parameters_dropped=True),
    # a token id that does not exist answers 400, not 404 (SPT-ERR-003)
    "missing_token_is_400": lambda b: replace(b, missing_path_token_status=400),
}
KNOWN_FAULTS: Final[frozenset[str]] = frozenset(FAULTS)


def check_faults(faults: Iterable[str]) -> frozenset[str]:
    return check_names(faults, KNOWN_FAULTS, "fault")


def apply_faults(faults: Iterable[str], base: Behaviour) -> Behaviour:
    """`base` with each named fault's change."""
    return resolve(FAULTS, faults, "fault", base)
