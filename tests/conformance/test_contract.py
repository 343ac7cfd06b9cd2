"""The contract tests: they fail broken fakes with the right requirements, and stay safe and meaningful."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
import pytest

from conformance.checks import CheckContext, run_checks
from conformance.client import Journal, StripeClient
from conformance.clock import Clock
from conformance.contract.cases import _small
from conformance.contract.operations import (
    CHECKS,
    _for_generation,
    all_operation_ids,
    operation_needs,
    run_operation,
)
from conformance.scenario import Scenario
from conformance.spec import load_spec
from conformance.suite.test_contract import SMOKE_OPERATION
from conformance.target import target_from_mapping
from conformance.violation import Violation

SPEC = load_spec()
Handler = Callable[[httpx.Request], httpx.Response]
TOKEN = {
    "id": "spt_real",
    "object": "shared_payment.issued_token",
    "created": 1,
    "deactivated_at": None,
    "deactivated_reason": None,
    "livemode": False,
    "next_action": None,
    "payment_method": "pm_1",
    "seller_details": {"external_id": None, "network_business_profile": "profile_test_seller"},
    "setup_future_usage": None,
    "shared_metadata": {},
    "status": "active",
    "usage_details": {"amount_captured": {"currency": "usd", "value": 0}},
    "usage_limits": {"currency": "usd", "expires_at": None, "max_amount": 1000},
    "use_stripe_sdk": None,
}
CLOCK = {"object": "test_helpers.shared_payment.clock", "now": 1_800_000_000}


def respond(status: int, body: Any, content_type: str = "application/json") -> httpx.Response:
    text = json.dumps(body) if content_type == "application/json" else str(body)
    return httpx.Response(status, content=text.encode(), headers={"Content-Type": content_type, "Request-Id": "req_1"})


def refuse(message: str = "bad", status: int = 400) -> httpx.Response:
    return respond(status, {"error": {"type": "invalid_request_error", "message": message}})


def contract(
    handler: Handler,
    operation_id: str,
    *,
    examples: int | None = 3,
    quick: bool = True,
    checked: bool = False,
    seed: int = 3,
) -> tuple[set[str], Journal]:
    target = target_from_mapping(
        {
            "base_url": "http://fake.test",
            "agent": {"secret_key": "sk_test_agent000"},
            "seller": {"secret_key": "sk_test_seller00", "network_business_profile": "profile_test_seller"},
            "capabilities": {"clock": True, "webhook_endpoints": True, "events": True, "test_helpers": True},
        },
        environ={},
    )
    context = CheckContext()
    journal = Journal(inspect=lambda exchange: run_checks(exchange, context)) if checked else Journal()
    http = httpx.Client(base_url=target.base_url, transport=httpx.MockTransport(handler))
    agent, seller = StripeClient(http, target.agent, journal), StripeClient(http, target.seller, journal)
    spt = Scenario(target, agent, seller, None, Clock(agent, extension=True, max_wait=1))
    result = run_operation(
        SPEC, operation_id, spt, {"agent": agent, "seller": seller}, seed=seed, max_examples=examples, quick=quick
    )
    assert result.cases > 0
    return {v.requirement for v in result.found()}, journal


def faithful_clock(request: httpx.Request) -> httpx.Response:
    """The clock extension, refusing whatever its schema refuses."""
    if request.method == "GET":
        return respond(200, CLOCK)
    form = parse_qsl(request.content.decode(), keep_blank_values=True)
    if [k for k, _ in form] != ["seconds"] or not form[0][1].isdigit() or int(form[0][1]) < 1:
        return refuse("seconds must be a positive integer.")
    return respond(200, CLOCK)


def test_contract_faithful_clock_passes() -> None:
    found, _ = contract(faithful_clock, "PostTestHelpersSharedPaymentClockAdvance", quick=False)
    assert found == set()


def test_contract_server_error_fails_err_004() -> None:
    found, _ = contract(
        lambda request: respond(500, {"error": {"type": "api_error", "message": "boom"}}),
        "GetTestHelpersSharedPaymentClock",
    )
    assert "SPT-ERR-004" in found


def test_contract_body_breaking_the_schema_fails_wire_008_through_the_registered_check() -> None:
    # The registered, version-aware check judges contract exchanges like any other; Schemathesis's
    # own schema check (latest version, closed enums) is not used.
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and "/issued_tokens/" in request.url.path:
            return respond(200, {"id": "spt_real", "object": "shared_payment.issued_token", "status": "active"})
        return respond(200, TOKEN) if request.url.path.endswith("issued_tokens") else refuse()

    found, journal = contract(handler, "GetSharedPaymentIssuedTokensSharedPaymentIssuedToken", checked=True)
    assert "SPT-WIRE-008" not in found
    assert "SPT-WIRE-008" in {finding.requirement for finding in journal.findings if isinstance(finding, Violation)}


def test_contract_plain_text_answer_fails_wire_003() -> None:
    found, _ = contract(lambda request: respond(404, "Not Found", "text/plain"), "GetTestHelpersSharedPaymentClock")
    assert "SPT-WIRE-003" in found


def test_contract_accepting_bad_input_fails_wire_010() -> None:
    found, _ = contract(lambda request: respond(200, CLOCK), "PostTestHelpersSharedPaymentClockAdvance", quick=False)
    assert found == {"SPT-WIRE-010"}


@pytest.mark.parametrize("seed", range(1, 7))
def test_quick_profile_contract_operation_reaches_wire_010_on_any_seed(seed: int) -> None:
    """The --quick profile keeps one contract test, with two examples: its operation must always
    draw a schema-breaking request, or SPT-WIRE-010 is left UNVERIFIED on some seeds."""
    assert SMOKE_OPERATION in all_operation_ids(SPEC)
    found, _ = contract(lambda request: respond(200, TOKEN), SMOKE_OPERATION, examples=None, seed=seed)
    assert "SPT-WIRE-010" in found


def test_contract_clock_is_never_moved_more_than_a_second() -> None:
    seconds: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            seconds.extend(
                v for k, v in parse_qsl(request.content.decode(), keep_blank_values=True) if k.startswith("seconds")
            )
        return faithful_clock(request)

    contract(handler, "PostTestHelpersSharedPaymentClockAdvance", examples=20, quick=False)
    numeric = [float(v) for v in seconds if v.replace(".", "", 1).lstrip("-").isdigit()]
    assert numeric
    assert max(numeric) <= 1


def test_contract_webhook_urls_stay_on_loopback_and_endpoints_are_deleted() -> None:
    urls: list[str] = []
    created: list[str] = []
    deleted: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        identifier = request.url.path.rsplit("/", 1)[1]
        if request.method == "DELETE" and identifier.startswith("we_"):
            deleted.append(identifier)
            return respond(200, {"id": identifier, "object": "webhook_endpoint", "deleted": True})
        form = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
        urls.extend(v for k, v in form.items() if k == "url")
        if "url" not in form or "enabled_events[0]" not in form:
            return refuse()
        created.append(f"we_{len(created)}")
        endpoint: dict[str, Any] = {
            "id": created[-1], "object": "webhook_endpoint", "api_version": None, "application": None, "created": 1,
            "description": None, "enabled_events": ["*"], "livemode": False, "metadata": {}, "status": "enabled",
            "url": form["url"], "secret": "whsec_abcdefghijkl",
        }  # fmt: skip
        return respond(200, endpoint)

    contract(handler, "PostWebhookEndpoints", examples=10, quick=False)
    absolute = [u for u in urls if u.lower().startswith(("http://", "https://", "//"))]
    assert absolute
    assert all(urlsplit(u).hostname == "127.0.0.1" for u in absolute)
    assert created
    assert sorted(deleted) == sorted(created)


def test_contract_positive_cases_use_real_ids_and_bracket_encoding() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.method == "POST" and request.url.path == "/v1/shared_payment/issued_tokens":
            return respond(200, TOKEN)
        if request.method == "POST" and request.url.path == "/v1/payment_intents":
            return refuse("no")
        return refuse("no such token", 404)

    contract(handler, "PostPaymentIntents", examples=5)
    payments = [dict(parse_qsl(r.content.decode())) for r in sent if r.url.path == "/v1/payment_intents"]
    assert any(p.get("payment_method_data[shared_payment_granted_token]") == "spt_real" for p in payments)
    keys = {k for p in payments for k in p}
    assert "payment_method_data" not in keys
    assert not any(k.startswith("{") for k in keys)
    assert all("[" not in unquote(r.url.path) for r in sent)


def test_operation_needs_follow_capabilities() -> None:
    assert operation_needs(SPEC, "PostTestHelpersSharedPaymentClockAdvance") == {"clock"}
    assert operation_needs(SPEC, "PostTestHelpersSharedPaymentGrantedTokens") == {"test_helpers"}
    assert operation_needs(SPEC, "GetEventsId") == {"events"}
    assert operation_needs(SPEC, "DeleteWebhookEndpointsWebhookEndpoint") == {"webhook_endpoints"}
    assert operation_needs(SPEC, "PostPaymentIntents") == frozenset()
    assert set(all_operation_ids(SPEC)) == set(SPEC.operations)


def test_for_generation_drops_get_bodies_and_long_pattern_bounds() -> None:
    document = _for_generation(SPEC.openapi)
    paths = document["paths"]
    assert "requestBody" not in paths["/v1/shared_payment/granted_tokens/{shared_payment_granted_token}"]["get"]
    assert "requestBody" in paths["/v1/shared_payment/issued_tokens"]["post"]
    items = paths["/v1/webhook_endpoints"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    assert "maxLength" not in items["schema"]["properties"]["enabled_events"]["items"]
    assert SPEC.openapi["paths"]["/v1/webhook_endpoints"]["post"] is not paths["/v1/webhook_endpoints"]["post"]


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        (86400, 1),
        (1, 1),
        (0, 0),
        (-5, -5),
        (1e9, 0.5),
        ("99999", "0.5"),
        ("abc", "abc"),
        ([7200], [1]),
        ({"a": 50}, {"a": 1}),
        (True, True),
    ],
)
def test_small_seconds_never_exceed_one(value: Any, safe: Any) -> None:
    assert _small(value) == safe


def test_checks_map_to_catalogued_requirements() -> None:
    assert set(CHECKS.values()) <= {r.id for r in SPEC.catalogue}
