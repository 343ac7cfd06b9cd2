"""Checks that run on every exchange of every test.

Some requirements hold for every response (a Request-Id, a Stripe-shaped error, no card number,
no secret, no 5xx). Rather than trust each test to remember them, each is a small registered
function: the journal of every test hands it each exchange, and whatever it finds is reported
against its own requirement, not the test's.

Rules of this file: a check is a plain function `(exchange, context) -> violations`, registered
with `@check(name, requirement, applies=...)`; names and requirement IDs are never changed once
published. `applies` says which exchanges the check is about (by default, answers with a JSON
body): a check held in a test only if the test made such an exchange, so a server that answers
every request with an HTML page passes none of them by default.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from conformance.cardscan import find_card_data
from conformance.client import Exchange
from conformance.schema_check import response_schema
from conformance.scrub import SECRET, find_secrets
from conformance.violation import STRIPE_ERROR_TYPES, Violation

__all__ = [
    "REGISTRY",
    "CheckContext",
    "RegisteredCheck",
    "answered_json",
    "check",
    "run_checks",
    "transport_answer",
]

ID_PREFIXES = {
    "shared_payment.issued_token": "spt_",
    "shared_payment.granted_token": "spt_",
    "payment_method": "pm_",
    "payment_intent": "pi_",
    "charge": "ch_",
    "refund": "re_",
    "event": "evt_",
    "webhook_endpoint": "we_",
}
_TRACE = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+|\bat [\w.$]+\([\w$]+\.(?:java|kt|scala):\d+\)"
    r"|site-packages/|node_modules/|goroutine \d+ \[|panicked at "
)


@dataclass
class CheckContext:
    """What the checks learn as the run goes: secrets to look for, ids the seller must not see."""

    secrets: set[str] = field(default_factory=set)
    agent_payment_methods: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def learn(self, exchange: Exchange) -> None:
        body = exchange.body
        if not isinstance(body, dict):
            return
        for obj in _objects(body):
            kind = obj.get("object")
            if kind == "shared_payment.issued_token" and exchange.actor == "agent":
                # A test shortcut (pm_card_visa) names a card any account may use, not the agent's
                # PaymentMethod; Stripe answers with the concrete pm_ it made from it.
                if isinstance(obj.get("payment_method"), str) and not obj["payment_method"].startswith("pm_card_"):
                    with self._lock:
                        self.agent_payment_methods.add(obj["payment_method"])
            elif kind == "webhook_endpoint" and isinstance(obj.get("secret"), str):
                with self._lock:
                    self.secrets.add(obj["secret"])


CheckFunction = Callable[[Exchange, CheckContext], Iterable[Violation]]


def answered_json(exchange: Exchange) -> bool:
    """An answer of a Stripe-shaped API: a JSON object that is an `object` or an `error` (what most
    checks are about; a proxy's page or an empty `{}` proves nothing about them)."""
    body = exchange.body
    return isinstance(body, dict) and (isinstance(body.get("object"), str) or isinstance(body.get("error"), dict))


@dataclass(frozen=True)
class RegisteredCheck:
    name: str
    requirement: str
    function: CheckFunction
    applies: Callable[[Exchange], bool] = answered_json  # the exchanges the check is about


REGISTRY: dict[str, RegisteredCheck] = {}


def check(
    name: str, requirement: str, *, applies: Callable[[Exchange], bool] = answered_json
) -> Callable[[CheckFunction], CheckFunction]:
    def register(function: CheckFunction) -> CheckFunction:
        if name in REGISTRY:
            raise ValueError(f"check {name!r} is registered twice")
        REGISTRY[name] = RegisteredCheck(name, requirement, function, applies)
        return function

    return register


def run_checks(exchange: Exchange, context: CheckContext) -> list[Violation]:
    """Every registered check on one exchange; what they find, in registry order."""
    context.learn(exchange)
    found: list[Violation] = []
    for registered in REGISTRY.values():
        found.extend(registered.function(exchange, context))
    return found


def _objects(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in a body, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def _violation(requirement: str, exchange: Exchange, received: str, expected: str, tip: str = "") -> Violation:
    return Violation(requirement, received=received, expected=expected, tip=tip, exchanges=[exchange])


API_METHODS = frozenset({"GET", "POST", "DELETE"})
# What an HTTP stack in front of an API answers by itself: a method it does not route, a head or a
# body over its limit.
TRANSPORT_STATUSES = frozenset({405, 413, 414, 501})


def transport_answer(exchange: Exchange) -> bool:
    """An answer of the HTTP layer rather than the API: 405/413/414/501 without a Request-Id or
    without a Stripe error body (405 and 501 only for a method other than GET, POST and DELETE).
    Such answers are judged by SPT-WIRE-012 alone, not by the error contract."""
    if exchange.status not in TRANSPORT_STATUSES:
        return False
    if exchange.status in (405, 501) and exchange.method.upper() in API_METHODS:
        return False
    return not (exchange.header("Request-Id") or "").strip() or exchange.error is None


def _api_answer(check: CheckFunction) -> CheckFunction:
    """A check of the error contract: silent on an answer of the HTTP layer (SPT-WIRE-012's)."""

    def judged(exchange: Exchange, context: CheckContext) -> Iterable[Violation]:
        return () if transport_answer(exchange) else check(exchange, context)

    judged.__name__ = check.__name__
    judged.__doc__ = check.__doc__
    return judged


@check("not_a_server_error", "SPT-ERR-004")
@_api_answer
def not_a_server_error(exchange: Exchange, context: CheckContext) -> Iterable[Violation]:
    if exchange.status >= 500:
        yield _violation(
            "SPT-ERR-004",
            exchange,
            f"{exchange.status} {exchange.response_text[:200]}",
            "a 2xx or a 4xx: no request, however malformed, may cause a server error",
            "validate the request before acting on it, and answer 400 with a Stripe error for what cannot be parsed",
        )


@check("request_id", "SPT-WIRE-005")
@_api_answer
def request_id(exchange: Exchange, context: CheckContext) -> Iterable[Violation]:
    if not (exchange.header("Request-Id") or "").strip():
        yield _violation(
            "SPT-WIRE-005",
            exchange,
            f"no Request-Id header on a {exchange.status} response",
            "a Request-Id header (req_…) on every response, errors included",
        )


# 200 and the error statuses of Stripe's error reference; 413 for an oversized body (D-34).
DOCUMENTED_STATUSES = frozenset({200, 400, 401, 402, 403, 404, 409, 413, 424, 429})


@check("documented_status", "SPT-WIRE-009")
@_api_answer
def documented_status(exchange: Exchange, context: CheckContext) -> Iterable[Violation]:
    if exchange.status < 500 and exchange.status not in DOCUMENTED_STATUSES:
        yield _violation(
            "SPT-WIRE-009",
            exchange,
            f"status {exchange.status}",
            f"200 or one of Stripe's error statuses ({', '.join(str(s) for s in sorted(DOCUMENTED_STATUSES - {200}))})",
            "Stripe clients map statuses to error classes; an unexpected one (201, 204, 422…) breaks them",
        )


@check("json_body", "SPT-WIRE-003")
@_api_answer
def json_body(exchange: Exchange, context: CheckContext) -> Iterable[Violation]:
    content_type = (exchange.header("Content-Type") or "").split(";")[0].strip().lower()
    if content_type != "application/json" or exchange.body is None:
        yield _violation(
            "SPT-WIRE-003",
            exchange,
            f"Content-Type {content_type or '(none)'}, body {'not ' if exchange.body is None else ''}JSON",
            "Content-Type: application/json and a JSON body",
        )


@check("error_shape", "SPT-ERR-001", applies=lambda e: e.status >= 400 and answered_json(e) and not transport_answer(e))
@_api_answer
def error_shape(exchange: Exchange, context: CheckContext) -> Iterable[Violation]:
    if exchange.status < 400:
        return
    error = exchange.error
    if error is None or error.get("type") not in STRIPE_ERROR_TYPES or not isinstance(error.get("message"), str):
        yield _violation(
            "SPT-ERR-001",
            exchange,
            exchange.response_text[:300] or "(empty body)",
            f'{{"error": {{"type": one of {", ".join(STRIPE_ERROR_TYPES)}, "message": "...", ...}}}}',
            "errors use Stripe's error object so that every Stripe client can read them",
        )


@check("no_stack_trace", "SPT-ERR-006", applies=lambda e: e.status >= 400 and not transport_answer(e))
@_api_answer
def no_stack_trace(exchange: Exchange, context: CheckContext) -> Iterable[Violation]:
    if exchange.status >= 400 and (match := _TRACE.search(exchange.response_text)):
        yield _violation(
            "SPT-ERR-006",
            exchange,
            f"the error body contains {match.group()!r}",
            "an error message for the caller, with no stack trace, file path or internal exception text",
        )


@check("no_card_data", "SPT-SEC-008")
def no_card_data(exchange: Exchange, context: CheckContext) -> Iterable[Violation]:
    for finding in find_card_data(exchange.response_text):
        echoed = (
            " (an echo of a value the request carried)"
            if finding.kind == "card number" and finding.value in exchange.request_body
            else ""
        )
        yield _violation(
            "SPT-SEC-008",
            exchange,
            f"a {finding.kind} ({finding.hint}) in the response body{echoed}",
            "no full card number and no CVC in any response",
            "share only brand, last4 and expiry; refuse parameters that carry card numbers",
        )


@check("no_secrets", "SPT-SEC-010")
def no_secrets(exchange: Exchange, context: CheckContext) -> Iterable[Violation]:
    creation = exchange.method == "POST" and exchange.path.rstrip("/") == "/v1/webhook_endpoints"
    with context._lock:
        known = list(context.secrets)
    for finding in find_secrets(exchange.response_text, known):
        value = exchange.response_text[finding.start : finding.end]
        if creation and value.startswith("whsec_"):
            continue  # the one place a webhook secret belongs: the creation response
        if value.startswith("whsec_") or SECRET.fullmatch(value) or value in known:
            yield _violation(
                "SPT-SEC-010",
                exchange,
                f"a secret ({finding.hint}) in the response body",
                "no secret key in any response; a webhook secret only in its endpoint's creation response",
            )


@check("test_mode", "SPT-SEC-012")
def test_mode(exchange: Exchange, context: CheckContext) -> Iterable[Violation]:
    for obj in _objects(exchange.body):
        if obj.get("livemode") is True:
            yield _violation(
                "SPT-SEC-012",
                exchange,
                f"{obj.get('object', 'an object')} {obj.get('id', '')} with livemode true",
                "livemode false on everything created or read with a test-mode key",
            )
            return


def _names_ids(exchange: Exchange) -> bool:
    return any(str(obj.get("object")) in ID_PREFIXES and "id" in obj for obj in _objects(exchange.body))


@check("id_prefixes", "SPT-WIRE-007", applies=_names_ids)
def id_prefixes(exchange: Exchange, context: CheckContext) -> Iterable[Violation]:
    for obj in _objects(exchange.body):
        prefix = ID_PREFIXES.get(str(obj.get("object")))
        identifier = obj.get("id")
        if prefix and isinstance(identifier, str) and not identifier.startswith(prefix) and not obj.get("deleted"):
            yield _violation(
                "SPT-WIRE-007",
                exchange,
                f"{obj['object']} with id {identifier!r}",
                f"a {obj['object']} id starting with {prefix}",
            )


@check("original_payment_method_hidden", "SPT-SEC-009", applies=lambda e: e.actor != "agent" and answered_json(e))
def original_payment_method_hidden(exchange: Exchange, context: CheckContext) -> Iterable[Violation]:
    if exchange.actor == "agent":
        return
    with context._lock:
        originals = [pm for pm in context.agent_payment_methods if pm in exchange.response_text]
    for payment_method in originals:
        yield _violation(
            "SPT-SEC-009",
            exchange,
            f"the agent's PaymentMethod {payment_method} in a response to the {exchange.actor}",
            "the seller sees only its own clone of the PaymentMethod, never the agent's original id",
        )


@check("transport_answer", "SPT-WIRE-012", applies=lambda e: e.method.upper() not in API_METHODS or transport_answer(e))
def transport_answer_is_stripe_shaped(exchange: Exchange, context: CheckContext) -> Iterable[Violation]:
    if transport_answer(exchange):
        yield _violation(
            "SPT-WIRE-012",
            exchange,
            f"{exchange.status} {(exchange.header('Content-Type') or '(no Content-Type)')} "
            f"{'with' if (exchange.header('Request-Id') or '').strip() else 'without'} a Request-Id: "
            f"{exchange.response_text[:120]!r}",
            "a Request-Id and a Stripe error body even for what the HTTP layer refuses "
            "(a method other than GET/POST/DELETE, a head or body over the limit)",
            "let the API answer these (a catch-all route), or have the proxy add a Request-Id and a JSON error body",
        )


# Checks that live in modules of their own, registered here so the registry is complete once this
# module is imported.
check("response_schema", "SPT-WIRE-008", applies=lambda exchange: exchange.status == 200 and answered_json(exchange))(
    response_schema
)
