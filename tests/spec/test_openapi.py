"""spec/openapi.yaml: valid OpenAPI 3.1, examples that fit their schemas, no drift from Stripe.

The SPT part of the document is Stripe's own (spec/stripe/stripe-openapi-spt.json, OpenAPI 3.0).
`schema_differences` and `operation_differences` compare the two field for field, through `$ref`
and `anyOf`, after normalising 3.0 `nullable: true` and 3.1 `null` types to one flag. A property
marked `x-spt-deviation: D-NN` is left out of the comparison; DECISIONS.md must explain it.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_DIR = Path(__file__).resolve().parents[2] / "spec"
OPENAPI_PATH = SPEC_DIR / "openapi.yaml"
STRIPE_PATH = SPEC_DIR / "stripe" / "stripe-openapi-spt.json"
DECISIONS_PATH = SPEC_DIR / "DECISIONS.md"

# Where the document is registered for jsonschema, so its `#/components/...` refs resolve.
DOCUMENT_URI = "urn:spt-conformance:openapi"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ACTORS = frozenset({"agent", "seller", "any"})
CLOCK_OPERATIONS = frozenset({"GetTestHelpersSharedPaymentClock", "PostTestHelpersSharedPaymentClockAdvance"})
SPT_EVENT_TYPES = frozenset(
    {
        "shared_payment.issued_token.used",
        "shared_payment.issued_token.deactivated",
        "shared_payment.issued_token.requires_action",
        "shared_payment.issued_token.active",
        "shared_payment.granted_token.used",
        "shared_payment.granted_token.deactivated",
    }
)
# Stripe's fragment holds only the tail of this schema; it is compared on its own.
PARTIAL_CARD = "spt_payment_method_card__PARTIAL"

Json = Any
JsonMap = Mapping[str, Any]


# ---------------------------------------------------------------------------- loading


@functools.cache
def _openapi() -> dict[str, Any]:
    return cast(dict[str, Any], yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8")))


@functools.cache
def _stripe() -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(STRIPE_PATH.read_text(encoding="utf-8")))


@functools.cache
def _decision_ids() -> frozenset[str]:
    text = DECISIONS_PATH.read_text(encoding="utf-8")
    return frozenset(re.findall(r"^## (D-\d+)\b", text, flags=re.MULTILINE))


def _ref_segments(ref: str) -> tuple[str, ...]:
    """The keys a local `#/a/b~1c` reference walks through."""
    return tuple(raw.replace("~1", "/").replace("~0", "~") for raw in ref[2:].split("/"))


def _lookup(root: JsonMap, ref: str) -> Json | None:
    """The node a local `#/...` reference names, or None when the document lacks it."""
    if not ref.startswith("#/"):
        return None
    node: Json = root
    for key in _ref_segments(ref):
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _resolve(node: Json, root: JsonMap) -> Json:
    """Follow `$ref` (of a parameter, an example, a request body) until a real node."""
    while isinstance(node, Mapping) and "$ref" in node:
        target = _lookup(root, node["$ref"])
        if target is None:
            raise LookupError(f"{node['$ref']} does not resolve in the document")
        node = target
    return node


def _pointer(*segments: str) -> str:
    return "".join("/" + s.replace("~", "~0").replace("/", "~1") for s in segments)


def _operations(doc: JsonMap) -> Iterator[tuple[str, str, str, JsonMap]]:
    """(section, path or webhook name, method, operation) for every operation and webhook."""
    for section in ("paths", "webhooks"):
        for name, item in doc.get(section, {}).items():
            for method in HTTP_METHODS:
                if method in item:
                    yield section, name, method, item[method]


# ---------------------------------------------------------------------------- the comparator


@dataclass(frozen=True)
class _View:
    """A schema node after following `$ref`s and single-branch `anyOf`s."""

    nullable: bool
    node: JsonMap | None  # None: a `$ref` to a component the document does not hold
    ref: str | None  # the last `$ref` followed


def _is_null_schema(node: Json) -> bool:
    return isinstance(node, Mapping) and node.get("type") == "null" and len(node) == 1


def _type_allows_null(node: JsonMap) -> bool:
    declared = node.get("type")
    return declared == "null" or (isinstance(declared, list) and "null" in declared)


def _unwrap(node: JsonMap, root: JsonMap) -> _View:
    nullable = False
    ref: str | None = None
    for _ in range(64):
        nullable = nullable or node.get("nullable") is True or _type_allows_null(node)
        if "$ref" in node:
            ref = str(node["$ref"])
            target = _lookup(root, ref)
            if target is None:
                return _View(nullable, None, ref)
            node = target
            continue
        branches = node.get("anyOf")
        if isinstance(branches, list):
            concrete = [b for b in branches if not _is_null_schema(b)]
            nullable = nullable or len(concrete) < len(branches)
            if len(concrete) == 1:
                node = concrete[0]
                continue
        return _View(nullable, node, ref)
    raise RecursionError(f"$ref chain longer than 64 from {ref}")


def _types(node: JsonMap) -> list[str]:
    declared = node.get("type")
    names = [declared] if isinstance(declared, str) else list(declared or [])
    return sorted(n for n in names if n != "null")


def _enum(node: JsonMap) -> list[str] | None:
    if "enum" not in node:
        return None
    return sorted(json.dumps(v) for v in node["enum"] if v is not None)


def _concrete_branches(node: JsonMap) -> list[Json]:
    return [b for b in node.get("anyOf", []) if not _is_null_schema(b)]


def _deviating(node: JsonMap) -> set[str]:
    """Names of the properties marked as deliberate deviations from Stripe's fragments."""
    return {
        name
        for name, prop in node.get("properties", {}).items()
        if isinstance(prop, Mapping) and "x-spt-deviation" in prop
    }


