"""Legal variants: behaviours an honest Stripe-compatible server may show, which the suite must pass.

The dual of faults.py. Each variant is one change to the server's `Behaviour`, made once when the
server is built, and names what it is an alternative to: a decision of spec/DECISIONS.md where
Stripe documents nothing (D-xx), or a Stripe behaviour the reference server does not show. Those
of the HTTP layer (wording, extra fields, transport answers, headers, compression, slowness) are
applied by the ASGI middleware of variant_http.py. Variants reach a server only through
`embedded.start(variants=…)` or `create_app(variants=…)`, like faults; docs/variants.md lists
them, and tests/variants/ proves the suite passes each one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Final

from reference_impl.behaviour import Behaviour, check_names, resolve

__all__ = ["KNOWN_VARIANTS", "VARIANTS", "Variant", "apply_variants", "check_variants"]


@dataclass(frozen=True)
class Variant:
    does: str
    alternative_to: str  # "D-xx" or the Stripe behaviour it stands for
    touches: tuple[str, ...]  # the requirement areas whose tests meet it
    change: Callable[[Behaviour], Behaviour]
    slice: tuple[str, ...] = ()  # what the fast slice of tests/variants runs (default: `touches`)

    @property
    def fast_selection(self) -> tuple[str, ...]:
        return self.slice or self.touches


def _http(name: str) -> Callable[[Behaviour], Behaviour]:
    return lambda b: replace(b, http=b.http | {name})


_EVENT_AREAS = ("EVT",)
VARIANTS: Final[Mapping[str, Variant]] = {
    # ---- ids named in parameters, revocation, expiry
    "param_token_missing_400": Variant(
        "a missing or foreign token named in a parameter answers 400 resource_missing (Stripe's convention)",
        "§11.5: 400 for an id in a parameter",
        ("USE", "SEC", "ERR"),
        lambda b: replace(b, missing_param_token_status=400),
        slice=("SPT-ERR-002", "SPT-ERR-003", "SPT-SEC-005", "SPT-USE-001"),
    ),
    "param_token_missing_404": Variant(
        "a missing or foreign token named in a parameter answers 404 resource_missing",
        "D-11, D-25",
        ("USE", "SEC", "ERR"),
        lambda b: replace(b, missing_param_token_status=404),
        slice=("SPT-ERR-002", "SPT-ERR-003", "SPT-SEC-005", "SPT-USE-001"),
    ),
    "revoke_deactivated_unchanged": Variant(
        "revoking a deactivated token answers 200 with the token unchanged",
        "D-28",
        ("REV",),
        lambda b: replace(b, revoke_dead="unchanged"),
        slice=("SPT-REV-005", "SPT-REV-006"),
    ),
    "past_expires_at_accepted": Variant(
        "a past usage_limits[expires_at] is accepted; the token is expired at once and unusable",
        "D-24",
        ("ISS", "EXP", "USE"),
        lambda b: replace(b, past_expiry="accept"),
        slice=("SPT-ISS-010", "SPT-EXP-001", "SPT-EXP-002"),
    ),
    "expiry_lazy": Variant(
        "no sweeper: a token's expiry is applied when it is next read or used",
        "D-30",
        ("EXP", "CLK"),
        lambda b: replace(b, sweeper_expires=False),
        slice=("EXP",),
    ),
    "expiry_lazy_stamped_when_noticed": Variant(
        "no sweeper, and deactivated_at is the moment expiry was noticed",
        "D-30",
        ("EXP", "CLK"),
        lambda b: replace(b, sweeper_expires=False, expiry_stamp="noticed"),
        slice=("EXP",),
    ),
    "default_lifetime": Variant(
        "a token issued without expires_at gets one 30 days ahead",
        "D-17",
        ("ISS", "EXP"),
        lambda b: replace(b, default_lifetime=30 * 86_400),
        slice=("SPT-ISS-016", "SPT-EXP-005"),
    ),
    "helper_revokes_own_tokens_only": Variant(
        "the test-helper revoke refuses a token an agent issued",
        "D-29",
        ("REV",),
        lambda b: replace(b, helper_revokes_agent_tokens=False),
        slice=("SPT-REV-007", "SPT-REV-008"),
    ),
    # ---- parameters
    "no_legacy_token_parameter": Variant(
        "the top-level shared_payment_granted_token is refused as an unknown parameter",
        "D-01",
        ("USE",),
        lambda b: replace(b, legacy_token_param=False),
        slice=("SPT-USE-001", "SPT-USE-013"),
    ),
    "no_network_id_alias": Variant(
        "seller_details[network_id] is refused as an unknown parameter",
        "D-05",
        ("ISS",),
        lambda b: replace(b, network_id_alias=False),
        slice=("SPT-ISS-012",),
    ),
    "unknown_seller_404": Variant(
        "seller_details naming no known profile answers 404 resource_missing",
        "D-27",
        ("ISS",),
        lambda b: replace(b, unknown_seller_status=404),
        slice=("SPT-ISS-013", "SPT-ISS-011"),
    ),
    "recurring_both_accepted": Variant(
        "usage_limits[recurring] and [recurring_interval] together are accepted, the nested one winning",
        "D-16",
        ("ISS", "USE"),
        lambda b: replace(b, recurring_both_accepted=True),
        slice=("SPT-ISS-019", "SPT-USE-019"),
    ),
    "currency_case_insensitive": Variant(
        "currency codes are accepted in any case (USD as usd)",
        "Stripe accepts upper-case currencies",
        ("ISS", "USE"),
        lambda b: replace(b, currency_case_insensitive=True),
        slice=("SPT-ISS-009", "SPT-USE-008"),
    ),
    # ---- payments
    "single_use": Variant(
        "a token is consumed by its first successful payment",
        "D-10",
        ("USE", "GRT", "EVT"),
        lambda b: replace(b, single_use=True),
        slice=("SPT-USE-006", "SPT-USE-007", "SPT-USE-009"),
    ),
    "refund_restores_headroom": Variant(
        "a refund gives its amount back to the token's headroom",
        "D-09",
        ("USE",),
        lambda b: replace(b, refund_restores_headroom=True),
        slice=("SPT-USE-017",),
    ),
    "minimum_charge": Variant(
        "amounts below the currency's minimum charge (50 cents in usd) are refused",
        "Stripe's minimum charge",
        ("USE", "GRT", "EVT", "IDM"),
        lambda b: replace(b, minimum_charge=True),
        slice=("SPT-USE-005", "SPT-USE-006", "SPT-USE-011"),
    ),
    # ---- events and webhooks
    "events_previous_attributes": Variant(
        "events carry data.previous_attributes",
        "D-08",
        _EVENT_AREAS,
        lambda b: replace(b, previous_attributes=True),
        slice=("SPT-EVT-005", "SPT-EVT-006", "SPT-EVT-008"),
    ),
    "webhook_twice": Variant(
        "every webhook is delivered twice (the same event id)",
        "D-32: at least once",
        _EVENT_AREAS,
        lambda b: replace(b, delivery_copies=2),
        slice=("SPT-EVT-001", "SPT-EVT-002", "SPT-IDM-003"),
    ),
    "webhook_out_of_order": Variant(
        "webhooks due together are delivered newest first",
        "D-32: no ordering promised",
        _EVENT_AREAS,
        lambda b: replace(b, delivery_order="reversed"),
        slice=("SPT-EVT-001", "SPT-EVT-003", "SPT-EVT-016"),
    ),
    "webhook_late": Variant(
        "every webhook leaves 4 s after its event, well within Stripe's retry window",
        "D-32",
        _EVENT_AREAS,
        lambda b: replace(b, delivery_delay=4.0),
        slice=("SPT-EVT-001", "SPT-EVT-003"),
    ),
    "webhook_parallel": Variant(
        "one endpoint gets several deliveries at once",
        "D-32",
        _EVENT_AREAS,
        lambda b: replace(b, deliveries_in_parallel=True),
        slice=("SPT-EVT-001", "SPT-EVT-003", "SPT-EVT-016"),
    ),
    # ---- the HTTP layer (variant_http.py)
    "no_idempotent_replayed_header": Variant(
        "a replayed response has no Idempotent-Replayed header",
        "D-22",
        ("IDM",),
        lambda b: replace(b, replayed_header=False),
        slice=("SPT-IDM-001", "SPT-IDM-003"),
    ),
    "error_wording": Variant(
        "every error message is worded differently",
        "Stripe's messages are not a contract",
        ("ERR", "ISS", "USE", "REV", "SEC", "WIRE", "IDM"),
        _http("error_wording"),
        slice=("ERR", "SPT-WIRE-004"),
    ),
    "refusal_codes": Variant(
        "refused uses carry other error codes (token_expired, token_inactive, …)",
        "D-11",
        ("USE", "ERR", "EXP"),
        _http("refusal_codes"),
        slice=("SPT-ERR-010", "SPT-USE-005", "SPT-USE-008"),
    ),
    "extra_fields": Variant(
        "every object carries fields the spec does not know",
        "Stripe adds fields without a new version",
        ("ISS", "GRT", "USE", "WIRE", "EVT"),
        _http("extra_fields"),
        slice=("ISS", "GRT"),
    ),
    "open_enum_values": Variant(
        "open enums carry values the spec does not list (card networks)",
        "x-stripeEnum kind: open",
        ("GRT", "USE", "WIRE"),
        _http("open_enum_values"),
        slice=("GRT",),
    ),
    "external_id_empty": Variant(
        'seller_details.external_id is "" rather than null when none was sent',
        "D-04",
        ("ISS", "WIRE"),
        _http("external_id_empty"),
        slice=("ISS",),
    ),
    "return_url_omitted": Variant(
        "the issued token omits return_url when none was sent",
        "D-15",
        ("ISS", "WIRE"),
        _http("return_url_omitted"),
        slice=("ISS",),
    ),
    "request_id_uuid": Variant(
        "Request-Id is a bare UUID",
        "Request-Id formats are not documented",
        ("WIRE", "ERR"),
        _http("request_id_uuid"),
        slice=("SPT-WIRE-005", "SPT-ERR-001"),
    ),
    "request_id_long": Variant(
        "Request-Id is req_ and 24 characters",
        "Request-Id formats are not documented",
        ("WIRE", "ERR"),
        _http("request_id_long"),
        slice=("SPT-WIRE-005", "SPT-ERR-001"),
    ),
    "transport_405": Variant(
        "a method outside GET/POST/DELETE answers 405 text/plain from the HTTP layer",
        "D-34",
        ("ERR", "WIRE"),
        _http("transport_405"),
        slice=("SPT-ERR-001", "SPT-ERR-008", "SPT-WIRE-003", "SPT-WIRE-005", "SPT-WIRE-009"),
    ),
    "transport_501": Variant(
        "TRACE, CONNECT and unknown methods answer 501 text/html from the HTTP layer",
        "D-34",
        ("ERR", "WIRE"),
        _http("transport_501"),
        slice=("SPT-ERR-001", "SPT-ERR-008", "SPT-WIRE-003", "SPT-WIRE-005", "SPT-WIRE-009"),
    ),
    "transport_413": Variant(
        "a body over the limit answers 413 text/plain from the HTTP layer",
        "D-34",
        ("ERR", "WIRE"),
        _http("transport_413"),
        slice=("SPT-ERR-001", "SPT-ERR-004", "SPT-ERR-005", "SPT-WIRE-003", "SPT-WIRE-005", "SPT-WIRE-009"),
    ),
    "no_keep_alive": Variant(
        "every response closes its connection",
        "HTTP/1.1 allows it",
        ("WIRE", "USE"),
        _http("no_keep_alive"),
        slice=("SPT-WIRE-001", "SPT-WIRE-003", "SPT-WIRE-005", "SPT-ISS-001", "SPT-USE-001"),
    ),
    "gzip": Variant(
        "responses are gzip-compressed when the client accepts it",
        "Stripe compresses",
        ("WIRE", "ISS", "USE"),
        _http("gzip"),
        slice=("SPT-WIRE-001", "SPT-WIRE-003", "SPT-WIRE-005", "SPT-ISS-001", "SPT-USE-001"),
    ),
    "slow": Variant(
        "one answer in fifty takes 2 s (p99 2 s)",
        "Stripe's latency",
        ("USE", "ISS", "REV"),
        _http("slow"),
        slice=("SPT-USE-005", "SPT-USE-006", "SPT-ISS-001"),
    ),
}
KNOWN_VARIANTS: Final[frozenset[str]] = frozenset(VARIANTS)


def check_variants(variants: Iterable[str]) -> frozenset[str]:
    return check_names(variants, KNOWN_VARIANTS, "variant")


def apply_variants(variants: Iterable[str], base: Behaviour) -> Behaviour:
    """`base` with each named variant's change."""
    return resolve({name: v.change for name, v in VARIANTS.items()}, variants, "variant", base)
