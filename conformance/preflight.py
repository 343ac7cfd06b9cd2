"""Before the first test: can the target be reached, and does it take our keys?

An unreachable target or a refused key would otherwise show up as eighty failures; instead the
run stops at once with exit code 3 and one sentence saying what is wrong.
"""

from __future__ import annotations

import httpx

from conformance.client import Journal, StripeClient
from conformance.target import Target

__all__ = ["TargetUnusable", "preflight"]

# Ids that exist nowhere: a Stripe server answers 404 resource_missing once it has accepted the key.
_PROBES = {
    "agent": "/v1/shared_payment/issued_tokens/spt_preflightprobe00000000",
    "seller": "/v1/shared_payment/granted_tokens/spt_preflightprobe00000000",
    "other_seller": "/v1/shared_payment/granted_tokens/spt_preflightprobe00000000",
}


class TargetUnusable(Exception):
    """The target cannot be tested; the message is one sentence for the user."""


def preflight(target: Target, http: httpx.Client) -> None:
    journal = Journal()
    for account in target.accounts:
        client = StripeClient(http, account, journal, stripe_version=target.stripe_version)
        try:
            exchange = client.get(_PROBES[account.role])
        except httpx.TransportError as exc:
            raise TargetUnusable(f"cannot reach {target.base_url}: {exc.__class__.__name__}: {exc}") from None
        if exchange.status == 401:
            raise TargetUnusable(
                f"{target.base_url} refused the {account.role} key ({account.key_hint}) with 401: check the key"
            )
        if exchange.status >= 500:
            raise TargetUnusable(
                f"{target.base_url} answered {exchange.status} to a plain retrieve as the {account.role}"
            )
        # An API whose errors are JSON but not Stripe-shaped is tested, and SPT-ERR-001 says so in
        # the report; only an answer that is not JSON at all (a web page) means a wrong base_url.
        if exchange.error is None and exchange.status != 200 and exchange.body is None:
            raise TargetUnusable(
                f"{target.base_url} does not answer like an API (a {exchange.status} whose body is not JSON); "
                "is base_url right?"
            )