def schema_differences(
    stripe: JsonMap, ours: JsonMap, *, stripe_root: JsonMap, our_root: JsonMap, path: str
) -> list[str]:
    """Every way `ours` differs from Stripe's schema `stripe`, as '<path>: <what differs>'.

    Compared: property names, types, nullability, enums, `required`, `additionalProperties`,
    array items, multi-branch `anyOf`, recursively. Not compared: descriptions, formats, lengths,
    patterns, minimums, extensions. A `$ref` to a component that Stripe's fragments do not
    include is compared by name only.
    """
    differences: list[str] = []
    _compare(stripe, ours, stripe_root, our_root, path, differences, depth=0)
    return differences


def _compare(
    stripe_node: JsonMap,
    our_node: JsonMap,
    stripe_root: JsonMap,
    our_root: JsonMap,
    path: str,
    out: list[str],
    depth: int,
) -> None:
    if "x-spt-deviation" in our_node:
        return
    if depth > 32:
        out.append(f"{path}: nested deeper than 32 levels (a reference cycle?)")
        return
    theirs, ours = _unwrap(stripe_node, stripe_root), _unwrap(our_node, our_root)
    if theirs.nullable != ours.nullable:
        out.append(f"{path}: nullable is {ours.nullable} here, {theirs.nullable} in Stripe's fragment")
    if theirs.node is None:
        if ours.ref != theirs.ref:
            out.append(f"{path}: refers to {ours.ref} here, Stripe's fragment refers to {theirs.ref}")
        return
    if ours.node is None:
        out.append(f"{path}: refers to {ours.ref}, which this document does not define")
        return
    s, o = theirs.node, ours.node

    if _types(s) != _types(o):
        out.append(f"{path}: type is {_types(o)} here, {_types(s)} in Stripe's fragment")
    if _enum(s) != _enum(o):
        out.append(f"{path}: enum is {_enum(o)} here, {_enum(s)} in Stripe's fragment")
    if _type_allows_null(o) and "enum" in o and None not in o["enum"]:
        out.append(f"{path}: type allows null but the enum lacks null, so null is refused")

    s_branches, o_branches = _concrete_branches(s), _concrete_branches(o)
    if len(s_branches) != len(o_branches):
        out.append(f"{path}: {len(o_branches)} anyOf branches here, {len(s_branches)} in Stripe's fragment")
    else:
        for i, (s_branch, o_branch) in enumerate(zip(s_branches, o_branches, strict=True)):
            _compare(s_branch, o_branch, stripe_root, our_root, f"{path}/anyOf/{i}", out, depth + 1)

    marked = _deviating(o)
    s_required = set(s.get("required", [])) - marked
    o_required = set(o.get("required", [])) - marked
    for name in sorted(s_required - o_required):
        out.append(f"{path}: {name!r} is required in Stripe's fragment, not here")
    for name in sorted(o_required - s_required):
        out.append(f"{path}: {name!r} is required here, not in Stripe's fragment")

    s_props: JsonMap = s.get("properties", {})
    o_props: JsonMap = o.get("properties", {})
    for name in sorted(set(s_props) - set(o_props) - marked):
        out.append(f"{path}/properties/{name}: in Stripe's fragment, missing here")
    for name in sorted(set(o_props) - set(s_props) - marked):
        out.append(f"{path}/properties/{name}: not in Stripe's fragment and not marked x-spt-deviation")
    for name in sorted((set(s_props) & set(o_props)) - marked):
        _compare(s_props[name], o_props[name], stripe_root, our_root, f"{path}/properties/{name}", out, depth + 1)

    if "items" in s or "items" in o:
        if "items" in s and "items" in o:
            _compare(s["items"], o["items"], stripe_root, our_root, f"{path}/items", out, depth + 1)
        else:
            out.append(f"{path}: items {'absent' if 'items' not in o else 'present'} here, not in Stripe's")

    s_extra, o_extra = s.get("additionalProperties"), o.get("additionalProperties")
    if isinstance(s_extra, Mapping) and isinstance(o_extra, Mapping):
        _compare(s_extra, o_extra, stripe_root, our_root, f"{path}/additionalProperties", out, depth + 1)
    elif s_extra != o_extra:
        out.append(
            f"{path}: additionalProperties is {json.dumps(o_extra)} here, {json.dumps(s_extra)} in Stripe's fragment"
        )


