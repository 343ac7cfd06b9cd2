"""The malformed requests of the bad-input tests: a valid request damaged in one way each.

Built from a valid request, so that a refusal is about the damage and nothing else. `MALFORMED`
must be refused; `ODD` is parseable and may be accepted, but never with a server error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from conformance.client import Exchange, StripeClient, encode_form
from conformance.scenario import ISSUED, PAYMENT_INTENTS, Scenario, unknown_token_id

__all__ = ["MALFORMED", "ODD", "Sent", "as_agent", "send"]

ONE_MIB = 1024 * 1024
MAX = "usage_limits[max_amount]"


@dataclass(frozen=True)
class Sent:
    """A raw request: method, path (with any query), body bytes and content type."""

    method: str
    path: str
    body: bytes = b""
    content_type: str | None = "application/x-www-form-urlencoded"


def issue_body(spt: Scenario) -> str:
    return encode_form(spt.issue_params())


def _post(path: str, body: bytes, content_type: str = "application/x-www-form-urlencoded") -> Sent:
    return Sent("POST", path, body, content_type)


def _issue_with(suffix: bytes) -> Callable[[Scenario], Sent]:
    return lambda spt: _post(ISSUED, issue_body(spt).encode() + suffix)


def _issue_setting(key: str, pair: str) -> Callable[[Scenario], Sent]:
    """The valid issue body with the `key=…` pair replaced by `pair`."""
    pattern = re.compile(re.escape(key) + r"=[^&]*")
    return lambda spt: _post(ISSUED, pattern.sub(pair, issue_body(spt), count=1).encode())


MALFORMED: dict[str, Callable[[Scenario], Sent]] = {
    "unclosed bracket": _issue_with(b"&shared_metadata[k=v"),
    "reversed brackets": _issue_with(b"&shared_metadata]k[=v"),
    "empty key in brackets": _issue_with(b"&[]=v"),
    "brackets without a name": _issue_with(b"&[k]=v"),
    "nesting 200 deep": _issue_with(b"&shared_metadata" + b"[a]" * 200 + b"=v"),
    "scalar and map for one name": _issue_with(b"&usage_limits=5"),
    "array and map for one name": _issue_with(b"&expand[]=risk_details&expand[x]=y"),
    "invalid UTF-8, percent-encoded": _issue_with(b"&shared_metadata[k]=%FF%FE%FD"),
    "invalid UTF-8, raw bytes": _issue_with(b"&shared_metadata[k]=\xff\xfe\xfd"),
    "NUL byte, percent-encoded": _issue_with(b"&shared_metadata[k]=a%00b"),
    "NUL byte, raw": _issue_with(b"&shared_metadata[k]=a\x00b"),
    "body over 1 MiB": _issue_with(b"&shared_metadata[k]=" + b"a" * (ONE_MIB + 16)),
    "JSON body": lambda spt: _post(ISSUED, json.dumps(spt.issue_params()).encode(), "application/json"),
    "JSON body labelled as a form": lambda spt: _post(ISSUED, json.dumps(spt.issue_params()).encode()),
    "max_amount decimal": _issue_setting(MAX, f"{MAX}=12.5"),
    "max_amount exponent": _issue_setting(MAX, f"{MAX}=1e3"),
    "max_amount text": _issue_setting(MAX, f"{MAX}=abc"),
    "max_amount empty": _issue_setting(MAX, f"{MAX}="),
    "max_amount beyond 64 bits": _issue_setting(MAX, f"{MAX}=99999999999999999999999999"),
    "max_amount as an array": _issue_setting(MAX, f"{MAX}[]=1000"),
    "expires_at text": _issue_setting("usage_limits[expires_at]", "usage_limits[expires_at]=soon"),
    "payment amount decimal": lambda spt: _post(
        PAYMENT_INTENTS,
        encode_form(spt.pay_params(unknown_token_id(), 100)).replace("amount=100", "amount=10.5").encode(),
    ),
    "payment amount negative": lambda spt: _post(
        PAYMENT_INTENTS,
        encode_form(spt.pay_params(unknown_token_id(), 100)).replace("amount=100", "amount=-100").encode(),
    ),
    "query with invalid UTF-8": lambda spt: Sent("GET", f"{ISSUED}/{unknown_token_id()}?expand[0]=%FF%FE", b"", None),
    "query with an unclosed bracket": lambda spt: Sent("GET", f"{ISSUED}/{unknown_token_id()}?expand[0=x", b"", None),
    "path with invalid UTF-8": lambda spt: Sent("GET", f"{ISSUED}/spt_%FF%FE", b"", None),
    "path of 10,000 characters": lambda spt: Sent("GET", f"{ISSUED}/spt_{'a' * 10_000}", b"", None),
}

# Odd but parseable (WHATWG form decoding keeps a bad escape literally): a server may accept
# these, but must not fail on them.
ODD: dict[str, Callable[[Scenario], Sent]] = {
    "bad percent escape": _issue_with(b"&shared_metadata[k]=%zz"),
    "one parameter twice": _issue_with(b"&usage_limits[currency]=usd"),
    "sparse array index": _issue_with(b"&expand[7]=risk_details"),
}


def send(client: StripeClient, sent: Sent) -> Exchange:
    return client.request(sent.method, sent.path, content=sent.body or None, content_type=sent.content_type)


def as_agent(spt: Scenario, sent: Sent) -> StripeClient:
    return spt.seller if sent.path.startswith(PAYMENT_INTENTS) else spt.agent
