"""Stripe's wire conventions (SPT-WIRE-001..007, 011): how requests are spelled and answers look.

Stripe clients differ in small ways (the SDK sends `expand[0]=`, curl examples `expand[]=`;
some encode brackets as %5B %5D) and a server must take them all. The registered checks already
look at every response's Content-Type, Request-Id and id prefixes; the tests here provoke the
variety on purpose. SPT-WIRE-008..010 (schemas) are the generated contract tests' work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from conformance.client import Exchange, encode_form
from conformance.events import EVENTS, WEBHOOK_ENDPOINTS, EventLog
from conformance.scenario import GRANTED, ISSUED, PAYMENT_INTENTS, Scenario
from conformance.spec import default_spec
from conformance.violation import expect, expect_equal, expect_error, expect_ok

ISSUED_OBJECT = "shared_payment.issued_token"
GRANTED_OBJECT = "shared_payment.granted_token"
# Preview versions on which SPTs are documented. No beta suffix: Stripe refuses a beta the
# account has not been given, so accepting one is not something any server owes the suite.
PREVIEW_VERSIONS = (
    "2026-04-22.preview",
    "2026-05-27.preview",
    "2026-09-30.preview",
    "2026-10-14.preview",
)


def expandable(schema: str) -> list[str]:
    """The x-expandableFields of a response schema that Stripe really expands.

    Stripe's list also names plain sub-hashes (usage_limits, seller_details…), and Stripe refuses
    to expand those ("This property cannot be expanded"). What it expands is a field that holds
    an id or the object (an anyOf of a string and a $ref), or one it returns only when asked (a
    field outside `required`, such as risk_details).
    """
    definition = default_spec().openapi["components"]["schemas"][schema]
    required = set(definition.get("required", ()))
    fields = []
    for name in definition.get("x-expandableFields", []):
        options = definition["properties"][name].get("anyOf", [])
        holds_id = any(option.get("type") == "string" for option in options)
        if holds_id or name not in required:
            fields.append(str(name))
    return fields


# ------------------------------------------------------------------ request encoding
@pytest.mark.requirement("SPT-WIRE-001")
@pytest.mark.parametrize("brackets", ["literal", "percent-encoded"])
def test_form_body_with_nested_brackets_is_accepted(spt: Scenario, brackets: str) -> None:
    params = spt.issue_params(max_amount=1234, shared_metadata={"order": "wire"})
    body = encode_form(params)
    if brackets == "percent-encoded":
        body = body.replace("[", "%5B").replace("]", "%5D")
    exchange = spt.agent.request("POST", ISSUED, content=body.encode())
    token = expect_ok(exchange, "SPT-WIRE-001", object_type=ISSUED_OBJECT)
    echoed = (token.get("usage_limits", {}).get("max_amount"), token.get("shared_metadata"))
    expect_equal(
        echoed,
        (1234, {"order": "wire"}),
        "SPT-WIRE-001",
        what="(usage_limits.max_amount, shared_metadata) read from the nested form",
        exchanges=[exchange],
    )


@pytest.mark.requirement("SPT-WIRE-002")
@pytest.mark.uses("SPT-USE-001")
@pytest.mark.parametrize("style", ["indexed", "brackets"])
def test_expand_array_is_accepted_indexed_and_bracketed(spt: Scenario, style: str) -> None:
    created = spt.agent.post(ISSUED, spt.issue_params(expand=["risk_details"]), array_style=style)
    token = expect_ok(created, "SPT-WIRE-002", object_type=ISSUED_OBJECT)
    intent = expect_ok(spt.pay(str(token["id"]), 100), "SPT-USE-001", object_type="payment_intent")
    two = ["latest_charge", "payment_method"]  # two elements, so that the index or [] matters
    for exchange in (
        spt.agent.get(f"{ISSUED}/{token['id']}", {"expand": ["risk_details"]}, array_style=style),
        spt.seller.get(f"{GRANTED}/{token['id']}", {"expand": ["risk_details"]}, array_style=style),
        spt.seller.get(f"{PAYMENT_INTENTS}/{intent['id']}", {"expand": two}, array_style=style),
    ):
        expect_ok(
            exchange, "SPT-WIRE-002", tip=f"accept expand as {'expand[0]=' if style == 'indexed' else 'expand[]='}"
        )
    body = exchange.body if isinstance(exchange.body, dict) else {}
    expanded = [name for name in two if isinstance(body.get(name), dict)]
    expect_equal(expanded, two, "SPT-WIRE-002", what="PaymentIntent fields expanded", exchanges=[exchange])


# ------------------------------------------------------------------ responses
@pytest.mark.requirement("SPT-WIRE-003")
def test_every_response_is_json(spt: Scenario) -> None:
    token = spt.issue()
    exchanges = [
        spt.issued(token.id),
        spt.granted(token.id),
        spt.pay(token.id, 100),
        spt.agent.get(f"{ISSUED}/spt_missing000000000000"),
        spt.agent.get(f"{ISSUED}/{token.id}", auth="none"),
        spt.agent.get("/v1/no_such_resource"),
        spt.agent.request("POST", ISSUED, content=b"usage_limits[=broken"),
    ]
    for exchange in exchanges:
        content_type = (exchange.header("Content-Type") or "").split(";")[0].strip().lower()
        expect(
            content_type == "application/json" and exchange.body is not None,
            "SPT-WIRE-003",
            received=f"Content-Type {content_type or '(none)'} on {exchange.describe()}",
            expected="application/json with a JSON body, errors included",
            exchanges=[exchange],
        )


@pytest.mark.requirement("SPT-WIRE-004")
@pytest.mark.parametrize("where", ["top level", "nested", "payment", "retrieve"])
def test_unknown_parameter_is_refused_by_name(spt: Scenario, where: str) -> None:
    if where == "top level":
        exchange = spt.agent.post(ISSUED, spt.issue_params(frobnicate="1"))
    elif where == "nested":
        params = spt.issue_params()
        params["usage_limits"]["frobnicate"] = "1"
        exchange = spt.agent.post(ISSUED, params)
    elif where == "payment":
        exchange = spt.pay(spt.issue().id, 100, frobnicate="1")
    else:
        exchange = spt.agent.get(f"{ISSUED}/{spt.issue().id}", {"frobnicate": "1"})
    error = expect_error(exchange, "SPT-WIRE-004", status=400, type="invalid_request_error")
    message = str(error.get("message") or "")
    expect(
        message.startswith("Received unknown parameter"),
        "SPT-WIRE-004",
        received=f"message {message!r}",
        expected='a message beginning "Received unknown parameter"',
        tip="clients (mppx among them) recognise this exact wording",
        exchanges=[exchange],
    )


@pytest.mark.requirement("SPT-WIRE-005")
def test_every_response_carries_a_request_id(spt: Scenario) -> None:
    token = spt.issue()
    exchanges = [
        spt.issued(token.id),
        spt.pay(token.id, 100),
        spt.revoke(token.id),
        spt.revoke(token.id),
        spt.agent.get(f"{ISSUED}/{token.id}", auth="none"),
        spt.agent.get("/v1/no_such_resource"),
    ]
    seen: set[str] = set()
    for exchange in exchanges:
        request_id = (exchange.header("Request-Id") or "").strip()
        expect(
            bool(request_id) and request_id not in seen,
            "SPT-WIRE-005",
            received=f"Request-Id {request_id!r} on {exchange.describe()}",
            expected="a Request-Id on every response, a new one each time",
            exchanges=[exchange],
        )
        seen.add(request_id)


@pytest.mark.requirement("SPT-WIRE-006")
@pytest.mark.parametrize("version", PREVIEW_VERSIONS)
def test_preview_stripe_version_is_accepted(spt: Scenario, version: str) -> None:
    headers = {"Stripe-Version": version}
    created = spt.agent.post(ISSUED, spt.issue_params(), headers=headers)
    token = expect_ok(
        created,
        "SPT-WIRE-006",
        object_type=ISSUED_OBJECT,
        tip="accept every preview version on which SPTs are documented",
    )
    expect_ok(spt.seller.get(f"{GRANTED}/{token['id']}", headers=headers), "SPT-WIRE-006", object_type=GRANTED_OBJECT)
    paid = spt.seller.post(PAYMENT_INTENTS, spt.pay_params(str(token["id"]), 100), headers=headers)
    expect_ok(paid, "SPT-WIRE-006", object_type="payment_intent")


@pytest.mark.requirement("SPT-WIRE-007")
@pytest.mark.uses("SPT-EVT-010", "SPT-EVT-012", "SPT-USE-001", "SPT-USE-017")
def test_object_ids_carry_stripe_prefixes(spt: Scenario, events: EventLog) -> None:
    token = spt.issue()
    exchange = spt.pay(token.id, 300, expand=["latest_charge", "payment_method"])
    intent = expect_ok(exchange, "SPT-USE-001", object_type="payment_intent")
    charge = intent.get("latest_charge")
    clone = intent.get("payment_method")
    refund = expect_ok(
        spt.seller.post("/v1/refunds", {"payment_intent": intent["id"]}), "SPT-USE-017", object_type="refund"
    )
    found: list[tuple[str, Any, str]] = [
        ("token", token.id, "spt_"),
        ("the agent's payment_method", token.issued.get("payment_method"), "pm_"),
        ("PaymentIntent", intent.get("id"), "pi_"),
        ("charge", charge.get("id") if isinstance(charge, Mapping) else charge, "ch_"),
        ("clone", clone.get("id") if isinstance(clone, Mapping) else clone, "pm_"),
        ("refund", refund.get("id"), "re_"),
    ]
    if spt.target.has("events"):
        listed = expect_ok(spt.agent.get(EVENTS, {"limit": 1}), "SPT-EVT-012", object_type="list")
        found += [("event", e.get("id"), "evt_") for e in listed.get("data") or []]
    if spt.target.has("webhook_endpoints"):
        listed = expect_ok(spt.agent.get(WEBHOOK_ENDPOINTS, {"limit": 3}), "SPT-EVT-010", object_type="list")
        found += [("webhook endpoint", e.get("id"), "we_") for e in listed.get("data") or []]
    for what, identifier, prefix in found:
        expect(
            isinstance(identifier, str) and identifier.startswith(prefix),
            "SPT-WIRE-007",
            received=f"the {what} id {identifier!r}",
            expected=f"an id starting with {prefix}",
        )


# ------------------------------------------------------------------ expand
def _expanded(spt: Scenario, resource: str, field: str) -> Exchange:
    token = spt.issue()
    if resource == ISSUED_OBJECT:
        return spt.agent.get(f"{ISSUED}/{token.id}", {"expand": [field]})
    if resource == GRANTED_OBJECT:
        return spt.seller.get(f"{GRANTED}/{token.id}", {"expand": [field]})
    intent = expect_ok(spt.pay(token.id, 100), "SPT-USE-001", object_type="payment_intent")
    return spt.seller.get(f"{PAYMENT_INTENTS}/{intent['id']}", {"expand": [field]})


EXPANSIONS = [
    (resource, field)
    for resource in (ISSUED_OBJECT, GRANTED_OBJECT, "payment_intent")
    for field in expandable(resource)
]


@pytest.mark.requirement("SPT-WIRE-011")
@pytest.mark.uses("SPT-USE-001")
@pytest.mark.parametrize(("resource", "field"), EXPANSIONS)
def test_expand_of_each_expandable_field_is_accepted(spt: Scenario, resource: str, field: str) -> None:
    exchange = _expanded(spt, resource, field)
    body = expect_ok(exchange, "SPT-WIRE-011", object_type=resource, tip=f"Stripe expands {field} of {resource}")
    value = body.get(field)
    if resource == "payment_intent" and value is not None:
        expect(
            isinstance(value, Mapping) and isinstance(value.get("id"), str),
            "SPT-WIRE-011",
            received=f"{field} = {value!r}",
            expected=f"the expanded {field} object, not its id",
            exchanges=[exchange],
        )


@pytest.mark.requirement("SPT-WIRE-011")
@pytest.mark.uses("SPT-USE-001")
@pytest.mark.parametrize("resource", [ISSUED_OBJECT, GRANTED_OBJECT, "payment_intent"])
@pytest.mark.parametrize("field", ["no_such_field", "usage_limits.no_such_field"])
def test_expand_of_an_unknown_field_is_refused(spt: Scenario, resource: str, field: str) -> None:
    exchange = _expanded(spt, resource, field)
    expect_error(
        exchange,
        "SPT-WIRE-011",
        status=400,
        type="invalid_request_error",
        tip="refuse an expansion that names no expandable field",
    )


@pytest.mark.requirement("SPT-WIRE-012")
@pytest.mark.parametrize("method", ["PUT", "PATCH", "OPTIONS"])
def test_request_refused_before_the_api_still_gets_a_request_id_and_a_stripe_error(spt: Scenario, method: str) -> None:
    exchange = spt.agent.request(method, ISSUED, idempotency_key=None)
    request_id = (exchange.header("Request-Id") or "").strip()
    error = exchange.error
    expect(
        exchange.status >= 400 and bool(request_id) and error is not None and isinstance(error.get("type"), str),
        "SPT-WIRE-012",
        received=f"{exchange.status} {exchange.header('Content-Type') or '(no Content-Type)'}, "
        f"Request-Id {request_id or '(none)'}: {exchange.response_text[:120]!r}",
        expected=f"a refusal of {method} with a Request-Id header and a Stripe error body",
        tip="route every method to the API (a catch-all answering 404 or 405 with an error object)",
        exchanges=[exchange],
    )