def _parameters(op: JsonMap, root: JsonMap) -> dict[tuple[str, str], JsonMap]:
    resolved = (_resolve(p, root) for p in op.get("parameters", []))
    return {(p["in"], p["name"]): p for p in resolved}


def _encoding(media: JsonMap) -> dict[str, tuple[Json, Json]]:
    return {name: (e.get("style"), e.get("explode")) for name, e in media.get("encoding", {}).items()}


def operation_differences(stripe_doc: JsonMap, our_doc: JsonMap, path: str, method: str) -> list[str]:
    """Every way our operation differs from Stripe's: operationId, parameters (names, places,
    required flags, styles, schemas), request body (required flag, media types, schema,
    encoding) and the response codes and the schemas they name."""
    where = f"{method.upper()} {path}"
    stripe_op: JsonMap = stripe_doc["paths"][path][method]
    our_op = our_doc.get("paths", {}).get(path, {}).get(method)
    if our_op is None:
        return [f"{where}: in Stripe's fragment, missing here"]
    out: list[str] = []
    if stripe_op.get("operationId") != our_op.get("operationId"):
        out.append(
            f"{where}: operationId is {our_op.get('operationId')!r} here, "
            f"{stripe_op.get('operationId')!r} in Stripe's fragment"
        )

    s_params, o_params = _parameters(stripe_op, stripe_doc), _parameters(our_op, our_doc)
    for place, name in sorted(set(s_params) - set(o_params)):
        out.append(f"{where}: {place} parameter {name!r} is in Stripe's fragment, missing here")
    for place, name in sorted(set(o_params) - set(s_params)):
        out.append(f"{where}: {place} parameter {name!r} is not in Stripe's fragment")
    for key in sorted(set(s_params) & set(o_params)):
        s_param, o_param = s_params[key], o_params[key]
        label = f"{where} {key[0]} parameter {key[1]}"
        for attribute in ("required", "style", "explode"):
            if s_param.get(attribute) != o_param.get(attribute):
                out.append(
                    f"{label}: {attribute} is {o_param.get(attribute)!r} here, "
                    f"{s_param.get(attribute)!r} in Stripe's fragment"
                )
        out.extend(
            schema_differences(
                s_param["schema"], o_param["schema"], stripe_root=stripe_doc, our_root=our_doc, path=label
            )
        )

    s_body = stripe_op.get("requestBody")
    o_body = _resolve(our_op["requestBody"], our_doc) if "requestBody" in our_op else None
    if (s_body is None) != (o_body is None):
        out.append(f"{where}: request body {'absent' if o_body is None else 'present'} here, not in Stripe's")
    elif s_body is not None and o_body is not None:
        if bool(s_body.get("required")) != bool(o_body.get("required")):
            out.append(
                f"{where}: requestBody.required is {bool(o_body.get('required'))} here, "
                f"{bool(s_body.get('required'))} in Stripe's fragment"
            )
        s_content: JsonMap = s_body.get("content", {})
        o_content: JsonMap = o_body.get("content", {})
        if sorted(s_content) != sorted(o_content):
            out.append(f"{where}: request media types {sorted(o_content)} here, {sorted(s_content)} in Stripe's")
        for media in sorted(set(s_content) & set(o_content)):
            label = f"{where} request body"
            out.extend(
                schema_differences(
                    s_content[media]["schema"],
                    o_content[media]["schema"],
                    stripe_root=stripe_doc,
                    our_root=our_doc,
                    path=label,
                )
            )
            if _encoding(s_content[media]) != _encoding(o_content[media]):
                out.append(
                    f"{label}: encoding is {_encoding(o_content[media])} here, "
                    f"{_encoding(s_content[media])} in Stripe's fragment"
                )

    s_responses: JsonMap = stripe_op.get("responses", {})
    o_responses: JsonMap = our_op.get("responses", {})
    if sorted(s_responses) != sorted(o_responses):
        out.append(f"{where}: responses {sorted(o_responses)} here, {sorted(s_responses)} in Stripe's fragment")
    for code in sorted(set(s_responses) & set(o_responses)):
        s_schema = s_responses[code]["content"]["application/json"]["schema"]
        o_schema = _resolve(o_responses[code], our_doc)["content"]["application/json"]["schema"]
        if s_schema.get("$ref") != o_schema.get("$ref"):
            out.append(
                f"{where} response {code}: schema is {o_schema.get('$ref')} here, "
                f"{s_schema.get('$ref')} in Stripe's fragment"
            )
    return out


