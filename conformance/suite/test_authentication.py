"""Authentication (SPT-SEC-001..003): a secret key, as Basic username or Bearer token, or a 401.

A refused key must be refused before anything else happens, with Stripe's error body, whatever
the path; and both ways Stripe accepts a key must work.
"""

from __future__ import annotations

import uuid

import pytest

from conformance.client import Exchange, Journal, StripeClient
from conformance.scenario import GRANTED, ISSUED, Scenario
from conformance.session import RunState
from conformance.target import Account
from conformance.violation import expect, expect_equal, expect_ok, expect_refused

MISSING = "spt_authprobe000000000000"


def as_stranger(spt_run: RunState, journal: Journal, key: str) -> StripeClient:
    """A client holding `key`, which belongs to no account of the target."""
    return spt_run.client(Account(role="stranger", secret_key=key), journal)


def refused_401(exchange: Exchange, requirement: str, what: str) -> None:
    expect_refused(
        exchange,
        requirement,
        statuses=(401,),
        tip=f"{what}: refuse with 401 and a Stripe error body before looking at the request",
    )


def probes(client: StripeClient, spt: Scenario, auth: str) -> list[Exchange]:
    """A read of each token view, an issue and a payment."""
    return [
        client.get(f"{ISSUED}/{MISSING}", auth=auth),
        client.get(f"{GRANTED}/{MISSING}", auth=auth),
        client.post(ISSUED, spt.issue_params(), auth=auth),
        client.post("/v1/payment_intents", spt.pay_params(MISSING, 100), auth=auth),
    ]


@pytest.mark.requirement("SPT-SEC-001")
def test_authentication_missing_credentials_are_refused_401(spt: Scenario) -> None:
    for exchange in probes(spt.agent, spt, auth="none"):
        refused_401(exchange, "SPT-SEC-001", "no Authorization header")


@pytest.mark.requirement("SPT-SEC-002")
@pytest.mark.parametrize(
    "key",
    [
        pytest.param(f"sk_test_{uuid.uuid4().hex}", id="unknown-test-key"),
        pytest.param(f"rk_test_{uuid.uuid4().hex}", id="unknown-restricted-key"),
        pytest.param("not-a-stripe-key", id="malformed"),
        pytest.param("sk_test_", id="prefix-only"),
    ],
)
def test_authentication_unknown_or_malformed_key_is_refused_401(
    spt_run: RunState, journal: Journal, spt: Scenario, key: str
) -> None:
    stranger = as_stranger(spt_run, journal, key)
    for auth in ("bearer", "basic"):
        for exchange in probes(stranger, spt, auth=auth):
            refused_401(exchange, "SPT-SEC-002", f"an unknown key as {auth}")


@pytest.mark.requirement("SPT-SEC-002")
@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer sk_test_", "Basic !!!not-base64!!!", "Basic Og==", "Token sk_test_abc", "sk_test_abc"],
)
def test_authentication_malformed_authorization_header_is_refused_401(spt: Scenario, authorization: str) -> None:
    exchange = spt.agent.get(f"{ISSUED}/{MISSING}", auth="none", headers={"Authorization": authorization})
    refused_401(exchange, "SPT-SEC-002", f"the header Authorization: {authorization}")


@pytest.mark.requirement("SPT-SEC-003")
def test_authentication_basic_and_bearer_both_accepted(spt: Scenario) -> None:
    created = spt.agent.post(ISSUED, spt.issue_params(), auth="basic")
    token = expect_ok(
        created,
        "SPT-SEC-003",
        object_type="shared_payment.issued_token",
        tip="accept the key as the Basic username with an empty password (curl -u sk_test_…:)",
    )
    token_id = str(token["id"])
    by_basic = expect_ok(spt.agent.get(f"{ISSUED}/{token_id}", auth="basic"), "SPT-SEC-003")
    by_bearer = expect_ok(spt.agent.get(f"{ISSUED}/{token_id}", auth="bearer"), "SPT-SEC-003")
    expect_equal(by_basic.get("id"), by_bearer.get("id"), "SPT-SEC-003", what="the token read either way")
    seller_basic = spt.seller.get(f"{GRANTED}/{token_id}", auth="basic")
    expect(
        seller_basic.status == 200,
        "SPT-SEC-003",
        received=seller_basic.describe(),
        expected="the seller's key accepted as Basic too",
        exchanges=[seller_basic],
    )
