"""Contract tests: Schemathesis over `spec/openapi.yaml`, every operation, sent through our client.

Theory of operation. Schemathesis generates cases for one operation in three phases: the
examples written in the spec, coverage (boundary values and each way to break the schema) and
fuzzing, with positive and negative data. Each case goes through the one client seam
(`StripeClient.request`), so it is journaled and checked by `conformance.checks` like any other
exchange, authenticated as the operation's `x-spt-actor` (`any` is the agent). Form bodies are
bracket-encoded as Stripe reads them (`a[b]=`, `a[0]=`), which Schemathesis's own form encoder does
not do. The response is then put to five of Schemathesis's checks, each mapped to the
requirement it proves (`CHECKS`); what they find becomes `Violation`s, one per requirement and
kind of failure.

Meaningful positive data: ids and references in a positive part of a case are replaced by real
objects made for the operation (`Fixtures`): a token granted to the seller, a succeeded payment
(its PaymentIntent, the seller's PaymentMethod clone, its charge), an unconfirmed PaymentIntent, a
webhook endpoint, an event; seller profiles and payment methods come from the target. Without
that, nearly every positive case would be a 404.

Safety, whatever the case (positive or negative): `seconds` never asks the shared clock to move
by more than one second, and a `url` that could reach anywhere is replaced by one that reaches
nothing (a path no one registered on the run's receiver when the target reaches it through
--spt-public-url, else a loopback port nothing listens on); endpoints the operation's cases
create are deleted at the end.

Left out: Schemathesis's `positive_data_acceptance`. The schema cannot say that a token is
already revoked or used up, that an amount exceeds the remaining headroom, that both spellings of
a recurring limit or of the seller profile may not be combined (D-05, D-16), or that an
`expires_at` must be in the future (D-24); a schema-valid request is refused for such reasons
all the time, so the check would only report the server being right.

GET operations: Stripe's fragments declare an empty form body even on GET; HTTP gives a GET body
no meaning, so those bodies are dropped before generation (a server may ignore them).
"""

from __future__ import annotations

import copy
import functools
import random
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from hypothesis import strategies as st

from conformance.client import Exchange, StripeClient, encode_form
from conformance.scenario import Scenario
from conformance.spec import HTTP_METHODS, Spec
from conformance.violation import Violation

__all__ = [
    "CHECKS",
    "CURRENCIES",
    "ContractResult",
    "Fixtures",
    "contract_schema",
    "operation_needs",
    "run_operation",
]

# Schemathesis check -> the requirement it proves. Never renamed once published.
CHECKS: Mapping[str, str] = {
    "not_a_server_error": "SPT-ERR-004",
    "response_schema_conformance": "SPT-WIRE-008",
    "status_code_conformance": "SPT-WIRE-009",
    "content_type_conformance": "SPT-WIRE-003",
    "negative_data_rejection": "SPT-WIRE-010",
}
_EXPECTED = {
    "SPT-ERR-004": "a 2xx or a 4xx, never a server error",
    "SPT-WIRE-008": "a body that conforms to the response schema of spec/openapi.yaml",
    "SPT-WIRE-009": "a status code the operation documents",
    "SPT-WIRE-003": "Content-Type application/json, as documented",
    "SPT-WIRE-010": "a 4xx: the request breaks the operation's schema",
}
# Realistic ISO 4217 codes for the `currency` format.
CURRENCIES = ("usd", "eur", "gbp", "jpy", "cad", "aud", "chf", "sek", "nzd", "mxn")
FORM = "application/x-www-form-urlencoded"
# Operations that exist only on targets offering a capability, by path prefix.
_CAPABILITY_PATHS = (
    ("/v1/test_helpers/shared_payment/clock", "clock"),
    ("/v1/test_helpers/", "test_helpers"),
    ("/v1/webhook_endpoints", "webhook_endpoints"),
    ("/v1/events", "events"),
)
FULL_EXAMPLES, QUICK_EXAMPLES = 8, 2
# Without --spt-seed, one seed for the whole process, printed with every result.
_RUN_SEED = random.randrange(2**32)


def operation_needs(spec: Spec, operation_id: str) -> frozenset[str]:
    """The target capabilities without which an operation does not exist."""
    operation = spec.operations[operation_id]
    needs = {"clock"} if operation.extension else set()
    for prefix, capability in _CAPABILITY_PATHS:
        if operation.path.startswith(prefix):
            needs.add(capability)
            break  # the most specific prefix comes first
    return frozenset(needs)


