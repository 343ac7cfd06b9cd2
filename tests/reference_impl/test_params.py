"""Parameter schemas: conversions, unknown and missing parameters, Stripe's messages."""

from __future__ import annotations

import pytest

from reference_impl.errors import ValidationError
from reference_impl.params import Array, Bool, Enum, Int, Map, Obj, Str, validate

SCHEMA = Obj(
    {
        "n": Int(minimum=1),
        "flag": Bool(),
        "kind": Enum(("a", "b")),
        "meta": Map(),
        "list": Array(Str()),
        "nested": Obj({"req": Str(required=True), "opt": Str(max_length=3)}),
    }
)


def test_validate_converts_values_and_drops_empty_optionals() -> None:
    raw = {
        "n": "5",
        "flag": "true",
        "kind": "b",
        "meta": {"k": "v"},
        "list": {"1": "y", "0": "x"},
        "nested": {"req": "r", "opt": ""},
    }
    assert validate(SCHEMA, raw) == {
        "n": 5, "flag": True, "kind": "b", "meta": {"k": "v"}, "list": ["x", "y"], "nested": {"req": "r"},
    }  # fmt: skip


def test_validate_empty_string_unsets_a_map() -> None:
    assert validate(SCHEMA, {"meta": ""}) == {"meta": {}}


@pytest.mark.parametrize(
    ("raw", "param", "message"),
    [
        ({"zzz": "1"}, "zzz", "Received unknown parameter: zzz"),
        ({"nested": {"req": "r", "x": "1"}}, "nested[x]", "Received unknown parameter: nested[x]"),
        ({"nested": {}}, "nested[req]", "Missing required param: nested[req]."),
        ({"nested": {"req": ""}}, "nested[req]", "You passed an empty string for 'nested[req]'"),
        ({"n": "1.5"}, "n", "Invalid integer: 1.5"),
        ({"n": "0"}, "n", "Invalid n: must be greater than or equal to 1"),
        ({"flag": "yes"}, "flag", "Invalid boolean: yes"),
        ({"kind": "c"}, "kind", "Invalid kind: must be one of a, b"),
        ({"nested": {"req": "r", "opt": "long"}}, "nested[opt]", "Invalid nested[opt]: must be at most 3 characters"),
        ({"nested": "flat"}, "nested", "Invalid nested: must be a hash"),
        ({"list": {"a": "x"}}, "list", "Invalid list: must be an array"),
        ({"meta": {"k" * 41: "v"}}, "meta[" + "k" * 41 + "]", "keys must be at most 40"),
        ({"n": {"x": "1"}}, "n", "Invalid integer"),
    ],
)
def test_validate_refusals_name_the_parameter(raw: dict[str, object], param: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate(SCHEMA, raw)
    assert caught.value.param == param
    assert message in caught.value.message


def test_validate_unknown_parameter_name_is_echoed_only_in_part() -> None:
    with pytest.raises(ValidationError) as caught:
        validate(SCHEMA, {"z" * 1_000_000: "1"})
    assert caught.value.param == "z" * 200 + "…"
    assert len(caught.value.message) < 300
