"""The response-schema check: routes, verdicts for good and bad bodies, registration, and its cost."""

from __future__ import annotations

import json
import time
from typing import Any

import jsonschema
import pytest

from conformance import schema_check
from conformance.checks import REGISTRY, CheckContext, run_checks
from conformance.client import Exchange
from conformance.spec import load_spec

SPEC = load_spec()
ISSUED = {
    "id": "spt_1",
    "object": "shared_payment.issued_token",
    "created": 1,
    "deactivated_at": None,
    "deactivated_reason": None,
    "livemode": False,
    "next_action": None,
    "payment_method": "pm_1",
    "return_url": None,
    "seller_details": {"external_id": None, "network_business_profile": "profile_test_1"},
    "setup_future_usage": None,
    "shared_metadata": {},
    "status": "active",
    "usage_details": {"amount_captured": {"currency": "usd", "value": 0}},
    "usage_limits": {"currency": "usd", "expires_at": None, "max_amount": 1000},
    "use_stripe_sdk": None,
}
ERROR = {"error": {"type": "invalid_request_error", "message": "No such token", "code": "resource_missing"}}


def exchange(method: str, path: str, status: int, body: Any) -> Exchange:
    return Exchange(
        "agent", method, f"http://target.test{path}", {}, "", status, {"Content-Type": "application/json"},
        json.dumps(body), 1.0,
    )  # fmt: skip


def test_find_route_every_operation_by_its_own_path() -> None:
    for operation in SPEC.operations.values():
        path = operation.path.replace("{", "x_").replace("}", "")
        route = schema_check.find_route(operation.method, path + "?expand[0]=a")
        assert route is not None
        assert route.operation_id == operation.operation_id


def test_find_route_prefers_literal_paths_and_ignores_prefixes() -> None:
    advance = schema_check.find_route("POST", "/prefix/v1/test_helpers/shared_payment/clock/advance")
    assert advance is not None
    assert advance.operation_id == "PostTestHelpersSharedPaymentClockAdvance"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nope"),
        ("PUT", "/v1/shared_payment/issued_tokens/spt_1"),
        ("GET", "/v1/shared_payment/issued_tokens/a/b"),
    ],
)
def test_find_route_unknown_operation_is_none(method: str, path: str) -> None:
    assert schema_check.find_route(method, path) is None


def test_schema_problem_conforming_bodies_are_accepted() -> None:
    assert schema_check.schema_problem("GET", "/v1/shared_payment/issued_tokens/spt_1", 200, ISSUED) is None
    assert schema_check.schema_problem("GET", "/v1/shared_payment/issued_tokens/spt_1", 404, ERROR) is None


@pytest.mark.parametrize(
    ("status", "body", "where"),
    [
        (200, {**ISSUED, "deactivated_reason": "stolen"}, "at deactivated_reason: 'stolen' is not one of"),
        (200, {k: v for k, v in ISSUED.items() if k != "usage_limits"}, "'usage_limits' is a required property"),
        (200, {**ISSUED, "usage_details": {"amount_captured": {"currency": "usd", "value": "0"}}}, "usage_details"),
        (400, {"error": {"message": "no type"}}, "response default: at error: 'type' is a required property"),
    ],
)
def test_schema_problem_nonconforming_body_says_where(status: int, body: Any, where: str) -> None:
    problem = schema_check.schema_problem("GET", "/v1/shared_payment/issued_tokens/spt_1", status, body)
    assert problem is not None
    assert where in problem
    assert problem.startswith("GetSharedPaymentIssuedTokensSharedPaymentIssuedToken")


def test_check_registered_under_wire_008_and_reports_through_the_journal() -> None:
    assert REGISTRY["response_schema"].requirement == "SPT-WIRE-008"
    bad = exchange("GET", "/v1/shared_payment/issued_tokens/spt_1", 200, {**ISSUED, "livemode": "no"})
    found = [v for v in run_checks(bad, CheckContext()) if v.requirement == "SPT-WIRE-008"]
    assert len(found) == 1
    assert found[0].exchanges == (bad,)
    assert "livemode" in found[0].received


def test_check_ignores_non_json_and_unknown_paths() -> None:
    text = Exchange("agent", "GET", "http://t/v1/shared_payment/issued_tokens/x", {}, "", 200, {}, "<html>", 1.0)
    unknown = exchange("GET", "/v1/nope", 404, {"nothing": True})
    assert list(schema_check.response_schema(text, CheckContext())) == []
    assert list(schema_check.response_schema(unknown, CheckContext())) == []


def test_fast_and_reference_validators_agree() -> None:
    compiled = schema_check._validator(
        "GET", "/v1/shared_payment/issued_tokens/{shared_payment_issued_token}", 200, "2026-09-30"
    )
    assert compiled is not None
    bodies = [
        ISSUED,
        {**ISSUED, "status": None},
        {**ISSUED, "deactivated_reason": "x"},
        {},
        [],
        {**ISSUED, "created": 1.5},
    ]
    for body in bodies:
        assert compiled.is_valid(body) == compiled.validator.is_valid(body), body
        assert isinstance(compiled.validator, jsonschema.Draft202012Validator)


