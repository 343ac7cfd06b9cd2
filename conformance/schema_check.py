"""The response-schema check: every response body against its operation's schema (SPT-WIRE-008).

Registered in `conformance.checks`, so it runs on every exchange of every test. The operation is
found by method and path template (`/v1/shared_payment/issued_tokens/{id}`), the response by
status (`200`, then `4XX`-style ranges, then `default`: the error schema), and the body is
validated with JSON Schema 2020-12, `#/components/...` references resolved through a
`referencing.Registry` holding the whole OpenAPI document.

This runs on every response, so it is kept cheap: routes and validators are built once per
process and cached. The pure-Python validator takes about a millisecond for a token (mostly
reference lookups), as long as the request itself against the embedded server, so a body is
first asked `is_valid` by jsonschema-rs (a few microseconds; installed with Schemathesis) when it
is there; only a body it rejects is walked by `jsonschema` for the error worth reporting, and
`jsonschema` has the last word. Paths the specification does not define (tests of unknown URLs) and
bodies that are not JSON (SPT-WIRE-003's business) are left alone.

A body is judged by the schema of the Stripe-Version its request sent, as Stripe renders it: a
field that `x-spt-required-since` dates to a later version is not required under an earlier one
(nor when no version was sent, since the account's default then decides), and an enum that
Stripe marks open (`x-stripeEnum: {kind: open}`, or `x-stripeBypassValidation`) accepts any
value of its type, because Stripe may add values without a new version.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conformance.client import Exchange
from conformance.spec import HTTP_METHODS, default_spec
from conformance.violation import Violation

if TYPE_CHECKING:  # the registry (conformance.checks) imports this module to register the check
    from conformance.checks import CheckContext

__all__ = [
    "Route",
    "find_route",
    "object_problem",
    "rendered_version",
    "response_schema",
    "schema_problem",
    "version_date",
]

_DOCUMENT = "urn:spt-conformance:openapi"
_VERSION_DATE = re.compile(r"\s*([0-9]{4}-[0-9]{2}-[0-9]{2})")


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    operation_id: str
    pattern: re.Pattern[str]


def _fast_validators() -> Any:
    """jsonschema-rs, the fast path, or None; `jsonschema` alone gives the same verdicts, slower."""
    try:
        return importlib.import_module("jsonschema_rs")
    except ImportError:  # pragma: no cover - Schemathesis depends on it
        return None


def _pointer(*parts: str) -> str:
    """A URI fragment for a JSON pointer (braces of path templates percent-encoded)."""
    return quote("/".join(p.replace("~", "~0").replace("/", "~1") for p in parts), safe="/~")


def version_date(stripe_version: str | None) -> str | None:
    """The date that orders a Stripe-Version: `2026-05-27` of `2026-05-27.preview; x=v1`, or None."""
    match = _VERSION_DATE.match(stripe_version or "")
    return match.group(1) if match else None


def _thaw(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {key: _thaw(value) for key, value in node.items()}
    if isinstance(node, Sequence) and not isinstance(node, str):
        return [_thaw(value) for value in node]
    return node


def _as_rendered(node: Any, date: str | None) -> None:
    """Make every schema under `node` the one Stripe renders under the version of `date`, in place."""
    if isinstance(node, list):
        for value in node:
            _as_rendered(value, date)
        return
    if not isinstance(node, dict):
        return
    open_enum = (node.get("x-stripeEnum") or {}).get("kind") == "open" or node.get("x-stripeBypassValidation") is True
    if open_enum:
        node.pop("enum", None)
    since = node.get("x-spt-required-since")
    if isinstance(since, dict) and isinstance(node.get("required"), list):
        node["required"] = [
            name
            for name in node["required"]
            if name not in since or (date is not None and date >= (version_date(str(since[name])) or ""))
        ]
    for value in node.values():
        _as_rendered(value, date)


@functools.cache
def _document(date: str | None) -> Mapping[str, Any]:
    """The OpenAPI document with the response schemas of the Stripe-Version dated `date`."""
    document: dict[str, Any] = _thaw(default_spec().openapi)
    _as_rendered(document, date)
    return document


@functools.cache
def _routes() -> tuple[tuple[Route, ...], Mapping[tuple[str, str], Route]]:
    """Literal paths by (method, path), and templated ones as patterns, most literal first."""
    openapi = default_spec().openapi
    literal: dict[tuple[str, str], Route] = {}
    templated: list[Route] = []
    for template, item in openapi.get("paths", {}).items():
        for method in HTTP_METHODS:
            operation = item.get(method) if isinstance(item, Mapping) else None
            if not isinstance(operation, Mapping):
                continue
            regex = re.sub(r"\\\{[^/]+?\\\}", "([^/]+)", re.escape(template))
            route = Route(method.upper(), template, str(operation.get("operationId")), re.compile(f"^{regex}$"))
            if "{" in template:
                templated.append(route)
            else:
                literal[(route.method, template)] = route
    templated.sort(key=lambda r: -len(r.template.split("{")[0]))
    return tuple(templated), literal


def find_route(method: str, path: str) -> Route | None:
    """The operation a request went to, by method and path (query string and any prefix ignored)."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    start = path.find("/v1/")
    path = path[start:] if start >= 0 else path
    templated, literal = _routes()
    method = method.upper()
    route = literal.get((method, path))
    if route is not None:
        return route
    return next((r for r in templated if r.method == method and r.pattern.match(path)), None)