# ---------------------------------------------------------------------------------- the schema
def _for_generation(openapi: Mapping[str, Any]) -> dict[str, Any]:
    """The document as Schemathesis gets it: GET/DELETE bodies dropped, see the module docstring,
    and no length bound on strings that also have a pattern (generating a 5,000-character string
    that matches a regular expression takes Schemathesis's coverage phase tens of seconds)."""
    document: dict[str, Any] = copy.deepcopy(dict(openapi))
    for item in document.get("paths", {}).values():
        for method in ("get", "delete"):
            if isinstance(item.get(method), dict):
                item[method].pop("requestBody", None)

    def unbind(node: Any) -> None:
        if isinstance(node, dict):
            if "pattern" in node and isinstance(node.get("maxLength"), int) and node["maxLength"] > 100:
                del node["maxLength"]
            for value in node.values():
                unbind(value)
        elif isinstance(node, list):
            for value in node:
                unbind(value)

    unbind(document.get("paths"))
    unbind(document.get("components"))
    return document


@functools.cache
def _register_formats() -> None:
    import schemathesis

    schemathesis.openapi.format("currency", st.sampled_from(CURRENCIES))


_SCHEMAS: dict[tuple[str, int, int, bool], Any] = {}


def contract_schema(spec: Spec, seed: int, max_examples: int, quick: bool) -> Any:
    """The Schemathesis schema of `spec/openapi.yaml`, configured for one run (made once)."""
    key = (spec.digest, seed, max_examples, quick)
    if key not in _SCHEMAS:
        _SCHEMAS[key] = _load_schema(spec, seed, max_examples, quick)
    return _SCHEMAS[key]


def _load_schema(spec: Spec, seed: int, max_examples: int, quick: bool) -> Any:
    import schemathesis
    from schemathesis.config import SchemathesisConfig

    _register_formats()
    phases = {"examples": True, "coverage": not quick, "fuzzing": True, "stateful": False}
    config = SchemathesisConfig.from_dict(
        {
            "seed": seed,
            "suppress-health-check": ["all"],
            "generation": {
                "mode": "all",
                "max-examples": max_examples,
                "database": "none",
                "no-shrink": True,
                "with-security-parameters": False,
            },
            "phases": {name: {"enabled": on} for name, on in phases.items()},
            # A refusal of bad input is any 4xx (SPT-WIRE-010); a 5xx is SPT-ERR-004's to report.
            "checks": {"negative_data_rejection": {"expected-statuses": ["4XX", "5XX"]}},
        }
    )
    return schemathesis.openapi.from_dict(_for_generation(spec.openapi), config=config)


# ---------------------------------------------------------------------------------- fixtures
def _unused_loopback_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens there once the probe is closed: deliveries are refused, harmlessly.
    return f"http://127.0.0.1:{port}/spt-contract"


def _field(exchange: Exchange, name: str) -> str | None:
    value = exchange.body.get(name) if exchange.status == 200 and isinstance(exchange.body, dict) else None
    return value if isinstance(value, str) else None