def test_check_is_cheap_enough_for_every_response() -> None:
    good = exchange("GET", "/v1/shared_payment/issued_tokens/spt_1", 200, ISSUED)
    list(schema_check.response_schema(good, CheckContext()))  # compiled once, then cached
    started = time.perf_counter()
    for _ in range(500):
        assert list(schema_check.response_schema(good, CheckContext())) == []
    # A millisecond a response would be as long as the request itself against the embedded server.
    assert (time.perf_counter() - started) / 500 < 0.001


ISSUED_PATH = "/v1/shared_payment/issued_tokens/spt_1"
GRANTED = {
    "id": "spt_1",
    "object": "shared_payment.granted_token",
    "agent_details": {"network_business_profile": None},
    "created": 1,
    "deactivated_at": None,
    "deactivated_reason": None,
    "livemode": False,
    "payment_method_details": {"type": "card", "billing_details": None},
    "shared_metadata": {},
    "usage_details": {"amount_captured": {"currency": "usd", "value": 0}},
    "usage_limits": {"currency": "usd", "expires_at": None, "max_amount": 1000},
}


@pytest.mark.parametrize(
    ("version", "required"),
    [
        ("2026-04-22.preview", False),
        ("2026-07-28.preview", False),
        ("2026-07-29.preview", True),
        ("2026-10-14.preview; some_beta=v1", True),
        (None, False),
    ],
)
def test_schema_problem_field_added_later_is_required_only_from_its_version(
    version: str | None, required: bool
) -> None:
    without = {k: v for k, v in ISSUED.items() if k != "use_stripe_sdk"}
    problem = schema_check.schema_problem("GET", ISSUED_PATH, 200, without, version)
    assert (problem is not None) == required, problem
    if required:
        assert "'use_stripe_sdk' is a required property" in str(problem)


def test_schema_problem_granted_agent_details_dates_from_2026_05_27() -> None:
    without = {k: v for k, v in GRANTED.items() if k != "agent_details"}
    path = "/v1/shared_payment/granted_tokens/spt_1"
    assert schema_check.schema_problem("GET", path, 200, without, "2026-04-22.preview") is None
    assert "agent_details" in str(schema_check.schema_problem("GET", path, 200, without, "2026-05-27.preview"))
    assert schema_check.schema_problem("GET", path, 200, GRANTED, "2026-05-27.preview") is None


@pytest.mark.parametrize("version", ["2026-04-22.preview", "2026-10-14.preview"])
def test_schema_problem_open_enums_accept_new_values_closed_ones_do_not(version: str) -> None:
    assert schema_check.schema_problem("GET", ISSUED_PATH, 200, {**ISSUED, "status": "paused"}, version) is None
    action = {"type": "some_new_action", "redirect_to_url": None, "use_stripe_sdk": None}
    assert schema_check.schema_problem("GET", ISSUED_PATH, 200, {**ISSUED, "next_action": action}, version) is None
    closed = schema_check.schema_problem("GET", ISSUED_PATH, 200, {**ISSUED, "deactivated_reason": "paused"}, version)
    assert closed is not None
    assert "deactivated_reason" in closed
    assert schema_check.schema_problem("GET", ISSUED_PATH, 200, {**ISSUED, "status": 7}, version) is not None


def test_check_judges_by_the_stripe_version_the_request_sent() -> None:
    without = {k: v for k, v in ISSUED.items() if k != "use_stripe_sdk"}

    def sent(version: str) -> Exchange:
        return Exchange(
            "agent", "GET", f"http://target.test{ISSUED_PATH}", {"Stripe-Version": version}, "", 200,
            {"Content-Type": "application/json"}, json.dumps(without), 1.0,
        )  # fmt: skip

    assert list(schema_check.response_schema(sent("2026-05-27.preview"), CheckContext())) == []
    found = list(schema_check.response_schema(sent("2026-09-30.preview"), CheckContext()))
    assert [v.requirement for v in found] == ["SPT-WIRE-008"]
    assert "2026-09-30.preview" in found[0].expected


def test_version_date_reads_the_date_of_any_version_string() -> None:
    assert schema_check.version_date("2026-05-27.preview; some_beta=v2") == "2026-05-27"
    assert schema_check.version_date("2026-09-30.endive") == "2026-09-30"
    assert schema_check.version_date("latest") is None
    assert schema_check.version_date(None) is None


def test_object_problem_unknown_schema_is_a_usage_error() -> None:
    with pytest.raises(KeyError, match="no schema 'nope'"):
        schema_check.object_problem("nope", {})


def _event(version: str) -> dict[str, Any]:
    return {"object": "event", "id": "evt_1", "api_version": version}


def test_rendered_version_of_events_is_the_oldest_of_sent_and_their_own() -> None:
    sent = "2026-10-14.preview"
    assert schema_check.rendered_version(sent, ISSUED) == sent
    assert schema_check.rendered_version(sent, _event("2026-04-22.preview")) == "2026-04-22.preview"
    listed = {"object": "list", "data": [_event("2026-09-30.preview"), _event("2026-05-27.preview")]}
    assert schema_check.rendered_version(sent, listed) == "2026-05-27.preview"
    assert schema_check.rendered_version("2026-04-22.preview", _event("2026-10-14.preview")) == "2026-04-22.preview"
    assert schema_check.rendered_version(None, _event("2026-10-14.preview")) is None
    assert schema_check.rendered_version(sent, {"object": "list", "data": "oops"}) == sent
