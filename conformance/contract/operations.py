"""Contract tests: Schemathesis over `spec/openapi.yaml`, every operation, sent through our client.

Theory of operation. Schemathesis generates cases for one operation in three phases: the
examples written in the spec, coverage (boundary values and each way to break the schema) and
fuzzing, with positive and negative data. Each case goes through the one client seam
(`StripeClient.request`), so it is journaled and checked by `conformance.checks` like any other
exchange, authenticated as the operation's `x-spt-actor` (`any` is the agent). Form bodies are
bracket-encoded as Stripe reads them (`a[b]=`, `a[0]=`), which Schemathesis's own form encoder does
not do. The response is then put to four of Schemathesis's checks, each mapped to the
requirement it proves (`CHECKS`); what they find becomes `Violation`s, one per requirement and
kind of failure. The response schema is not among them: the registered check of
`conformance.schema_check` already judges every exchange, by the schema of the Stripe-Version
sent and with Stripe's open enums open, where Schemathesis would hold a Stripe response to the
latest version's required fields and closed enums.

Making cases meaningful (real ids for positive data) and safe (the shared clock, webhook URLs)
is `conformance.contract.cases`.

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
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from hypothesis import strategies as st

from conformance.checks import answered_json, transport_answer
from conformance.client import Exchange, StripeClient, encode_form
from conformance.contract.cases import Fixtures, prepare_case, unused_loopback_url
from conformance.scenario import Scenario
from conformance.spec import HTTP_METHODS, Spec
from conformance.violation import LEDGER, Violation

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
# Fuzzed cases per operation, after the spec's own examples. Schemathesis's coverage phase (every
# boundary and every way to break the schema, made up front) is not run: it was most of the
# contract tests' time (3.4 s of a 23 s run), and measured against the mutant catalogue it caught
# no broken server that test_bad_input.py's hand-written malformed requests do not. Likewise eight
# fuzzed cases per operation killed nothing four do not.
FULL_EXAMPLES, QUICK_EXAMPLES = 4, 2
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


def contract_schema(
    spec: Spec, seed: int, max_examples: int, quick: bool = False, *, coverage: bool | None = None
) -> Any:
    """The Schemathesis schema of `spec/openapi.yaml`, configured for one run (made once); with
    the coverage phase unless `quick` (or as `coverage` says)."""
    coverage = not quick if coverage is None else coverage
    key = (spec.digest, seed, max_examples, coverage)
    if key not in _SCHEMAS:
        _SCHEMAS[key] = _load_schema(spec, seed, max_examples, coverage)
    return _SCHEMAS[key]


def _load_schema(spec: Spec, seed: int, max_examples: int, coverage: bool) -> Any:
    import schemathesis
    from schemathesis.config import SchemathesisConfig

    _register_formats()
    phases = {"examples": True, "coverage": coverage, "fuzzing": True, "stateful": False}
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
        status_code_conformance,
    )

    functions = {
        "not_a_server_error": not_a_server_error,
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

    if transport_answer(exchange):
        return  # the HTTP layer answered, not the API: SPT-WIRE-012's registered check judges it
    response = _response(exchange)
    negative = case.meta is not None and case.meta.generation.mode.value == "negative"
    for name, function in _check_functions().items():
        try:
            case.validate_response(response, checks=[function])
            # Held, if it was about this exchange: a rejection check only on negative data, the
            # others only on an answer of the API (a JSON body), not on a page from a proxy.
            if answered_json(exchange) and (negative or name != "negative_data_rejection"):
                LEDGER.hold(CHECKS[name])
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
    schema = contract_schema(spec, seed, examples, coverage=False)
    operation_def = spec.operations[operation_id]
    operation = schema[operation_def.path][operation_def.method.lower()]
    actor = operation_def.actor if operation_def.actor in clients else "agent"
    client = clients[actor]
    fixtures = Fixtures(spt, spt.target.has, webhook_url or unused_loopback_url())
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
