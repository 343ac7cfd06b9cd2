"""Deliberate bugs the embedded server can be started with, to prove the suite catches them.

Each name switches on one bug at one site (`if "name" in faults:`). Faults reach the service only
through `reference_impl.embedded.start(faults=…)` or `create_app(faults=…)`: the command line and
the accounts file have no way to name one. The comment of each names the requirements whose
tests must fail against it; tests/mutants/mutants.yaml holds the same catalogue as data, and
tests/mutants/test_kill.py proves each of them is killed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

__all__ = ["KNOWN_FAULTS", "check_faults"]

KNOWN_FAULTS: Final[frozenset[str]] = frozenset(
    {
        # ---- the cap and the usage
        "ignore_headroom",  # a payment over the remaining headroom succeeds (SPT-USE-005/006)
        "cap_checked_per_payment",  # each payment is judged against max_amount alone (SPT-USE-006, SPT-USE-017)
        "cap_allows_one_over",  # a payment of headroom + 1 succeeds (SPT-USE-005)
        "cap_refuses_exact_fit",  # a payment of exactly the headroom is refused (SPT-USE-009, SPT-USE-006)
        "cap_race",  # the capture is written in a second transaction: concurrent payments overdraw (SPT-USE-006)
        "currency_ignored",  # a payment in another currency succeeds (SPT-USE-008)
        "consumed_never_reached",  # reaching max_amount leaves the token active (SPT-USE-009, SPT-GRT-008)
        "declined_payment_consumes_headroom",  # a declined payment is counted as captured (SPT-USE-012)
        "refund_restores_headroom",  # a refund gives its amount back to the token (SPT-USE-017)
        # ---- expiry
        "expires_at_not_stored",  # expires_at is answered but not kept: the token never expires (SPT-EXP-001/002)
        "expires_at_grace_period",  # the token expires an hour after expires_at (SPT-EXP-001/002)
        "past_expires_at_accepted",  # a token is issued with an expires_at already passed (SPT-ISS-010)
        "expiry_stamped_when_noticed",  # an expired token's deactivated_at is when it was noticed (SPT-EXP-003)
        "expiry_reason_revoked",  # an expired token reads deactivated_reason revoked (SPT-EXP-002, SPT-CLK-003)
        "expiry_events_missing",  # expiry sends no deactivated events (SPT-EVT-003/004)
        "clock_advance_as_milliseconds",  # the clock extension reads seconds as milliseconds (SPT-CLK-002)
        # ---- revocation
        "revoke_ignored",  # revoke answers 200 and changes nothing (SPT-REV-001/002/003/004)
        "revoked_token_still_pays",  # a revoked token reads deactivated but a payment succeeds (SPT-REV-003/008)
        "revoke_rewrites_deactivation",  # a dead token can be revoked again, rewriting it (SPT-REV-005/006)
        "revoked_status_outside_enum",  # the revoke answers status "revoked", not deactivated (SPT-REV-002)
        # ---- the two views
        "granted_usage_stale",  # the granted view's amount_captured is never updated (SPT-GRT-007)
        "granted_view_hides_deactivation",  # the granted view never shows a deactivation (SPT-GRT-008, SPT-REV-004)
        "granted_limits_show_headroom",  # the granted max_amount shows what is left, not the cap (SPT-GRT-002)
        # ---- events and webhooks
        "skip_granted_used_event",  # the seller gets no shared_payment.granted_token.used (SPT-EVT-002)
        "skip_issued_used_event",  # the agent gets no shared_payment.issued_token.used (SPT-EVT-001)
        "duplicate_used_event",  # the agent gets each used event twice (SPT-EVT-001, SPT-IDM-003)
        "used_event_to_seller",  # the agent's used event goes to the seller (SPT-EVT-001, SPT-SEC-009)
        "granted_event_carries_issued_view",  # the seller's events carry the issued view (SPT-EVT-006, SPT-SEC-009)
        "events_broadcast_to_every_seller",  # every seller hears of every token (SPT-EVT-007)
        "event_shows_state_before_change",  # a used event shows the token before the payment (SPT-EVT-008)
        "webhook_signature_without_timestamp",  # v1 signs the body alone, not "t.body" (SPT-EVT-009)
        "webhook_secret_listed",  # listed webhook endpoints show their secret (SPT-EVT-010, SPT-SEC-010)
        "enabled_events_ignored",  # every endpoint gets every event (SPT-EVT-011)
        # ---- authentication, isolation, non-disclosure
        "granted_view_readable_by_any_seller",  # any seller reads any granted token (SPT-SEC-004)
        "any_seller_can_pay",  # any seller pays with any token (SPT-SEC-005)
        "missing_credentials_accepted",  # a request without a key acts as the first account (SPT-SEC-001)
        "original_payment_method_shared",  # the seller pays with the agent's own PaymentMethod (SPT-USE-002, SPT-SEC-009)
        "cvc_check_copied_to_clone",  # the seller's clone keeps the original's CVC check (SPT-USE-003)
        "card_number_in_decline",  # a decline message names the full card number (SPT-SEC-008)
        "refused_key_echoed",  # a refused secret key is echoed whole in the 401 (SPT-SEC-010)
        "livemode_true_on_events",  # events report livemode true (SPT-SEC-012)
        # ---- idempotency
        "idempotent_replay_reexecutes",  # a retried key runs again instead of replaying (SPT-IDM-001/003)
        "idempotency_ignores_parameters",  # a key reused with other parameters replays (SPT-IDM-002)
        # ---- errors and the wire
        "malformed_form_is_a_server_error",  # a body the decoder refuses answers 500 (SPT-ERR-004/005)
        "unknown_path_framework_404",  # an unknown path answers {"detail": …} (SPT-ERR-001, SPT-ERR-008)
        "unknown_parameters_ignored",  # an unknown top-level parameter is dropped, not refused (SPT-WIRE-004)
        "missing_token_is_400",  # a token id that does not exist answers 400, not 404 (SPT-ERR-003)
    }
)


def check_faults(faults: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(faults)
    unknown = sorted(chosen - KNOWN_FAULTS)
    if unknown:
        raise ValueError(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_FAULTS))}")
    return chosen