@dataclass
class Fixtures:
    """Real objects for positive cases, made on first need, through the test's clients."""

    spt: Scenario
    has: Callable[[str], bool]
    url: str = field(default_factory=_unused_loopback_url)
    made_endpoints: list[tuple[StripeClient, str]] = field(default_factory=list)
    _cache: dict[str, Any] = field(default_factory=dict)

    def _once(self, name: str, make: Callable[[], Any]) -> Any:
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]

    # Each maker tolerates a target that fails it: the value then stays as generated, and the
    # failing exchange is judged by the registered checks like any other.
    def token(self) -> str | None:
        def make() -> str | None:
            # A large cap, in the currency positive payments are mapped to: they mostly succeed.
            return _field(self.spt.issue_exchange(max_amount=10**7, currency="usd", expires_at=None), "id")

        result: str | None = self._once("token", make)
        return result

    def future(self) -> int:
        """A month after the target's now: an expiry no test's clock advance reaches."""

        def make() -> int:
            try:
                return self.spt.clock.now() + 30 * 86_400
            except Violation:
                return int(time.time()) + 30 * 86_400

        return int(self._once("future", make))

    def paid(self, part: str) -> str | None:
        """The PaymentIntent (`id`), the seller's PaymentMethod clone or the charge of a payment."""

        def make() -> Mapping[str, Any]:
            token = _field(self.spt.issue_exchange(max_amount=10**6, currency="usd", expires_at=None), "id")
            exchange = self.spt.pay(token, 500) if token else None
            return exchange.body if exchange is not None and isinstance(exchange.body, dict) else {}

        body: Mapping[str, Any] = self._once("paid", make)
        value = body.get(part)
        return value if isinstance(value, str) else None

    def unconfirmed(self) -> str | None:
        def make() -> str | None:
            return _field(self.spt.seller.post("/v1/payment_intents", {"amount": 500, "currency": "usd"}), "id")

        result: str | None = self._once("unconfirmed", make)
        return result

    def endpoint(self) -> str | None:
        if not self.has("webhook_endpoints"):
            return None

        def make() -> str | None:
            client = self.spt.agent
            exchange = client.post(
                "/v1/webhook_endpoints", {"url": self.url, "enabled_events": ["shared_payment.issued_token.used"]}
            )
            identifier = _field(exchange, "id")
            if identifier is not None:
                self.made_endpoints.append((client, identifier))
            return identifier

        result: str | None = self._once("endpoint", make)
        return result

    def event(self) -> str | None:
        if not self.has("events"):
            return None

        def make() -> str | None:
            self.paid("id")  # so that the agent has at least one event
            exchange = self.spt.agent.get("/v1/events", {"limit": 1})
            data = exchange.body.get("data") if isinstance(exchange.body, dict) else None
            first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
            identifier = first.get("id")
            return identifier if isinstance(identifier, str) else None

        result: str | None = self._once("event", make)
        return result

    def cleanup(self) -> None:
        for client, identifier in dict.fromkeys(self.made_endpoints):
            client.delete(f"/v1/webhook_endpoints/{identifier}")
        self.made_endpoints.clear()


# Parameter name -> how a positive value is made real: (fixtures, operation id) -> value or None
# (None keeps the generated value).
Mapper = Callable[[Fixtures, str], Any]
_IDS: Mapping[str, Mapper] = {
    "shared_payment_granted_token": lambda f, op: f.token(),
    "shared_payment_issued_token": lambda f, op: f.token(),
    "intent": lambda f, op: f.unconfirmed() if op == "PostPaymentIntentsIntentConfirm" else f.paid("id"),
    "payment_intent": lambda f, op: f.paid("id"),
    "charge": lambda f, op: f.paid("latest_charge"),
    "payment_method": lambda f, op: (
        f.paid("payment_method") if op == "GetPaymentMethodsPaymentMethod" else f.spt.target.agent.payment_method
    ),
    "network_business_profile": lambda f, op: f.spt.target.seller.network_business_profile,
    "network_id": lambda f, op: f.spt.target.seller.network_business_profile,
    "webhook_endpoint": lambda f, op: f.endpoint(),
    "id": lambda f, op: f.event() if op == "GetEventsId" else None,
    "starting_after": lambda f, op: f.event() if op == "GetEvents" else None,
    "ending_before": lambda f, op: None,
    # The token's currency and a small amount, so that positive payments can succeed.
    "currency": lambda f, op: "usd" if op in ("PostPaymentIntents",) else None,
    "expires_at": lambda f, op: f.future(),
}


