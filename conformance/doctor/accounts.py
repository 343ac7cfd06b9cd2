"""Do the profiles and payment methods exist, and does each belong to the account it is given for?

Theory of operation. The SPT API has no "who am I" call, so the accounts are told apart by what
each can see: the agent issues a small token to the seller's profile (which proves the payment
method and the profile exist), the seller must read its granted view (the profile is the seller
key's own), and neither the agent nor another seller may (otherwise two keys are one account,
or the server does not isolate sellers: both are worth knowing before the run). Every token made
here is revoked before the run starts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import httpx

from conformance.client import Exchange, Journal, StripeClient
from conformance.doctor.findings import Finding, Severity
from conformance.target import Account, Target

__all__ = ["probe_accounts"]

ISSUED = "/v1/shared_payment/issued_tokens"
GRANTED = "/v1/shared_payment/granted_tokens"
PAYMENT_METHODS = "/v1/payment_methods"
_LIFETIME = 3600  # seconds: the probe token expires on its own if its revoke is lost
CLOCK = "/v1/test_helpers/shared_payment/clock"


def _problem(exchange: Exchange) -> str:
    error = exchange.error or {}
    message = error.get("message") or exchange.response_text[:200] or "no body"
    return f"{exchange.status} {message}"


class _Probe:
    def __init__(self, target: Target, http: httpx.Client) -> None:
        self.target = target
        self.clients = {
            a.role: StripeClient(http, a, Journal(), stripe_version=target.stripe_version) for a in target.accounts
        }
        self.findings: list[Finding] = []
        self.issued: list[str] = []

    def say(self, check: str, severity: Severity, message: str) -> None:
        self.findings.append(Finding(check, severity, message))

    def payment_methods(self) -> bool:
        agent = self.target.agent
        for name in ("payment_method", "declined_payment_method"):
            pm = getattr(agent, name)
            if not pm or pm.startswith("pm_card_"):
                continue  # a test shortcut names a card, not an object: it exists in every test account
            exchange = self.clients["agent"].get(f"{PAYMENT_METHODS}/{pm}")
            if exchange.status != 200:
                self.say(
                    "payment methods",
                    Severity.STOP,
                    f"agent.{name} {pm} is not a PaymentMethod of the agent's account ({_problem(exchange)}): use "
                    "one of that account's PaymentMethods, or a test shortcut such as pm_card_visa",
                )
                return False
        return True

    def now(self) -> int:
        """The target's now: its test clock where it has one (runs before this one may have moved
        it hours ahead of the wall clock), else the local clock."""
        exchange = self.clients["agent"].get(CLOCK)
        body = exchange.body if exchange.status == 200 and isinstance(exchange.body, dict) else {}
        now = body.get("now")
        return now if isinstance(now, int) and not isinstance(now, bool) else int(time.time())

    def issue(self, seller: Account) -> str | None:
        params = {
            "payment_method": self.target.agent.payment_method,
            "seller_details": {"network_business_profile": seller.network_business_profile},
            "usage_limits": {"currency": "usd", "max_amount": 100, "expires_at": self.now() + _LIFETIME},
        }
        exchange = self.clients["agent"].post(ISSUED, params)
        body = exchange.body if isinstance(exchange.body, dict) else {}
        if exchange.status == 200 and isinstance(body.get("id"), str):
            self.issued.append(body["id"])
            return str(body["id"])
        param = str((exchange.error or {}).get("param") or "")
        if "network_business_profile" in param or "network_id" in param:
            fix = f"put the {seller.role}'s own Stripe profile id in {seller.role}.network_business_profile"
            subject = f"{seller.role}.network_business_profile {seller.network_business_profile}"
        elif "payment_method" in param:
            fix = "use a PaymentMethod of the agent's account, or a test shortcut such as pm_card_visa"
            subject = f"agent.payment_method {self.target.agent.payment_method}"
        else:
            fix = "check that the agent key is the issuing account's and that it may issue shared payment tokens"
            subject = "the agent"
        self.say("profiles", Severity.STOP, f"{subject}: issuing a token was refused ({_problem(exchange)}); {fix}")
        return None

    def sees(self, role: str, token: str) -> bool | None:
        exchange = self.clients[role].get(f"{GRANTED}/{token}")
        if exchange.status == 200:
            return True
        return False if exchange.status == 404 else None

    def ownership(self, seller: Account, token: str) -> None:
        profile = seller.network_business_profile
        if not self.sees(seller.role, token):
            self.say(
                "profiles",
                Severity.STOP,
                f"the {seller.role} key ({seller.key_hint}) cannot read the token granted to {profile}: that profile "
                f"belongs to another account; give the {seller.role} key and profile of one and the same account",
            )
            return
        intruders = [role for role in self.clients if role != seller.role and self.sees(role, token)]
        for role in intruders:
            self.say(
                "profiles",
                Severity.WARN,
                f"the {role} key reads the token granted to {seller.role}'s profile {profile}: either both keys are "
                "one account (give each role its own account) or the server does not isolate accounts (SPT-SEC-004 "
                "will fail)",
            )
        if not intruders:
            self.say("profiles", Severity.OK, f"{profile} exists and belongs to the {seller.role} account")

    def revoke_all(self) -> None:
        for token in self.issued:
            # Best effort: a token left behind expires within the hour.
            self.clients["agent"].post(f"{ISSUED}/{token}/revoke")


@contextmanager
def _probe(target: Target, http: httpx.Client) -> Iterator[_Probe]:
    probe = _Probe(target, http)
    try:
        yield probe
    finally:
        with suppress(httpx.HTTPError):
            probe.revoke_all()


def probe_accounts(target: Target, http: httpx.Client) -> list[Finding]:
    """Issue one token per seller, check who sees it, revoke it."""
    with _probe(target, http) as probe:
        if not probe.payment_methods():
            return probe.findings
        sellers = [a for a in target.accounts if a.role != "agent"]
        for seller in sellers:
            token = probe.issue(seller)
            if token is None:
                return probe.findings
            probe.ownership(seller, token)
        return probe.findings