def _component_differences(stripe_doc: JsonMap, our_doc: JsonMap, name: str) -> list[str]:
    ours = our_doc.get("components", {}).get("schemas", {}).get(name)
    if ours is None:
        return [f"{name}: in Stripe's fragment, missing here"]
    theirs = stripe_doc["components"]["schemas"][name]
    return schema_differences(theirs, ours, stripe_root=stripe_doc, our_root=our_doc, path=name)


def _all_fragment_differences(stripe_doc: JsonMap, our_doc: JsonMap) -> list[str]:
    out: list[str] = []
    for name in stripe_doc["components"]["schemas"]:
        if name != PARTIAL_CARD:
            out.extend(_component_differences(stripe_doc, our_doc, name))
    for _, path, method, _ in _operations(stripe_doc):
        out.extend(operation_differences(stripe_doc, our_doc, path, method))
    return out


# ---------------------------------------------------------------------------- examples


@dataclass(frozen=True)
class _Example:
    id: str
    value: Json
    schema_pointer: str  # JSON pointer, into the document, of the schema the example must fit


def _named_examples(holder: JsonMap, root: JsonMap) -> Iterator[tuple[str, Json]]:
    if "example" in holder:
        yield "example", holder["example"]
    for name, example in holder.get("examples", {}).items():
        yield name, _resolve(example, root)["value"]