def _small(value: Any) -> Any:
    """`seconds` as sent, never more than one second forward (other tests share the clock)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return min(value, 1)
    if isinstance(value, float):
        return 0.5 if value > 1 else value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return value
        return "0.5" if number > 1 else value
    if isinstance(value, list):
        return [_small(v) for v in value]
    if isinstance(value, dict):
        return {k: _small(v) for k, v in value.items()}
    return value


def _safe_url(value: Any, fixtures: Fixtures) -> Any:
    if isinstance(value, str) and value.lower().startswith(("http://", "https://", "//")):
        return fixtures.url
    if isinstance(value, list):
        return [_safe_url(v, fixtures) for v in value]
    return value


def _walk(value: Any, fixtures: Fixtures, operation_id: str, positive: bool) -> Any:
    if isinstance(value, list):
        return [_walk(v, fixtures, operation_id, positive) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if item == "" or item == {} or item == []:
            # On the wire these are `a=` or nothing, which Stripe reads as no value (its SDKs unset
            # a parameter that way): send none, so the case says what the server receives.
            continue
        if key == "seconds":
            out[key] = _small(item)
        elif key == "url":
            out[key] = _safe_url(item, fixtures)
        elif positive and key in _IDS and isinstance(item, str | int) and not isinstance(item, bool):
            real = _IDS[key](fixtures, operation_id)
            out[key] = item if real is None else real
        elif positive and key == "amount" and isinstance(item, int) and not isinstance(item, bool) and item > 1000:
            out[key] = item % 1000 + 1
        else:
            out[key] = _walk(item, fixtures, operation_id, positive)
    return out


def prepare_case(case: Any, fixtures: Fixtures, operation_id: str) -> None:
    """Make a case meaningful and safe, in place (Schemathesis re-reads what changed)."""
    from schemathesis.core.parameters import ParameterLocation

    meta = case.meta
    everywhere = set(ParameterLocation)
    if meta is None:
        positive = everywhere
    else:
        # Examples record no components: a part is positive unless the case says it is not.
        negative = {location for location, info in meta.components.items() if not info.mode.is_positive}
        stated = {location for location, info in meta.components.items() if info.mode.is_positive}
        positive = (everywhere - negative) if meta.generation.mode.is_positive else stated
    if case.path_parameters:
        case.path_parameters = _walk(case.path_parameters, fixtures, operation_id, ParameterLocation.PATH in positive)
    if case.query:
        case.query = _walk(case.query, fixtures, operation_id, ParameterLocation.QUERY in positive)
    if isinstance(case.body, dict | list):
        case.body = _walk(case.body, fixtures, operation_id, ParameterLocation.BODY in positive)


# ---------------------------------------------------------------------------------- one case
def _content(body: Any) -> bytes:
    from schemathesis.core import NotSet

    if isinstance(body, NotSet) or body is None:
        return b""
    if isinstance(body, dict):
        return encode_form(body).encode()
    if isinstance(body, list):
        return encode_form({str(i): v for i, v in enumerate(body)}).encode()
    return str(body).encode()


MAX_URL = 8192  # longer request targets are refused by HTTP stacks (and by httpx) before any server code


def url_length(case: Any) -> int:
    query = encode_form(case.query) if isinstance(case.query, dict) and case.query else ""
    return len(case.formatted_path) + len(query) + 1


def send(case: Any, client: StripeClient) -> Exchange:
    """One case, through our client: bracket-encoded, as the operation's actor."""
    method = str(case.method).upper()
    path = case.formatted_path
    if method in ("GET", "DELETE", "HEAD", "OPTIONS", "TRACE"):
        return client.request(method, path, case.query or None)
    if case.query:
        path = f"{path}?{encode_form(case.query)}"
    return client.request(method, path, content=_content(case.body), content_type=FORM)


def _response(exchange: Exchange) -> Any:
    from schemathesis.core.transport import Response

    request = requests.Request(
        exchange.method, exchange.url, headers=dict(exchange.request_headers), data=exchange.request_body.encode()
    ).prepare()
    return Response(
        status_code=exchange.status,
        headers={k.lower(): [v] for k, v in exchange.response_headers.items()},
        content=exchange.response_text.encode(),
        request=request,
        elapsed=exchange.elapsed_ms / 1000,
        verify=True,
        encoding="utf-8",
    )


@functools.cache
def _check_functions() -> Mapping[str, Callable[..., Any]]:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        response_schema_conformance,
        status_code_conformance,
    )

    functions = {
        "not_a_server_error": not_a_server_error,
        "response_schema_conformance": response_schema_conformance,
        "status_code_conformance": status_code_conformance,
        "content_type_conformance": content_type_conformance,
        "negative_data_rejection": negative_data_rejection,
    }
    assert set(functions) == set(CHECKS)
    return functions


def _describe(case: Any) -> str:
    meta = case.meta
    if meta is None:
        return "a case"
    description = getattr(meta.phase.data, "description", None) or ""
    return f"{meta.phase.name.value} phase, {meta.generation.mode.value} data" + (
        f" ({description})" if description else ""
    )


