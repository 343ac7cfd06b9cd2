"""Form decoding: nesting, arrays, and strict refusals."""

from __future__ import annotations

import pytest

from reference_impl.errors import ValidationError
from reference_impl.forms import parse_form


def test_parse_form_nests_brackets_and_arrays() -> None:
    raw = b"a=1&b[c]=2&b[d][e]=3&x[]=p&x[]=q&y[0]=r&y[1]=s&m=a+b%20c"
    assert parse_form(raw) == {
        "a": "1",
        "b": {"c": "2", "d": {"e": "3"}},
        "x": ["p", "q"],
        "y": {"0": "r", "1": "s"},
        "m": "a b c",
    }


def test_parse_form_empty_pieces_and_empty_values() -> None:
    assert parse_form(b"&a=&&b=1&") == {"a": "", "b": "1"}


@pytest.mark.parametrize(
    "raw",
    [b"a[b=1", b"a]=1", b"a[b]c=1", b"[a]=1", b"=1", b"a=1&a=2", b"a=1&a[b]=2", b"a[b]=1&a=2",
     b"a[]=1&a[x]=2", b"a[][b]=1", b"a=%ff", b"a=\x00", b"a=%00", b"%ff=1", b"a" + b"[b]" * 2000 + b"=1"],
)  # fmt: skip
def test_parse_form_malformed_input_is_refused(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        parse_form(raw)
