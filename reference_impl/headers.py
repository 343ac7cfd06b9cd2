"""The request headers the server reads, checked before use, and the response headers it may echo.

A header echoed from a request must be legal in a response: HTTP forbids leading or trailing
whitespace and control characters, and uvicorn's HTTP layer refuses to send such a response at
all, which would leave the client with an empty reply. So `Stripe-Version` must be a version
(D-38) and `Idempotency-Key` a non-empty key without a card number (D-37, D-39), and
`legal_headers` drops anything else before a response is written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from reference_impl import cards
from reference_impl.context import DEFAULT_API_VERSION
from reference_impl.errors import ValidationError

__all__ = ["idempotency_key", "legal_headers", "stripe_version"]

# "2026-10-14.preview", optionally with betas: "2026-04-22.preview; some_beta=v2; other_beta=v1".
_VERSION: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:\.[a-z][a-z0-9_]*)?(?:; ?[a-z][a-z0-9_]*=v[0-9]+)*", re.ASCII
)
_MAX_VERSION: Final = 200
# A response header value as HTTP allows it: visible characters, inner spaces and tabs only.
_LEGAL_VALUE: Final = re.compile(r"[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?")


def stripe_version(sent: str | None) -> str:
    """The API version a request asks for (the default when it names none), or a refusal that
    does not repeat what was sent (D-38)."""
    if sent is None or sent == "":
        return DEFAULT_API_VERSION
    if len(sent) > _MAX_VERSION or _VERSION.fullmatch(sent) is None:
        raise ValidationError(
            f"Invalid Stripe-Version header ({len(sent)} characters): expected an API version such as "
            f"{DEFAULT_API_VERSION}, optionally with betas ('; name=v1'), at most {_MAX_VERSION} characters.",
            param="Stripe-Version",
        )
    return sent


def idempotency_key(sent: str | None) -> str | None:
    """The Idempotency-Key of a POST, None when absent; an empty key or one holding a card
    number is refused without being repeated (D-37, D-39)."""
    if sent is None:
        return None
    if sent == "":
        raise ValidationError(
            "Idempotency-Key is empty: send a unique key per request (a UUID, for instance) or leave the "
            "header out. An empty key would be shared by every request that sends one.",
            param="Idempotency-Key",
        )
    if cards.contains_card_number(sent):
        raise ValidationError(
            "Idempotency-Key looks like it holds a card number; card numbers cannot be sent to this API. "
            "Use a random key, such as a UUID.",
            param="Idempotency-Key",
        )
    return sent


def legal_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """`headers` without any value HTTP forbids in a response (the last line of defence: a
    header the server echoes is checked when it is read)."""
    return {name: value for name, value in headers.items() if _LEGAL_VALUE.fullmatch(value)}
