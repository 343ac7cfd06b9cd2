"""Answers of the HTTP layer are judged by SPT-WIRE-012 alone; the checks of the API's contract
count as evidence only on the exchanges they are about."""

from __future__ import annotations

import json

import pytest

from conformance.checks import REGISTRY, CheckContext, answered_json, run_checks, transport_answer
from conformance.client import Exchange

HTML = "<html><body><h1>501 Not Implemented</h1></body></html>"
STRIPE_ERROR = json.dumps({"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}})
CONTRACT = {"SPT-ERR-001", "SPT-ERR-004", "SPT-ERR-006", "SPT-WIRE-003", "SPT-WIRE-005", "SPT-WIRE-009"}


def exchange(method: str, status: int, text: str, *, request_id: bool, content_type: str) -> Exchange:
    headers = {"Content-Type": content_type, **({"Request-Id": "req_1"} if request_id else {})}
    return Exchange("agent", method, "http://t/v1/shared_payment/issued_tokens", {}, "", status, headers, text, 1.0)


@pytest.mark.parametrize(
    ("method", "status", "text", "request_id", "transport"),
    [
        ("TRACE", 501, HTML, False, True),
        ("PUT", 405, "Method Not Allowed", False, True),
        ("POST", 413, "Request Entity Too Large", False, True),
        ("GET", 414, HTML, True, True),  # a Request-Id, but no Stripe error body
        ("PUT", 405, STRIPE_ERROR, True, False),  # the API answered it
        ("POST", 501, HTML, False, False),  # a method of the API: a server error, the contract's
        ("GET", 404, HTML, False, False),
    ],
)
def test_transport_answer_is_recognised(method: str, status: int, text: str, request_id: bool, transport: bool) -> None:
    assert (
        transport_answer(exchange(method, status, text, request_id=request_id, content_type="text/html")) is transport
    )


def test_error_contract_leaves_a_transport_answer_to_wire_012() -> None:
    found = run_checks(exchange("TRACE", 501, HTML, request_id=False, content_type="text/html"), CheckContext())
    assert {v.requirement for v in found} == {"SPT-WIRE-012"}


def test_the_same_answer_to_a_method_of_the_api_breaks_the_error_contract() -> None:
    found = run_checks(exchange("POST", 501, HTML, request_id=False, content_type="text/html"), CheckContext())
    assert {v.requirement for v in found} >= {"SPT-ERR-004", "SPT-WIRE-003", "SPT-WIRE-005"}
    assert "SPT-WIRE-012" not in {v.requirement for v in found}


def test_a_page_or_an_empty_object_is_evidence_for_no_check_of_the_api() -> None:
    for text in (HTML, "{}"):
        page = exchange("GET", 200, text, request_id=True, content_type="application/json")
        assert not answered_json(page)
        about = {c.requirement for c in REGISTRY.values() if c.applies(page)}
        assert about.isdisjoint(CONTRACT | {"SPT-WIRE-008", "SPT-SEC-008", "SPT-SEC-010", "SPT-WIRE-007"})
