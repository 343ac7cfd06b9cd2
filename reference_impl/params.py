"""Parameter schemas: a small declarative vocabulary that validates decoded form data.

Every operation declares its parameters as an `Obj` of `Str`, `Int`, `Bool`, `Enum`, `Map`,
`Array` and nested `Obj`. Validation is pure and happens before execution, so a refusal here
saves nothing under an Idempotency-Key. Messages follow Stripe's ("Received unknown parameter:
usage_limits[foo]", "Missing required param: usage_limits[currency].") and `param` names the
parameter in bracket notation. An empty string means "not given" for an optional parameter (an
empty map for a `Map`), as in Stripe's API, and is refused for a required one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reference_impl.errors import ValidationError

__all__ = ["ABSENT", "Array", "Bool", "Enum", "Int", "Map", "Obj", "Spec", "Str", "validate"]

ABSENT: Any = object()
_INTEGER = re.compile(r"-?[0-9]{1,18}", re.ASCII)  # ASCII digits: int() would also read "１０００"


def _join(parent: str, key: str) -> str:
    return f"{parent}[{key}]" if parent else key


def _invalid(param: str, why: str) -> ValidationError:
    return ValidationError(f"Invalid {param}: {why}", param=param)


@dataclass(frozen=True)
class Spec:
    required: bool = field(default=False, kw_only=True)

    def check(self, value: Any, param: str) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class Str(Spec):
    max_length: int = 5000
    pattern: str | None = None
    why: str = "must match the expected format"

    def check(self, value: Any, param: str) -> Any:
        if not isinstance(value, str):
            raise _invalid(param, "must be a string")
        if len(value) > self.max_length:
            raise _invalid(param, f"must be at most {self.max_length} characters")
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            raise _invalid(param, self.why)
        return value


@dataclass(frozen=True)
class Int(Spec):
    minimum: int | None = None
    maximum: int | None = None

    def check(self, value: Any, param: str) -> Any:
        if not isinstance(value, str) or _INTEGER.fullmatch(value) is None:
            raise ValidationError(f"Invalid integer: {_short(value)}", param=param)
        number = int(value)
        if self.minimum is not None and number < self.minimum:
            raise _invalid(param, f"must be greater than or equal to {self.minimum}")
        if self.maximum is not None and number > self.maximum:
            raise _invalid(param, f"must be less than or equal to {self.maximum}")
        return number


@dataclass(frozen=True)
class Bool(Spec):
    def check(self, value: Any, param: str) -> Any:
        if value not in ("true", "false"):
            raise ValidationError(f"Invalid boolean: {_short(value)}", param=param)
        return value == "true"


@dataclass(frozen=True)
class Enum(Spec):
    values: tuple[str, ...] = ()

    def check(self, value: Any, param: str) -> Any:
        if value not in self.values:
            raise _invalid(param, f"must be one of {', '.join(self.values)}")
        return value


@dataclass(frozen=True)
class Map(Spec):
    """Stripe metadata: string keys (at most 40 characters) to string values (at most 500)."""

    max_keys: int = 50

    def check(self, value: Any, param: str) -> Any:
        if not isinstance(value, dict):
            raise _invalid(param, "must be a hash of string keys to string values")
        if len(value) > self.max_keys:
            raise _invalid(param, f"can have at most {self.max_keys} keys")
        for key, item in value.items():
            if len(key) > 40:
                raise _invalid(_join(param, key), "keys must be at most 40 characters")
            if not isinstance(item, str):
                raise _invalid(_join(param, key), "values must be strings")
            if len(item) > 500:
                raise _invalid(_join(param, key), "values must be at most 500 characters")
        return dict(value)


@dataclass(frozen=True)
class Array(Spec):
    item: Spec = field(default_factory=Str)
    max_items: int = 100

    def check(self, value: Any, param: str) -> Any:
        if isinstance(value, dict):
            # ASCII digits only: str.isdigit() also admits '¹' and its kin, which int() refuses.
            if not all(k.isascii() and k.isdigit() and len(k) < 6 for k in value):
                raise _invalid(param, "must be an array")
            items = [value[k] for k in sorted(value, key=int)]
        elif isinstance(value, list):
            items = value
        else:
            raise _invalid(param, "must be an array")
        if len(items) > self.max_items:
            raise _invalid(param, f"can have at most {self.max_items} items")
        return [self.item.check(item, f"{param}[{index}]") for index, item in enumerate(items)]


_SHOWN_NAME = 200  # characters of an unknown parameter's name echoed in its error


@dataclass(frozen=True)
class Obj(Spec):
    fields: Mapping[str, Spec] = field(default_factory=dict)

    def check(self, value: Any, param: str) -> Any:
        if not isinstance(value, dict):
            raise _invalid(param, "must be a hash") if param else ValidationError("Invalid request.")
        for key in value:
            if key not in self.fields:
                name = _join(param, key)
                if len(name) > _SHOWN_NAME:  # a 1 MB name must not make a 1 MB answer
                    name = name[:_SHOWN_NAME] + "…"
                raise ValidationError(f"Received unknown parameter: {name}", param=name)
        out: dict[str, Any] = {}
        for key, spec in self.fields.items():
            checked = _field(spec, value.get(key, ABSENT), _join(param, key))
            if checked is not ABSENT:
                out[key] = checked
        return out


def _field(spec: Spec, value: Any, param: str) -> Any:
    if value is ABSENT:
        if spec.required:
            raise ValidationError(f"Missing required param: {param}.", param=param)
        return ABSENT
    if value == "":
        if spec.required:
            raise ValidationError(
                f"You passed an empty string for '{param}'. We assume empty values are an attempt to "
                f"unset a parameter; however '{param}' cannot be unset. You should remove '{param}' "
                "from your request or supply a non-empty value.",
                param=param,
            )
        return {} if isinstance(spec, Map) else ABSENT
    return spec.check(value, param)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else "(a hash or array)"
    return text if len(text) <= 40 else text[:37] + "..."


def validate(schema: Obj, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The decoded parameters checked against `schema`: converted values, absent keys omitted."""
    result: dict[str, Any] = schema.check(dict(raw), "")
    return result
