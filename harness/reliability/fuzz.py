"""Schemathesis negative fuzzing of every operation of spec/openapi.yaml, straight at a server.

The schema is the suite's own (`conformance.contract.operations.contract_schema`: GET bodies dropped, the
`currency` format registered), but only negative data is drawn: each case breaks the operation's
schema in its path, query or body, so each must be refused with a 4xx Stripe error. The case is
sent bracket-encoded as Stripe reads forms, authenticated as the operation's caller. Operations
with nothing to break (no parameters at all) are listed, not fuzzed.

A form cannot carry every violation. A null is not sent at all, and an empty string, map or list
is sent as `name=` or not at all, which Stripe reads as no value (its SDKs unset a parameter that
way): such values are removed from the case before it is sent, as the conformance suite does, so
the case says what the server receives. And every scalar arrives as a string: `false` where a
string belongs is "false", valid. So a case the server accepts counts against it only when
Schemathesis's own `negative_data_rejection` check says the violation reached the server, and
the case as the form carries it still breaks the schema (`wire_schema`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from conformance.client import encode_form
from conformance.contract.operations import MAX_URL, contract_schema
from conformance.spec import Spec, default_spec
from harness.reliability.calls import is_stripe_error
from harness.reliability.wire_schema import WireSchema

__all__ = ["FuzzReport", "fuzz_negative", "parameterless"]


@dataclass
class FuzzReport:
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    unbreakable: list[str] = field(default_factory=list)  # operations without negative cases
    wrong: list[str] = field(default_factory=list)  # cases not refused with a 4xx Stripe error


def _content(body: Any) -> bytes:
    if isinstance(body, dict):
        return encode_form(body).encode()
    if isinstance(body, list):
        return encode_form({str(i): v for i, v in enumerate(body)}).encode()
    return b"" if body is None or type(body).__name__ == "NotSet" else str(body).encode()


def _rejection_missed(case: Any, response: httpx.Response, content: bytes) -> bool:
    """Schemathesis's verdict on a negative case the server accepted."""
    from schemathesis.core.failures import FailureGroup
    from schemathesis.core.transport import Response
    from schemathesis.specs.openapi.checks import negative_data_rejection

    sent = requests.Request(response.request.method, str(response.request.url), data=content).prepare()
    answer = Response(
        status_code=response.status_code,
        headers={k.lower(): [v] for k, v in response.headers.items()},
        content=response.content,
        request=sent,
        elapsed=response.elapsed.total_seconds(),
        verify=True,
        encoding="utf-8",
    )
    try:
        case.validate_response(answer, checks=[negative_data_rejection])
    except FailureGroup:
        return True
    return False


def _on_the_wire(value: Any) -> Any:
    """`value` without what a form cannot carry: nulls, and empty strings, maps and lists."""
    if isinstance(value, dict):
        kept = {k: _on_the_wire(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, "", {}, [])}
    if isinstance(value, list):
        # Nor is an item with nothing in it.
        return [v for v in (_on_the_wire(v) for v in value) if v not in (None, "", {}, [])]
    return value


def _negative(case: Any) -> bool:
    """Whether any part of the case was generated to break the schema."""
    meta = case.meta
    return meta is None or any(not info.mode.is_positive for info in meta.components.values())


def parameterless(spec: Spec) -> frozenset[str]:
    """Operations without a single parameter (path, query or body): nothing to break."""
    paths = spec.openapi["paths"]
    return frozenset(
        op.operation_id
        for op in spec.operations.values()
        if "{" not in op.path
        and not paths[op.path][op.method.lower()].get("parameters")
        and not paths[op.path][op.method.lower()].get("requestBody")
    )


def fuzz_negative(base_url: str, keys: dict[str, str], *, examples: int = 10, derandomize: bool = True) -> FuzzReport:
    """`examples` negative cases per operation; `keys` maps caller ("agent", "seller") to its key.
    Derandomized, the same cases every run; else new ones each time."""
    spec = default_spec()
    schema = contract_schema(spec, 0, examples, quick=False)
    report = FuzzReport(unbreakable=sorted(parameterless(spec)))
    wire = WireSchema(spec.openapi)
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for operation in spec.operations.values():
            if operation.operation_id in report.unbreakable:
                continue
            api = schema[operation.path][operation.method.lower()]
            key = keys.get(operation.actor, keys["agent"])
            test = _operation_test(api, operation.operation_id, key, client, report, wire)
            configured = settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=derandomize,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.generate],
            )(test)
            try:
                configured()
            except Unsatisfiable:
                report.unbreakable.append(operation.operation_id)
    return report


def _operation_test(
    api: Any, name: str, key: str, client: httpx.Client, report: FuzzReport, wire: WireSchema
) -> Callable[[], None]:
    from schemathesis.generation.modes import GenerationMode

    @given(api.as_strategy(GenerationMode.NEGATIVE))
    def case_test(case: Any) -> None:
        case.query = _on_the_wire(case.query)
        case.body = _on_the_wire(case.body)
        if not _negative(case):
            return
        query = encode_form(case.query) if isinstance(case.query, dict) and case.query else ""
        url = case.formatted_path + (f"?{query}" if query else "")
        if len(url) > MAX_URL:
            return  # refused by HTTP stacks, client side, before any server
        content = _content(case.body)
        headers = {"Authorization": f"Bearer {key}"}
        if content:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        response = client.request(str(case.method).upper(), url, content=content or None, headers=headers)
        report.cases += 1
        report.statuses[response.status_code] += 1
        refused = 400 <= response.status_code < 500 and is_stripe_error(response)
        body = case.body if isinstance(case.body, dict | list) else None
        if not refused and (
            response.status_code >= 400
            or (
                _rejection_missed(case, response, content) and wire.breaks(api.path, str(case.method), case.query, body)
            )
        ):
            report.wrong.append(
                f"{name}: {case.method} {url[:200]} {content[:200]!r} (generated as {case.body!r:.200}) "
                f"-> {response.status_code} {response.text[:200]}"
            )

    result: Callable[[], None] = case_test
    return result