def _operation_examples(root: JsonMap, base: tuple[str, ...], op: JsonMap) -> Iterator[_Example]:
    label = op.get("operationId", "/".join(base))
    for index, param in enumerate(op.get("parameters", [])):
        where = _ref_segments(param["$ref"]) if "$ref" in param else (*base, "parameters", str(index))
        resolved = _resolve(param, root)
        for name, value in _named_examples(resolved, root):
            yield _Example(f"{label}/parameter:{resolved['name']}/{name}", value, _pointer(*where, "schema"))
    if "requestBody" in op:
        for media_type, media in _resolve(op["requestBody"], root).get("content", {}).items():
            pointer = _pointer(*base, "requestBody", "content", media_type, "schema")
            for name, value in _named_examples(media, root):
                yield _Example(f"{label}/request/{name}", value, pointer)
    for code, response in op.get("responses", {}).items():
        for media_type, media in _resolve(response, root).get("content", {}).items():
            pointer = _pointer(*base, "responses", code, "content", media_type, "schema")
            for name, value in _named_examples(media, root):
                yield _Example(f"{label}/response:{code}/{name}", value, pointer)


def _examples(doc: JsonMap) -> list[_Example]:
    found: list[_Example] = []
    for section, name, method, op in _operations(doc):
        found.extend(_operation_examples(doc, (section, name, method), op))
    return found


