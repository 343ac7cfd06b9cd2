"""The operation table mirrors spec/openapi.yaml: every operation served, same parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reference_impl.operations import OPERATIONS, match
from reference_impl.params import Array, Obj, Spec

OPENAPI = Path(__file__).resolve().parents[2] / "spec" / "openapi.yaml"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    return data


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        parts = node["$ref"].removeprefix("#/").split("/")
        target: Any = spec
        for part in parts:
            target = target[part]
        node = target
    return node


def _spec_operations(spec: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    out = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "delete"):
                out[op["operationId"]] = (method.upper(), path, op)
    return out


def test_operations_every_spec_operation_is_served(spec: dict[str, Any]) -> None:
    ours = {op.name: (op.method, op.path) for op in OPERATIONS}
    theirs = {name: (method, path) for name, (method, path, _) in _spec_operations(spec).items()}
    assert ours == theirs


def _compare(spec: dict[str, Any], ours: Spec, theirs: dict[str, Any], where: str) -> None:
    theirs = _resolve(spec, theirs)
    if "anyOf" in theirs:  # e.g. shared_metadata: a map or ""
        theirs = _resolve(spec, theirs["anyOf"][0])
    if isinstance(ours, Obj):
        assert theirs.get("type") == "object", where
        properties = theirs.get("properties")
        if properties is None or (not properties and theirs.get("additionalProperties") not in (None, False)):
            return  # a free-form map
        assert set(ours.fields) == set(properties), where
        assert {k for k, v in ours.fields.items() if v.required} == set(theirs.get("required", [])), where
        for key, child in ours.fields.items():
            _compare(spec, child, properties[key], f"{where}[{key}]")
    elif isinstance(ours, Array):
        assert theirs.get("type") == "array", where


def test_operations_request_parameters_match_spec(spec: dict[str, Any]) -> None:
    specs = _spec_operations(spec)
    for op in OPERATIONS:
        method, _path, operation = specs[op.name]
        body = operation.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded")
        queries = [_resolve(spec, p) for p in operation.get("parameters", [])]
        path_params = [p["name"] for p in queries if p["in"] == "path"]
        assert path_params == ([op.path_param] if op.path_param else []), op.name
        if method == "POST":
            schema = body["schema"] if body else {"type": "object", "properties": {}}
            _compare(spec, op.params, schema, op.name)
        else:
            names = {p["name"] for p in queries if p["in"] == "query"}
            assert set(op.params.fields) == names, op.name


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/v1/payment_intents/pi_1", ("GetPaymentIntentsIntent", "pi_1")),
        ("POST", "/v1/payment_intents/pi_1/confirm", ("PostPaymentIntentsIntentConfirm", "pi_1")),
        ("POST", "/v1/payment_intents", ("PostPaymentIntents", None)),
        ("GET", "/v1/payment_intents", None),
        ("GET", "/v1/payment_intents/pi_1/extra", None),
        ("DELETE", "/v1/events/evt_1", None),
    ],
)
def test_match_routes_method_and_path(method: str, path: str, expected: tuple[str, str | None] | None) -> None:
    found = match(method, path)
    assert (None if found is None else (found[0].name, found[1])) == expected
