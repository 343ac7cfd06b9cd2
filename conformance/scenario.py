"""The vocabulary of written conformance tests: issue a token, pay with it, revoke it, read it.

Each helper sends one request through the right account and returns the `Exchange`, leaving
the judgement to the test; helpers that a test relies on to *set up* (issue a token) check
their own success against the requirement that covers it, so a broken issuance is reported as
SPT-ISS-001, not as a mystery in some unrelated test.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conformance.client import Exchange, StripeClient
from conformance.clock import Clock
from conformance.target import Target
from conformance.violation import expect, expect_equal, expect_ok, expect_refused, inconclusive

__all__ = ["GRANTED", "ISSUED", "Scenario", "Token", "unknown_token_id"]

ISSUED = "/v1/shared_payment/issued_tokens"
GRANTED = "/v1/shared_payment/granted_tokens"
GRANTED_HELPER = "/v1/test_helpers/shared_payment/granted_tokens"
PAYMENT_INTENTS = "/v1/payment_intents"
PAYMENT_METHODS = "/v1/payment_methods"
REFUNDS = "/v1/refunds"
# Far enough ahead that no other test's clock advance can expire it.
DEFAULT_LIFETIME = 30 * 24 * 3600


def unknown_token_id() -> str:
    """A well-formed spt_ id that names no token."""
    return "spt_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24))


@dataclass(frozen=True)
class Token:
    """A token a test made, with the issue response that created it."""

    id: str
    issued: Mapping[str, Any]
    currency: str
    max_amount: int
    expires_at: int | None


class Scenario:
    def __init__(
        self,
        target: Target,
        agent: StripeClient,
        seller: StripeClient,
        other_seller: StripeClient | None,
        clock: Clock,
    ) -> None:
        self.target = target
        self.agent = agent
        self.seller = seller
        self.other_seller = other_seller
        self.clock = clock

    # ------------------------------------------------------------------ issuing
    def issue_params(
        self,
        *,
        max_amount: int = 1000,
        currency: str = "usd",
        expires_at: int | str | None = "default",
        profile: str | None = None,
        payment_method: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A valid create request; keyword arguments override or add parameters."""
        if expires_at == "default":
            expires_at = self.clock.about_now() + DEFAULT_LIFETIME
        limits: dict[str, Any] = {"currency": currency, "max_amount": max_amount}
        if expires_at is not None:
            limits["expires_at"] = expires_at
        params: dict[str, Any] = {
            "payment_method": payment_method or self.target.agent.payment_method,
            "seller_details": {"network_business_profile": profile or self.target.seller.network_business_profile},
            "usage_limits": limits,
        }
        params.update(extra)
        return params

    def issue_exchange(self, **options: Any) -> Exchange:
        return self.agent.post(ISSUED, self.issue_params(**options))

    def issue(self, **options: Any) -> Token:
        """Issue a token for the test to use; its success is SPT-ISS-001."""
        params = self.issue_params(**options)
        body = expect_ok(
            self.agent.post(ISSUED, params), "SPT-ISS-001", object_type="shared_payment.issued_token", setup=True
        )
        limits = params["usage_limits"]
        return Token(body["id"], body, limits["currency"], limits["max_amount"], limits.get("expires_at"))

    def issue_declining(self, **options: Any) -> Token:
        """A token over the agent's declining payment method (the target must name one)."""
        assert self.target.agent.declined_payment_method is not None
        return self.issue(payment_method=self.target.agent.declined_payment_method, **options)

    def test_helper_grant(self, *, max_amount: int = 1000, currency: str = "usd", **extra: Any) -> Exchange:
        limits = {
            "currency": currency,
            "max_amount": max_amount,
            "expires_at": self.clock.about_now() + DEFAULT_LIFETIME,
        }
        params: dict[str, Any] = {"payment_method": "pm_card_visa", "usage_limits": limits}
        params.update(extra)
        return self.seller.post(GRANTED_HELPER, params)

    # ------------------------------------------------------------------ reading
    def issued(self, token_id: str, *, as_: StripeClient | None = None, **params: Any) -> Exchange:
        return (as_ or self.agent).get(f"{ISSUED}/{token_id}", params or None)

    def granted(self, token_id: str, *, as_: StripeClient | None = None, **params: Any) -> Exchange:
        return (as_ or self.seller).get(f"{GRANTED}/{token_id}", params or None)

    def views(self, token_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Both views of a token, each required to be readable (SPT-ISS-005, SPT-GRT-001)."""
        issued = expect_ok(self.issued(token_id), "SPT-ISS-005", object_type="shared_payment.issued_token", setup=True)
        granted = expect_ok(
            self.granted(token_id), "SPT-GRT-001", object_type="shared_payment.granted_token", setup=True
        )
        return issued, granted

    # ------------------------------------------------------------------ paying
    def pay_params(
        self,
        token_id: str,
        amount: int,
        *,
        currency: str = "usd",
        placement: str = "nested",
        confirm: bool = True,
        **extra: Any,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"amount": amount, "currency": currency}
        if confirm:
            params["confirm"] = True
        if placement == "nested":
            params["payment_method_data"] = {"shared_payment_granted_token": token_id}
        elif placement == "top-level":
            params["shared_payment_granted_token"] = token_id
        params.update(extra)
        return params

    def pay(self, token_id: str, amount: int, *, as_: StripeClient | None = None, **options: Any) -> Exchange:
        """Create and confirm a PaymentIntent with the token, as the seller unless told."""
        idempotency_key = options.pop("idempotency_key", None)
        params = self.pay_params(token_id, amount, **options)
        client = as_ or self.seller
        if idempotency_key is not None:
            return client.post(PAYMENT_INTENTS, params, idempotency_key=idempotency_key)
        return client.post(PAYMENT_INTENTS, params)

    def captured(self, token_id: str) -> int:
        """amount_captured.value on the issued view (SPT-ISS-005 if it cannot be read)."""
        issued = expect_ok(self.issued(token_id), "SPT-ISS-005", object_type="shared_payment.issued_token", setup=True)
        usage = issued.get("usage_details") or {}
        captured = usage.get("amount_captured") or {}
        return int(captured.get("value") or 0)

    def unless_single_use(self, token_id: str, refused: Exchange, step: str) -> None:
        """Stop the test as inconclusive if `refused` came because an earlier payment below the
        cap consumed the token: a single-use server (D-10 leaves multi-use to the reference), on
        which a test that needs the token after a partial payment cannot be set up."""
        if refused.status < 400:
            return
        view = self.issued(token_id).body
        if not isinstance(view, Mapping) or view.get("deactivated_reason") != "consumed":
            return
        captured = _captured(view)
        cap = (view.get("usage_limits") or {}).get("max_amount")
        if isinstance(captured, int) and isinstance(cap, int) and captured < cap:
            inconclusive(
                f"{step} was refused because the token's first payment ({captured} of {cap}) consumed it: the "
                "server's tokens are single use (D-10), and this test needs one usable after a partial payment"
            )

    # ------------------------------------------------------------------ revoking
    def revoke(self, token_id: str, *, as_: StripeClient | None = None) -> Exchange:
        return (as_ or self.agent).post(f"{ISSUED}/{token_id}/revoke")

    def test_helper_revoke(self, token_id: str, *, as_: StripeClient | None = None) -> Exchange:
        return (as_ or self.seller).post(f"{GRANTED_HELPER}/{token_id}/revoke")

    # ------------------------------------------------------------------ payments, in more detail
    def pay_ok(self, token_id: str, amount: int, **options: Any) -> dict[str, Any]:
        """Pay with the token as set-up for a test; its success is SPT-USE-001."""
        exchange = self.pay(token_id, amount, **options)
        self.unless_single_use(token_id, exchange, f"a payment of {amount}")
        intent = expect_ok(
            exchange,
            "SPT-USE-001",
            object_type="payment_intent",
            tip="a PaymentIntent confirmed with a granted token, within its limits, answers 200",
            setup=True,
        )
        expect_equal(
            intent.get("status"),
            "succeeded",
            "SPT-USE-001",
            what="PaymentIntent status",
            exchanges=[exchange],
            setup=True,
        )
        return intent

    def create_intent(self, amount: int, *, currency: str = "usd", **extra: Any) -> Exchange:
        """A PaymentIntent created unconfirmed and without a token, as the seller."""
        params: dict[str, Any] = {"amount": amount, "currency": currency}
        params.update(extra)
        return self.seller.post(PAYMENT_INTENTS, params)

    def confirm(self, intent_id: str, token_id: str, *, as_: StripeClient | None = None, **extra: Any) -> Exchange:
        """Confirm a PaymentIntent with payment_method_data[shared_payment_granted_token]."""
        params: dict[str, Any] = {"payment_method_data": {"shared_payment_granted_token": token_id}}
        params.update(extra)
        return (as_ or self.seller).post(f"{PAYMENT_INTENTS}/{intent_id}/confirm", params)

    def payment_intent(
        self, intent_id: str, *, as_: StripeClient | None = None, expand: Sequence[str] = ()
    ) -> Exchange:
        """Retrieve a PaymentIntent; `expand` goes as `expand[]=…`, as Stripe's docs write it."""
        params = {"expand": list(expand)} if expand else None
        return (as_ or self.seller).get(f"{PAYMENT_INTENTS}/{intent_id}", params, array_style="brackets")

    def payment_method(self, payment_method_id: str, *, as_: StripeClient | None = None) -> Exchange:
        return (as_ or self.seller).get(f"{PAYMENT_METHODS}/{payment_method_id}")

    def refund(self, intent_id: str, *, as_: StripeClient | None = None, **extra: Any) -> Exchange:
        params: dict[str, Any] = {"payment_intent": intent_id}
        params.update(extra)
        return (as_ or self.seller).post(REFUNDS, params)

    def expect_use_refused(
        self, exchange: Exchange, token_id: str, requirement: str, *, captured: int, tip: str = ""
    ) -> Mapping[str, Any]:
        """The invariant of a refused use, where Stripe documents no code: a 4xx Stripe error,
        no succeeded PaymentIntent in it, and the token's amount_captured still `captured`."""
        error = expect_refused(exchange, requirement, tip=tip)
        intent = error.get("payment_intent")
        if isinstance(intent, Mapping):
            expect(
                intent.get("status") != "succeeded",
                requirement,
                received=f"a refusal carrying PaymentIntent {intent.get('id')} with status succeeded",
                expected="no PaymentIntent succeeds when the use of the token is refused",
                tip=tip,
                exchanges=[exchange],
            )
        after = self.issued(token_id)
        body = expect_ok(after, requirement, object_type="shared_payment.issued_token")
        expect_equal(
            _captured(body),
            captured,
            requirement,
            what="usage_details.amount_captured.value after the refusal",
            tip=tip or "a refused payment must capture nothing",
            exchanges=[exchange, after],
        )
        return error

    # ------------------------------------------------------------------ reading, judged
    def read_issued(self, token_id: str, **params: Any) -> dict[str, Any]:
        """The issued view as the agent reads it (SPT-ISS-005 if it cannot be read)."""
        return expect_ok(
            self.issued(token_id, **params), "SPT-ISS-005", object_type="shared_payment.issued_token", setup=True
        )

    def read_granted(self, token_id: str, **params: Any) -> dict[str, Any]:
        """The granted view as the seller reads it (SPT-GRT-001 if it cannot be read)."""
        return expect_ok(
            self.granted(token_id, **params), "SPT-GRT-001", object_type="shared_payment.granted_token", setup=True
        )

    # ------------------------------------------------------------------ tokens that will expire
    def issue_expiring(self, **options: Any) -> Token:
        """A token expiring `clock.lead_time()` from now, for a test that will let that pass.

        The clock extension's clock is one per server: another test may advance it past the new
        expires_at before the token exists. A refusal then proves nothing, so the test is
        skipped as inconclusive; any other refusal is SPT-ISS-001's.
        """
        expires_at = self.clock.now() + self.clock.lead_time()
        params = self.issue_params(expires_at=expires_at, **options)
        exchange = self.agent.post(ISSUED, params)
        if exchange.status != 200:
            self.skip_if_passed(expires_at, "before the token was issued")
        body = expect_ok(exchange, "SPT-ISS-001", object_type="shared_payment.issued_token", setup=True)
        limits = params["usage_limits"]
        return Token(body["id"], body, limits["currency"], limits["max_amount"], expires_at)

    def skip_if_passed(self, moment: int, when: str) -> None:
        """Skip the test as inconclusive if the target's clock has already reached `moment`
        (another test moved the shared clock); otherwise return and let the test judge."""
        now = self.clock.now()
        if now >= moment:
            inconclusive(
                f"the target's clock ({now}) passed {moment} {when}; another test advanced the "
                "shared clock (run time-travel tests with fewer workers)"
            )


def _captured(view: Mapping[str, Any]) -> int | None:
    """usage_details.amount_captured.value of either view, or None where it is missing."""
    usage = view.get("usage_details")
    captured = usage.get("amount_captured") if isinstance(usage, Mapping) else None
    value = captured.get("value") if isinstance(captured, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
