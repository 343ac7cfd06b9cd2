"""Form and query-string decoding into nested dicts, the way Stripe's v1 API reads them.

`a[b][c]=1` nests, `expand[]=x` appends to a list, `expand[0]=x` becomes a dict keyed "0" (the
parameter schema, not the parser, decides that a dict of indices is an array, so
`shared_metadata[0]=x` stays a map). Decoding is strict: a malformed bracket name, a
percent-escape that is not UTF-8, a NUL byte, a name given twice, or a name given both as a value
and as a hash is a 400 before anything executes.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_to_bytes

from reference_impl.errors import ValidationError

__all__ = ["MAX_DEPTH", "parse_form"]

MAX_DEPTH = 8  # no parameter of the API nests deeper; a limit keeps recursion bounded

_NAME = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


def _decode(raw: bytes, what: str) -> str:
    try:
        text = unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(f"Invalid request: the {what} is not valid UTF-8.") from None
    if "\x00" in text:
        raise ValidationError(f"Invalid request: the {what} contains a NUL character.")
    return text


def _conflict(name: str) -> ValidationError:
    return ValidationError(
        f"Invalid request: {name} is given more than once, or both as a value and as a hash.",
        param=name,
    )


def _insert(tree: dict[str, Any], name: str, value: str) -> None:
    match = _NAME.match(name)
    if match is None:
        raise ValidationError(f"Invalid request: malformed parameter name {name!r}.", param=name)
    keys = [match.group(1), *_SEGMENT.findall(match.group(2))]
    if len(keys) > MAX_DEPTH:
        raise ValidationError(f"Invalid request: {name!r} is nested more than {MAX_DEPTH} levels deep.", param=name)
    if "" in keys[:-1] or keys[0] == "":
        raise ValidationError(f"Invalid request: {name!r} has an empty [] before its last segment.", param=name)
    node: dict[str, Any] = tree
    for depth, key in enumerate(keys[:-1]):
        following = keys[depth + 1]
        child = node.get(key)
        if child is None:
            child = [] if following == "" else {}
            node[key] = child
        if following == "":
            if not isinstance(child, list):
                raise _conflict(name)
            child.append(value)
            return
        if not isinstance(child, dict):
            raise _conflict(name)
        node = child
    last = keys[-1]
    if last in node:
        raise _conflict(name)
    node[last] = value


def parse_form(raw: bytes, what: str = "request body") -> dict[str, Any]:
    """Decode `a=1&b[c]=2` (a form body or a query string) into nested dicts and lists."""
    if b"\x00" in raw:
        raise ValidationError(f"Invalid request: the {what} contains a NUL byte.")
    tree: dict[str, Any] = {}
    for piece in raw.split(b"&"):
        if not piece:
            continue
        name_raw, _, value_raw = piece.partition(b"=")
        name = _decode(name_raw, what)
        if not name:
            raise ValidationError("Invalid request: a parameter has an empty name.")
        _insert(tree, name, _decode(value_raw, what))
    return tree