def judge(case: Any, exchange: Exchange) -> Iterator[Violation]:
    """What each of the contract checks finds in one exchange."""
    from schemathesis.core.failures import FailureGroup

    response = _response(exchange)
    for name, function in _check_functions().items():
        try:
            case.validate_response(response, checks=[function])
        except FailureGroup as group:
            for failure in group.exceptions:
                requirement = CHECKS[name]
                yield Violation(
                    requirement,
                    received=f"{failure.title}: {' '.join(str(failure.message).split())[:400]}  [{_describe(case)}]",
                    expected=_EXPECTED[requirement],
                    tip=f"Schemathesis check {name}; the exchange below shows the request as sent",
                    exchanges=[exchange],
                )


# ---------------------------------------------------------------------------------- one operation
@dataclass
class ContractResult:
    operation_id: str
    seed: int
    cases: int = 0
    too_long: int = 0  # cases not sent: their URL is longer than HTTP stacks accept
    statuses: Counter[str] = field(default_factory=Counter)  # "2xx positive": 12, ...
    violations: dict[tuple[str, str], Violation] = field(default_factory=dict)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    def describe(self) -> str:
        answers = ", ".join(f"{kind} ×{count}" for kind, count in sorted(self.statuses.items()))
        skipped = f"; {self.too_long} not sent (URL over {MAX_URL} bytes)" if self.too_long else ""
        return f"{self.operation_id}: {self.cases} cases ({answers}){skipped}; seed {self.seed}"

    def found(self) -> list[Violation]:
        """One violation per requirement and kind of failure, saying how many cases showed it."""
        out = []
        for key, violation in self.violations.items():
            count = self.counts[key]
            out.append(
                Violation(
                    violation.requirement,
                    received=violation.received + (f"  (and {count - 1} more case(s) like it)" if count > 1 else ""),
                    expected=violation.expected,
                    tip=f"{violation.tip}; rerun with --spt-seed {self.seed}",
                    exchanges=violation.exchanges,
                )
            )
        return out


def run_operation(
    spec: Spec,
    operation_id: str,
    spt: Scenario,
    clients: Mapping[str, StripeClient],
    *,
    seed: int | None = None,
    max_examples: int | None = None,
    quick: bool = False,
    webhook_url: str | None = None,
) -> ContractResult:
    """Every phase of Schemathesis on one operation; what the checks found, deduplicated."""
    from schemathesis.generation.feedback import FeedbackSources
    from schemathesis.pytest._test_builder import build_operation_test

    seed = _RUN_SEED if seed is None else seed
    examples = max_examples or (QUICK_EXAMPLES if quick else FULL_EXAMPLES)
    schema = contract_schema(spec, seed, examples, quick)
    operation_def = spec.operations[operation_id]
    operation = schema[operation_def.path][operation_def.method.lower()]
    actor = operation_def.actor if operation_def.actor in clients else "agent"
    client = clients[actor]
    fixtures = Fixtures(spt, spt.target.has, webhook_url or _unused_loopback_url())
    result = ContractResult(operation_id, seed)

    def case_test(case: Any) -> None:
        prepare_case(case, fixtures, operation_id)
        if url_length(case) > MAX_URL:
            result.too_long += 1
            return
        exchange = send(case, client)
        result.cases += 1
        mode = case.meta.generation.mode.value if case.meta is not None else "explicit"
        result.statuses[f"{exchange.status // 100}xx {mode}"] += 1
        body = exchange.body
        if (
            exchange.status == 200
            and exchange.method not in ("GET", "DELETE")
            and isinstance(body, dict)
            and body.get("object") == "webhook_endpoint"
            and not body.get("deleted")
            and isinstance(body.get("id"), str)
        ):
            fixtures.made_endpoints.append((client, body["id"]))  # whatever the method: it exists now
        for violation in judge(case, exchange):
            key = (violation.requirement, violation.received.split(":", 1)[0])
            result.violations.setdefault(key, violation)
            result.counts[key] = result.counts.get(key, 0) + 1

    test = build_operation_test(
        config=schema.config, operation=operation, test_func=case_test, given_kwargs={}, feedback=FeedbackSources()
    )
    try:
        test()
    finally:
        fixtures.cleanup()
    return result


def all_operation_ids(spec: Spec) -> list[str]:
    """Every operation of spec/openapi.yaml, in document order."""
    ids = []
    for path, item in spec.openapi.get("paths", {}).items():
        for method in HTTP_METHODS:
            operation = item.get(method) if isinstance(item, Mapping) else None
            if isinstance(operation, Mapping) and path:
                ids.append(str(operation.get("operationId")))
    return ids
