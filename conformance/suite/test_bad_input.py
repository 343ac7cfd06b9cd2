"""Errors and bad input (SPT-ERR-*): every refusal is a Stripe error, no input is a server error.

The malformed requests (`conformance.suite.malformed`) are built from a valid one and then
damaged in one way each, so a refusal is about that damage and nothing else. Only SPT-ERR-010 (the reference server's codes,
D-11) and SPT-ERR-008 (D-34) check exact answers; the rest check the invariants every Stripe-like
server owes: a 4xx with a Stripe error body, no trace, and nothing changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from conformance.checks import transport_answer
from conformance.client import Exchange, encode_form
from conformance.scenario import GRANTED, ISSUED, PAYMENT_INTENTS, Scenario, unknown_token_id
from conformance.schema_check import find_route
from conformance.suite.malformed import MALFORMED, ODD, as_agent, send
from conformance.violation import (
    STRIPE_ERROR_TYPES,
    expect,
    expect_equal,
    expect_error,
    expect_ok,
    expect_refused,
    inconclusive,
)

ISSUED_OBJECT = "shared_payment.issued_token"
GRANT_PARAM = "payment_method_data[shared_payment_granted_token]"
# What leaks from a crashed handler: traces, source paths, exception class names, driver errors.
LEAKS = re.compile(
    r"Traceback|File \"|\.py\b|line \d+, in|\b[A-Z][a-zA-Z]*(?:Error|Exception)\b|sqlite|psycopg|NoneType|"
    r"KeyError|object has no attribute|undefined method|NullPointer|panic:"
)


def _not_the_http_layer(exchange: Exchange, case: str) -> None:
    """The error contract is the API's: what the HTTP layer answered by itself is SPT-WIRE-012's."""
    if transport_answer(exchange):
        inconclusive(
            f"the HTTP layer answered the request with {case} itself ({exchange.status}, no Request-Id or no Stripe "
            "error body), so the API's error contract could not be checked on it; SPT-WIRE-012 judges that answer"
        )


@pytest.mark.requirement("SPT-ERR-004")
@pytest.mark.parametrize("case", [*MALFORMED, *ODD])
def test_malformed_request_is_never_a_server_error(spt: Scenario, case: str) -> None:
    sent = {**MALFORMED, **ODD}[case](spt)
    exchange = send(as_agent(spt, sent), sent)
    _not_the_http_layer(exchange, case)
    expect(
        exchange.status < 500,
        "SPT-ERR-004",
        received=f"{exchange.status} for a request with {case}",
        expected="a 4xx (or a 2xx): never a server error",
        tip="parse and validate the whole request before acting on it",
        exchanges=[exchange],
    )


@pytest.mark.requirement("SPT-ERR-005")
@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_request_is_refused_with_a_stripe_error(spt: Scenario, case: str) -> None:
    sent = MALFORMED[case](spt)
    exchange = send(as_agent(spt, sent), sent)
    _not_the_http_layer(exchange, case)
    expect_refused(exchange, "SPT-ERR-005", tip=f"refuse a request with {case}")


# ------------------------------------------------------------------ error bodies and statuses
def assorted_errors(spt: Scenario) -> list[Exchange]:
    """One of each kind of refusal the suite can provoke on any target."""
    missing = unknown_token_id()
    broken = spt.issue_params()
    del broken["usage_limits"]["currency"]
    errors = [
        spt.agent.post(ISSUED, broken),
        spt.agent.post(ISSUED, spt.issue_params(bogus_parameter="x")),
        spt.agent.get(f"{ISSUED}/{missing}", auth="none"),
        spt.agent.get(f"{ISSUED}/{missing}"),
        spt.seller.get(f"{GRANTED}/{missing}"),
        spt.pay(missing, 100),
        spt.agent.get("/v1/no_such_resource"),
    ]
    token = spt.issue(max_amount=100)
    errors.append(spt.pay(token.id, 500))
    if spt.target.agent.declined_payment_method:
        errors.append(spt.pay(spt.issue_declining().id, 100))
    return errors


@pytest.mark.requirement("SPT-ERR-001")
def test_error_body_is_a_stripe_error_object(spt: Scenario) -> None:
    for exchange in [e for e in assorted_errors(spt) if e.status >= 400]:
        error = exchange.error
        expect(
            error is not None and error.get("type") in STRIPE_ERROR_TYPES and isinstance(error.get("message"), str),
            "SPT-ERR-001",
            received=f"{exchange.status} {exchange.response_text[:300]}",
            expected=f'{{"error": {{"type": one of {", ".join(STRIPE_ERROR_TYPES)}, "message": "…"}}}}',
            exchanges=[exchange],
        )


@pytest.mark.requirement("SPT-ERR-002")
def test_error_status_agrees_with_the_error(spt: Scenario) -> None:
    missing = unknown_token_id()
    broken = spt.issue_params()
    del broken["payment_method"]
    cases = [
        (spt.agent.post(ISSUED, broken), 400, "invalid parameters"),
        (spt.agent.get(f"{ISSUED}/{missing}", auth="none"), 401, "no credentials"),
        (spt.agent.get(f"{ISSUED}/{missing}"), 404, "a missing resource"),
    ]
    if spt.target.agent.declined_payment_method:
        cases.append((spt.pay(spt.issue_declining().id, 100), 402, "a declined card"))
    for exchange, status, what in cases:
        expect_equal(exchange.status, status, "SPT-ERR-002", what=f"the status for {what}", exchanges=[exchange])
    for exchange in [e for e, _, _ in cases] + assorted_errors(spt):
        error = exchange.error or {}
        if error.get("type") == "card_error":
            expect_equal(exchange.status, 402, "SPT-ERR-002", what="the status of a card_error", exchanges=[exchange])
        if error.get("code") == "resource_missing":
            _expect_resource_missing_status(exchange, error)


def _expect_resource_missing_status(exchange: Exchange, error: Mapping[str, Any]) -> None:
    """Stripe answers a missing object named in the URL path with 404 (param null, or naming the
    path parameter) and one named in a parameter with 400 and that parameter in `param`; a server
    that answers the latter with 404 is within what a Stripe client handles (both raise
    InvalidRequestError)."""
    route = find_route(exchange.method, exchange.path)
    path_params = set(re.findall(r"\{([^}]+)\}", route.template)) | {"id"} if route is not None else set()
    in_path = bool(path_params - {"id"}) and (not error.get("param") or error.get("param") in path_params)
    if in_path:
        expect_equal(
            exchange.status,
            404,
            "SPT-ERR-002",
            what="the status of resource_missing for a path id",
            exchanges=[exchange],
        )
        return
    expect(
        exchange.status in (400, 404),
        "SPT-ERR-002",
        received=f"{exchange.status} resource_missing with param {error.get('param')!r}",
        expected="400 (Stripe's answer for an object named in a parameter, param set) or 404",
        tip="Stripe answers a missing object named in a parameter with 400 and param naming it",
        exchanges=[exchange],
    )


@pytest.mark.requirement("SPT-ERR-003")
def test_unknown_token_id_is_404_resource_missing(spt: Scenario) -> None:
    missing = unknown_token_id()
    for exchange in (spt.agent.get(f"{ISSUED}/{missing}"), spt.seller.get(f"{GRANTED}/{missing}")):
        expect_error(exchange, "SPT-ERR-003", status=404, type="invalid_request_error", code="resource_missing")


@pytest.mark.requirement("SPT-ERR-006")
def test_error_bodies_carry_no_trace_or_internal_text(spt: Scenario) -> None:
    exchanges = assorted_errors(spt)
    for build in MALFORMED.values():
        sent = build(spt)
        exchanges.append(send(as_agent(spt, sent), sent))
    for exchange in [e for e in exchanges if e.status >= 400]:
        found = LEAKS.search(exchange.response_text)
        expect(
            found is None,
            "SPT-ERR-006",
            received=f"{found.group() if found else ''!r} in {exchange.describe()}: {exchange.response_text[:200]}",
            expected="an error message written for the caller, without trace, path or exception name",
            exchanges=[exchange],
        )


@pytest.mark.requirement("SPT-ERR-007")
@pytest.mark.uses(
    "SPT-ERR-005",
    "SPT-IDM-002",
    "SPT-SEC-005",
    "SPT-SEC-006",
    "SPT-USE-001",
    "SPT-USE-005",
    "SPT-USE-008",
    "SPT-WIRE-004",
)
def test_refused_requests_change_nothing(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    key = f"spt-conformance-{unknown_token_id()}"
    expect_ok(spt.pay(token.id, 300, idempotency_key=key), "SPT-USE-001", object_type="payment_intent")
    issued_before, granted_before = spt.views(token.id)
    expect_refused(spt.pay(token.id, 800), "SPT-USE-005")
    expect_refused(spt.pay(token.id, 100, currency="eur"), "SPT-USE-008")
    expect_refused(spt.pay(token.id, 400, idempotency_key=key), "SPT-IDM-002")
    expect_refused(spt.pay(token.id, 100, bogus_parameter="x"), "SPT-WIRE-004")
    expect_refused(spt.revoke(token.id, as_=spt.seller), "SPT-SEC-006")
    malformed = encode_form(spt.pay_params(token.id, 100)).replace("amount=100", "amount=1.5").encode()
    expect_refused(spt.seller.request("POST", PAYMENT_INTENTS, content=malformed), "SPT-ERR-005")
    if spt.other_seller is not None:
        expect_refused(spt.pay(token.id, 100, as_=spt.other_seller), "SPT-SEC-005")
        expect_refused(spt.revoke(token.id, as_=spt.other_seller), "SPT-SEC-006")
    issued_after, granted_after = spt.views(token.id)
    expect_equal(issued_after, issued_before, "SPT-ERR-007", what="the issued view after the refused requests")
    expect_equal(granted_after, granted_before, "SPT-ERR-007", what="the granted view after the refused requests")


@pytest.mark.requirement("SPT-ERR-008")
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/no_such_resource"),
        ("POST", "/v1/no_such_resource"),
        ("GET", "/v2/shared_payment/issued_tokens"),
        ("GET", ISSUED),  # there is no list of tokens
        ("DELETE", "{issued}"),
        ("PUT", "{issued}"),
        ("PATCH", ISSUED),
        ("POST", "{granted}"),
        ("DELETE", PAYMENT_INTENTS),
        ("POST", "{issued}/no_such_action"),
    ],
)
def test_unknown_path_or_method_is_404_invalid_request_error(spt: Scenario, method: str, path: str) -> None:
    missing = unknown_token_id()
    resolved = path.format(issued=f"{ISSUED}/{missing}", granted=f"{GRANTED}/{missing}")
    exchange = spt.agent.request(method, resolved, idempotency_key=None)
    _not_the_http_layer(exchange, f"{method} {path}")
    expect_error(
        exchange,
        "SPT-ERR-008",
        status=404,
        type="invalid_request_error",
        tip='answer "Unrecognized request URL (METHOD: /path)" for what no operation serves',
    )


@pytest.mark.requirement("SPT-ERR-009")
@pytest.mark.parametrize(
    ("case", "param"),
    [
        ("missing currency", "usage_limits[currency]"),
        ("text max_amount", "usage_limits[max_amount]"),
        ("missing payment_method", "payment_method"),
        ("unknown nested parameter", "usage_limits[bogus]"),
        ("text payment amount", "amount"),
    ],
)
def test_error_about_one_parameter_names_it_in_brackets(spt: Scenario, case: str, param: str) -> None:
    params: dict[str, Any] = spt.issue_params()
    client, path = spt.agent, ISSUED
    if case == "missing currency":
        del params["usage_limits"]["currency"]
    elif case == "text max_amount":
        params["usage_limits"]["max_amount"] = "lots"
    elif case == "missing payment_method":
        del params["payment_method"]
    elif case == "unknown nested parameter":
        params["usage_limits"]["bogus"] = "x"
    else:
        client, path, params = spt.seller, PAYMENT_INTENTS, spt.pay_params(unknown_token_id(), 100)
        params["amount"] = "lots"
    exchange = client.post(path, params)
    error = expect_refused(exchange, "SPT-ERR-009", statuses=(400,))
    expect_equal(error.get("param"), param, "SPT-ERR-009", what="error.param", exchanges=[exchange])


# ------------------------------------------------------------------ the reference codes (D-11)
def _refusal(spt: Scenario, kind: str) -> Exchange:
    if kind == "missing":
        return spt.pay(unknown_token_id(), 100)
    if kind == "expired":
        token = spt.issue(expires_at=spt.clock.now() + spt.clock.lead_time())
        assert token.expires_at is not None
        spt.clock.pass_beyond(token.expires_at)
        return spt.pay(token.id, 100)
    token = spt.issue(max_amount=1000)
    if kind == "over headroom":
        expect_ok(spt.pay(token.id, 300), "SPT-USE-001", object_type="payment_intent")
        return spt.pay(token.id, 800)
    if kind == "currency":
        return spt.pay(token.id, 100, currency="eur")
    if kind == "revoked":
        expect_ok(spt.revoke(token.id), "SPT-REV-001", object_type=ISSUED_OBJECT)
        return spt.pay(token.id, 100)
    if kind == "consumed":
        expect_ok(spt.pay(token.id, 1000), "SPT-USE-009", object_type="payment_intent")
        return spt.pay(token.id, 100)
    assert kind == "not granted to the caller"
    if spt.other_seller is None:
        pytest.skip("the target names no other_seller account")
    return spt.pay(token.id, 100, as_=spt.other_seller)


REFERENCE_CODES: Mapping[str, tuple[int, str, str]] = {
    "over headroom": (400, "amount_too_large", "amount"),
    "currency": (400, "shared_payment_token_currency_mismatch", "currency"),
    "expired": (400, "shared_payment_token_expired", GRANT_PARAM),
    "revoked": (400, "shared_payment_token_deactivated", GRANT_PARAM),
    "consumed": (400, "shared_payment_token_deactivated", GRANT_PARAM),
    # A token named in a parameter: Stripe answers a missing object there with 400 and param set.
    "missing": (400, "resource_missing", GRANT_PARAM),
    "not granted to the caller": (400, "resource_missing", GRANT_PARAM),
}


@pytest.mark.requirement("SPT-ERR-010")
@pytest.mark.uses("SPT-REV-001", "SPT-USE-001", "SPT-USE-009")
@pytest.mark.parametrize("kind", list(REFERENCE_CODES))
def test_refused_use_carries_the_reference_code(spt: Scenario, kind: str) -> None:
    status, code, param = REFERENCE_CODES[kind]
    expect_error(
        _refusal(spt, kind),
        "SPT-ERR-010",
        status=status,
        type="invalid_request_error",
        code=code,
        param=param,
        tip="the codes of spec/DECISIONS.md D-11",
    )