@functools.cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(_openapi(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, resource)
    return registry


def _validation_errors(value: Json, schema_pointer: str) -> list[str]:
    validator = Draft202012Validator(
        {"$ref": f"{DOCUMENT_URI}#{quote(schema_pointer, safe='/~')}"},
        registry=_registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator.iter_errors(value)
    ]


# ---------------------------------------------------------------------------- tests: the document


def test_openapi_document_validated_as_3_1_has_no_errors() -> None:
    doc = _openapi()

    errors = [str(error.message) for error in OpenAPIV31SpecValidator(doc).iter_errors()]

    assert doc["openapi"].startswith("3.1"), doc["openapi"]
    assert errors == []


def test_openapi_info_as_written_names_version_and_stripe_source() -> None:
    info = _openapi()["info"]

    assert info["version"] == "1.0.0"
    assert "2026-09-30.preview" in info["description"]
    assert (SPEC_DIR.parent / info["x-spt-stripe-source"]).resolve() == STRIPE_PATH


@pytest.mark.parametrize("example", _examples(_openapi()), ids=lambda e: str(e.id))
def test_openapi_example_against_its_schema_validates(example: _Example) -> None:
    assert _validation_errors(example.value, example.schema_pointer) == []


def test_example_validator_broken_token_reports_each_error() -> None:
    pointer = _pointer("components", "schemas", "shared_payment.issued_token")
    valid = _resolve(_openapi()["components"]["examples"]["issued_token_active"], _openapi())["value"]
    broken = {**valid, "status": "revoked", "usage_details": {"amount_captured": {"value": "0"}}}

    errors = _validation_errors(broken, pointer)

    assert _validation_errors(valid, pointer) == []
    assert any(e.startswith("status:") for e in errors), errors
    assert any(e.startswith("usage_details:") for e in errors), errors


def test_openapi_operations_each_have_request_success_and_error_examples() -> None:
    doc = _openapi()
    labels = {e.id for e in _examples(doc)}
    missing: list[str] = []
    for section, _, method, op in _operations(doc):
        if section != "paths":
            continue  # webhooks: see the next test; a receiver's answer has no body
        op_id = op["operationId"]
        if method == "post" and "requestBody" in op and not any(x.startswith(f"{op_id}/request/") for x in labels):
            missing.append(f"{op_id}: no request body example")
        if not any(x.startswith(f"{op_id}/response:200/") for x in labels):
            missing.append(f"{op_id}: no 200 response example")
        if not any(x.startswith(f"{op_id}/response:") and "/response:200/" not in x for x in labels):
            missing.append(f"{op_id}: no error response example")

    assert missing == []


def test_openapi_webhooks_each_have_a_request_example() -> None:
    doc = _openapi()
    labels = {e.id for e in _examples(doc)}
    op_ids = [op["operationId"] for section, _, _, op in _operations(doc) if section == "webhooks"]

    missing = [op_id for op_id in op_ids if not any(x.startswith(f"{op_id}/request/") for x in labels)]

    assert missing == []


def test_openapi_text_scanned_for_secrets_finds_none() -> None:
    text = OPENAPI_PATH.read_text(encoding="utf-8")

    suspects = re.findall(r"\b[sr]k_(?:test|live)_[A-Za-z0-9]+|whsec_(?!REDACTED\b)[A-Za-z0-9]+|\b\d{13,19}\b", text)

    assert suspects == []


# ---------------------------------------------------------------------------- tests: Stripe drift


@pytest.mark.parametrize("name", [n for n in _stripe()["components"]["schemas"] if n != PARTIAL_CARD])
def test_spt_schema_compared_with_stripe_fragment_has_no_differences(name: str) -> None:
    assert _component_differences(_stripe(), _openapi(), name) == []


@pytest.mark.parametrize(("path", "method"), [(path, method) for _, path, method, _ in _operations(_stripe())], ids=str)
def test_spt_operation_compared_with_stripe_fragment_has_no_differences(path: str, method: str) -> None:
    assert operation_differences(_stripe(), _openapi(), path, method) == []


def test_spt_card_schema_compared_with_partial_fragment_has_no_differences() -> None:
    partial = _stripe()["components"]["schemas"][PARTIAL_CARD]
    ours = _openapi()["components"]["schemas"]["spt_payment_method_card"]

    differences = [
        difference
        for name, prop in partial["properties_read"].items()
        for difference in schema_differences(
            prop,
            ours["properties"][name],
            stripe_root=_stripe(),
            our_root=_openapi(),
            path=f"spt_payment_method_card/properties/{name}",
        )
    ]

    assert sorted(ours["properties"]) == sorted(partial["x-stripeMostCommon"])
    assert sorted(ours["x-expandableFields"]) == sorted(partial["x-expandableFields"])
    assert differences == []


def _drop_enum_value(doc: dict[str, Any]) -> None:
    doc["components"]["schemas"]["shared_payment.issued_token"]["properties"]["status"]["enum"].remove(
        "requires_action"
    )


def _make_non_nullable(doc: dict[str, Any]) -> None:
    properties = doc["components"]["schemas"]["shared_payment.granted_token"]["properties"]
    del properties["deactivated_at"]["nullable"]


def _require_more(doc: dict[str, Any]) -> None:
    doc["components"]["schemas"]["shared_payment.issued_token"]["required"].append("return_url")


def _float_fraud_score(doc: dict[str, Any]) -> None:
    insight = doc["components"]["schemas"]["shared_payment_tokens_risk_details_integer_score_insight"]
    insight["properties"]["score"]["type"] = "number"


def _add_property(doc: dict[str, Any]) -> None:
    doc["components"]["schemas"]["usage_details"]["properties"]["amount_refunded"] = {"type": "integer"}


def _retarget_ref(doc: dict[str, Any]) -> None:
    details = doc["components"]["schemas"]["shared_payment.issued_token"]["properties"]["seller_details"]
    details["anyOf"] = [{"$ref": "#/components/schemas/merchant_details"}]


def _rename_operation(doc: dict[str, Any]) -> None:
    doc["paths"]["/v1/shared_payment/issued_tokens"]["post"]["operationId"] = "PostSharedPaymentTokens"


def _require_revoke_body(doc: dict[str, Any]) -> None:
    op = doc["paths"]["/v1/shared_payment/issued_tokens/{shared_payment_issued_token}/revoke"]["post"]
    op["requestBody"]["required"] = True


def _optional_currency(doc: dict[str, Any]) -> None:
    body = doc["paths"]["/v1/test_helpers/shared_payment/granted_tokens"]["post"]["requestBody"]
    schema = body["content"]["application/x-www-form-urlencoded"]["schema"]
    schema["properties"]["usage_limits"]["required"] = ["max_amount"]


def _rename_path_parameter(doc: dict[str, Any]) -> None:
    op = doc["paths"]["/v1/shared_payment/granted_tokens/{shared_payment_granted_token}"]["get"]
    op["parameters"][1]["name"] = "id"


@pytest.mark.parametrize(
    ("alter", "expected"),
    [
        pytest.param(alter, expected, id=alter.__name__.strip("_"))
        for alter, expected in [
            (_drop_enum_value, "shared_payment.issued_token/properties/status: enum"),
            (_make_non_nullable, "shared_payment.granted_token/properties/deactivated_at: nullable is True here"),
            (_require_more, "shared_payment.issued_token: 'return_url' is required in Stripe's fragment"),
            (_float_fraud_score, "shared_payment_tokens_risk_details_integer_score_insight/properties/score: type"),
            (_add_property, "usage_details/properties/amount_refunded: in Stripe's fragment, missing here"),
            (_retarget_ref, "shared_payment.issued_token/properties/seller_details: refers to"),
            (_rename_operation, "POST /v1/shared_payment/issued_tokens: operationId"),
            (_require_revoke_body, "requestBody.required is False here, True in Stripe's fragment"),
            (_optional_currency, "usage_limits: 'currency' is required here, not in Stripe's fragment"),
            (_rename_path_parameter, "path parameter 'id' is in Stripe's fragment, missing here"),
        ]
    ],
)
def test_fragment_comparator_altered_fragment_reports_difference(
    alter: Callable[[dict[str, Any]], None], expected: str
) -> None:
    altered = copy.deepcopy(_stripe())
    alter(altered)

    differences = _all_fragment_differences(altered, _openapi())

    assert any(expected in d for d in differences), differences


def test_fragment_comparator_nullable_enum_without_null_reports_it() -> None:
    stripe = {"type": "string", "nullable": True, "enum": ["a", "b"]}
    ours = {"type": ["string", "null"], "enum": ["a", "b"]}

    differences = schema_differences(stripe, ours, stripe_root={}, our_root={}, path="x")

    assert differences == ["x: type allows null but the enum lacks null, so null is refused"]


def _deviation_marks(node: Json, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        if "x-spt-deviation" in node:
            yield path or "/", str(node["x-spt-deviation"])
        for key, child in node.items():
            yield from _deviation_marks(child, f"{path}/{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _deviation_marks(child, f"{path}/{i}")


@pytest.mark.parametrize(("where", "decision"), list(_deviation_marks(_openapi())), ids=lambda v: str(v))
def test_deviation_mark_with_decision_number_has_decisions_heading(where: str, decision: str) -> None:
    assert re.fullmatch(r"D-\d{2}", decision), f"{where}: {decision!r} is not a D-NN decision number"
    assert decision in _decision_ids(), f"{where}: DECISIONS.md has no '## {decision}' heading"


# ---------------------------------------------------------------------------- tests: extensions


def test_openapi_operations_each_name_a_known_actor() -> None:
    wrong = [
        f"{method.upper()} {name}: {op.get('x-spt-actor')!r}"
        for _, name, method, op in _operations(_openapi())
        if op.get("x-spt-actor") not in ACTORS
    ]

    assert wrong == []


def test_openapi_token_operations_actor_is_agent_or_seller_by_view() -> None:
    actors = {op["operationId"]: op["x-spt-actor"] for _, _, _, op in _operations(_openapi())}

    issued = {k: v for k, v in actors.items() if "SharedPaymentIssuedToken" in k and not k.startswith("Webhook")}
    granted = {k: v for k, v in actors.items() if "GrantedToken" in k and not k.startswith("Webhook")}

    assert set(issued.values()) == {"agent"}, issued
    assert set(granted.values()) == {"seller"}, granted


def test_openapi_extension_mark_only_on_clock_operations() -> None:
    extensions = {op["operationId"] for _, _, _, op in _operations(_openapi()) if op.get("x-spt-extension") is True}

    assert extensions == CLOCK_OPERATIONS


def test_openapi_webhooks_listed_are_exactly_the_spt_event_types() -> None:
    assert set(_openapi()["webhooks"]) == SPT_EVENT_TYPES


@pytest.mark.parametrize("event_type", sorted(SPT_EVENT_TYPES))
def test_openapi_webhook_body_for_event_type_pins_type_and_view(event_type: str) -> None:
    doc = _openapi()
    schema = doc["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]["schema"]
    pinned = [part["properties"]["type"]["const"] for part in schema["allOf"] if "properties" in part]
    envelope = [part["$ref"] for part in schema["allOf"] if "$ref" in part]
    view = "issued" if ".issued_token." in event_type else "granted"

    assert pinned == [event_type]
    assert envelope == [f"#/components/schemas/shared_payment_{view}_token_event"]
