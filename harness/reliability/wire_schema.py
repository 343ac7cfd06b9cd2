"""Whether a request, as a form carries it, still breaks an operation's schema.

A form carries strings only: the integer 5 and the boolean false arrive as "5" and "false". So a
negative case that put `false` where a string belongs, or 5 where an integer belongs, is valid by
the time the server reads it. Here the case's query and body are turned into what the form
carries (every scalar a string) and validated against spec/openapi.yaml read generously: a string
that spells an integer, a number or a boolean counts as one, as a Stripe server reads it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["WireSchema", "as_sent"]

_URN = "urn:spt:openapi"
_INTEGER = re.compile(r"-?[0-9]+")


def _integer(checker: Any, value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and _INTEGER.fullmatch(value) is not None)


def _number(checker: Any, value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _boolean(checker: Any, value: Any) -> bool:
    return isinstance(value, bool) or value in ("true", "false")


def _numeric(keyword: str) -> Any:
    """The `keyword` check (minimum, maximum, …) of a number written as a string."""
    original = Draft202012Validator.VALIDATORS[keyword]

    def check(validator: Any, bound: Any, instance: Any, schema: Any) -> Any:
        if isinstance(instance, str):
            if not _number(None, instance):
                return
            instance = int(instance) if _INTEGER.fullmatch(instance) else float(instance)
        yield from original(validator, bound, instance, schema)

    return check


_NUMERIC = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_Lenient = validators.extend(
    Draft202012Validator,
    validators={keyword: _numeric(keyword) for keyword in _NUMERIC},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"integer": _integer, "number": _number, "boolean": _boolean}
    ),
)


def as_sent(value: Any) -> Any:
    """`value` as a bracket-encoded form carries it: every scalar a string."""
    if isinstance(value, Mapping):
        return {str(k): as_sent(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_sent(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _absolute(schema: Any) -> Any:
    """`schema` with its document-relative references (`#/components/…`) made absolute."""
    if isinstance(schema, Mapping):
        return {
            k: f"{_URN}{v}" if k == "$ref" and isinstance(v, str) and v.startswith("#/") else _absolute(v)
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_absolute(v) for v in schema]
    return schema


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


class WireSchema:
    def __init__(self, openapi: Mapping[str, Any]) -> None:
        self._openapi = openapi
        resource = Resource.from_contents(dict(openapi), default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(_URN, resource)

    def _valid(self, schema: Mapping[str, Any], instance: Any) -> bool:
        return bool(_Lenient(dict(schema), registry=self._registry).is_valid(instance))

    def _parameter(self, parameter: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = parameter.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            found: Any = self._openapi
            for part in ref[2:].split("/"):
                found = found[part.replace("~1", "/").replace("~0", "~")]
            return dict(found)
        return parameter

    def breaks(self, path: str, method: str, query: Mapping[str, Any] | None, body: Any) -> bool:
        """Whether the query or the body, as sent, break the operation's schema."""
        operation = self._openapi["paths"][path][method.lower()]
        parameters = [self._parameter(p) for p in operation.get("parameters", [])]
        in_query = [p for p in parameters if p.get("in") == "query"]
        query_schema = {
            "type": "object",
            "properties": {p["name"]: _absolute(p.get("schema", {})) for p in in_query},
            "required": [p["name"] for p in in_query if p.get("required")],
        }
        if not self._valid(query_schema, as_sent(query or {})):
            return True
        content = operation.get("requestBody", {}).get("content", {})
        if body is None or "application/x-www-form-urlencoded" not in content:
            return False
        pointer = _pointer(
            "paths", path, method.lower(), "requestBody", "content", "application/x-www-form-urlencoded", "schema"
        )
        return not self._valid({"$ref": f"{_URN}#/{pointer}"}, as_sent(body))