@functools.cache
def _registry(date: str | None) -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(_document(date), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(_DOCUMENT, resource)
    return registry


def _response_key(responses: Mapping[str, Any], status: int) -> str | None:
    for key in (str(status), f"{status // 100}XX", f"{status // 100}xx", "default"):
        if key in responses:
            return key
    return None


@dataclass(frozen=True)
class _Compiled:
    response: str  # the key under `responses:` ("200", "default")
    validator: Any  # jsonschema's, the judge
    fast: Any  # jsonschema-rs's, or None

    def is_valid(self, body: Any) -> bool:
        return bool((self.fast or self.validator).is_valid(body))


@functools.cache
def _compiled(pointer: str, key: str, date: str | None) -> _Compiled:
    validator = jsonschema.Draft202012Validator({"$ref": f"{_DOCUMENT}#/{pointer}"}, registry=_registry(date))
    fast = None
    if (jsonschema_rs := _fast_validators()) is not None:
        # The whole document as the root, so that its `#/components/...` references resolve.
        fast = jsonschema_rs.Draft202012Validator({**_document(date), "$ref": f"#/{pointer}"}, validate_formats=False)
    return _Compiled(key, validator, fast)


def _validator(method: str, template: str, status: int, date: str | None) -> _Compiled | None:
    """The compiled schema of one response, or None when the response has no JSON schema."""
    operation = default_spec().openapi["paths"][template][method.lower()]
    responses = operation.get("responses", {})
    key = _response_key(responses, status)
    if key is None:
        return None
    content = responses[key].get("content", {})
    if "application/json" not in content or "schema" not in content["application/json"]:
        return None
    pointer = _pointer("paths", template, method.lower(), "responses", key, "content", "application/json", "schema")
    return _compiled(pointer, key, date)


def _problem(compiled: _Compiled, body: Any) -> str | None:
    if compiled.is_valid(body):
        return None
    error = jsonschema.exceptions.best_match(compiled.validator.iter_errors(body))
    if error is None:
        return None  # the fast validator disagreed; jsonschema decides
    where = "/".join(str(part) for part in error.absolute_path) or "the top level"
    return f"at {where}: {error.message[:300]}"


def schema_problem(method: str, path: str, status: int, body: Any, stripe_version: str | None = None) -> str | None:
    """Why `body` breaks the schema of its operation's response under `stripe_version`, or None."""
    route = find_route(method, path)
    if route is None:
        return None
    compiled = _validator(route.method, route.template, status, version_date(stripe_version))
    if compiled is None:
        return None
    problem = _problem(compiled, body)
    return None if problem is None else f"{route.operation_id}, response {compiled.response}: {problem}"


def object_problem(schema: str, body: Any, stripe_version: str | None = None) -> str | None:
    """Why `body` breaks `#/components/schemas/<schema>` under `stripe_version`, or None."""
    if schema not in default_spec().openapi["components"]["schemas"]:
        raise KeyError(f"spec/openapi.yaml defines no schema {schema!r}")
    compiled = _compiled(_pointer("components", "schemas", schema), "", version_date(stripe_version))
    problem = _problem(compiled, body)
    return None if problem is None else f"{schema}: {problem}"


def rendered_version(sent: str | None, body: Any) -> str | None:
    """The Stripe-Version a body is rendered in: the one sent, except that an event's object is
    rendered in the event's own `api_version`, which may be older (the earliest one decides)."""
    listed = body.get("data") if isinstance(body, Mapping) and body.get("object") == "list" else [body]
    events = listed if isinstance(listed, list) else []
    versions = [
        str(event["api_version"])
        for event in events
        if isinstance(event, Mapping) and event.get("object") == "event" and event.get("api_version")
    ]
    if not versions:
        return sent
    if sent is None:
        return None  # the account's default decides the rest: judge leniently
    return min([sent, *versions], key=lambda version: version_date(version) or "")


def response_schema(exchange: Exchange, context: CheckContext) -> Iterable[Violation]:
    body = exchange.body
    if body is None:
        return
    sent = next((v for k, v in exchange.request_headers.items() if k.lower() == "stripe-version"), None)
    sent = rendered_version(sent, body)
    problem = schema_problem(exchange.method, exchange.path, exchange.status, body, sent)
    if problem is not None:
        yield Violation(
            "SPT-WIRE-008",
            received=problem,
            expected="a body that conforms to the operation's response schema in spec/openapi.yaml, as rendered "
            f"under Stripe-Version {sent or '(none sent)'} (required fields present, types, nullability and "
            "closed enums respected)",
            tip="validate responses against spec/openapi.yaml in your own tests (any JSON Schema 2020-12 validator)",
            exchanges=[exchange],
        )
