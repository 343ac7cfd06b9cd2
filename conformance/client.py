"""Stripe's wire conventions, spoken by one account: the only way the suite makes API calls.

Every call goes through one `httpx.Client` (the seam: a socket, a recording or a replay, as the
session decides) and comes back as an `Exchange`, the unit of evidence: what was sent, what came
back, by whom. Each exchange is handed to the test's `Journal`, which runs the registered
checks on it (see `conformance.checks`) so that wire-level requirements are checked on every
response of every test, not only where a test remembers to.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal
from urllib.parse import quote

import httpx

from conformance.ratelimit import RateLimiter
from conformance.retry import MAX_NETWORK_RETRIES, backoff, should_retry
from conformance.target import Account

__all__ = ["Exchange", "Journal", "StripeClient", "encode_form"]

ArrayStyle = Literal["indexed", "brackets"]
Auth = Literal["bearer", "basic", "none"]
_UNSET: Any = object()


def _flatten(prefix: str, value: Any, style: ArrayStyle, out: list[tuple[str, str]]) -> None:
    if value is None:
        return
    if isinstance(value, Mapping):
        if not value and prefix:
            out.append((prefix, ""))  # Stripe's way to unset a map
        for key, item in value.items():
            _flatten(f"{prefix}[{key}]" if prefix else str(key), item, style, out)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _flatten(f"{prefix}[{index}]" if style == "indexed" else f"{prefix}[]", item, style, out)
    elif isinstance(value, bool):
        out.append((prefix, "true" if value else "false"))
    else:
        out.append((prefix, str(value)))


def encode_form(params: Mapping[str, Any], array_style: ArrayStyle = "indexed") -> str:
    """Encode nested parameters the way Stripe's SDKs do.

    `{"usage_limits": {"max_amount": 1000}, "expand": ["risk_details"]}` becomes
    `usage_limits[max_amount]=1000&expand[0]=risk_details` (or `expand[]=` with "brackets").
    Brackets stay literal, as the SDK sends them.
    """
    pairs: list[tuple[str, str]] = []
    _flatten("", params, array_style, pairs)
    return "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in pairs)


@dataclass(frozen=True)
class Exchange:
    """One request and its response, with the credentials already hidden."""

    actor: str
    method: str
    url: str
    request_headers: Mapping[str, str]
    request_body: str
    status: int
    response_headers: Mapping[str, str]
    response_text: str
    elapsed_ms: float
    attempts: int = 1  # sends it took, when the first answers were server errors worth resending

    @cached_property
    def body(self) -> Any:
        """The decoded JSON response, or None when it is not JSON."""
        try:
            return json.loads(self.response_text)
        except ValueError:
            return None

    @property
    def error(self) -> Mapping[str, Any] | None:
        body = self.body
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            error: Mapping[str, Any] = body["error"]
            return error
        return None

    @cached_property
    def path(self) -> str:  # read by most checks of every exchange: parsed once
        return httpx.URL(self.url).raw_path.decode("ascii", "replace")

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.response_headers.items() if k.lower() == lowered), None)

    def describe(self) -> str:
        """One line: `agent POST /v1/... -> 400 invalid_request_error/amount_too_large`."""
        outcome = str(self.status)
        if self.error is not None:
            outcome += f" {self.error.get('type')}"
            if self.error.get("code"):
                outcome += f"/{self.error.get('code')}"
        return f"{self.actor} {self.method} {self.path} -> {outcome}"

    def render(self, limit: int = 4000) -> str:
        """The full exchange as text, bodies cut at `limit` characters."""

        def cut(text: str) -> str:
            return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"

        request = "\n".join(f"{k}: {v}" for k, v in self.request_headers.items())
        response = "\n".join(f"{k}: {v}" for k, v in self.response_headers.items())
        return (
            f"{self.method} {self.url}   (as {self.actor})\n{request}\n\n{cut(self.request_body)}\n"
            f"--> {self.status}  ({self.elapsed_ms:.0f} ms)\n{response}\n\n{cut(self.response_text)}"
        )


@dataclass
class Journal:
    """The exchanges of one test, and what the registered checks found in them."""

    inspect: Callable[[Exchange], Sequence[Exception]] = field(default=lambda exchange: ())
    exchanges: list[Exchange] = field(default_factory=list)
    findings: list[Exception] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, exchange: Exchange) -> None:
        found = self.inspect(exchange)
        with self._lock:
            self.exchanges.append(exchange)
            self.findings.extend(found)

    def add_findings(self, found: Sequence[Exception]) -> None:
        """Findings made outside an exchange (a webhook delivery the test observed)."""
        with self._lock:
            self.findings.extend(found)


def _visible_headers(headers: httpx.Headers, account: Account) -> dict[str, str]:
    shown = {}
    for name, value in headers.items():
        if name.lower() == "authorization":
            scheme = value.split(" ", 1)[0]
            value = f"{scheme} <{account.key_hint}>"
        shown[name] = value
    return shown


class StripeClient:
    """One account's view of the target."""

    def __init__(
        self,
        http: httpx.Client,
        account: Account,
        journal: Journal,
        *,
        stripe_version: str | None = None,
        limiter: RateLimiter | None = None,
        max_rate_retries: int = 5,
        max_network_retries: int = MAX_NETWORK_RETRIES,
    ) -> None:
        self.http = http
        self.account = account
        self.journal = journal
        self.stripe_version = stripe_version
        self.limiter = limiter
        self.max_rate_retries = max_rate_retries
        self.max_network_retries = max_network_retries

    @property
    def role(self) -> str:
        return self.account.role

    def get(self, path: str, params: Mapping[str, Any] | None = None, **options: Any) -> Exchange:
        return self.request("GET", path, params, **options)

    def post(self, path: str, params: Mapping[str, Any] | None = None, **options: Any) -> Exchange:
        return self.request("POST", path, params, **options)

    def delete(self, path: str, params: Mapping[str, Any] | None = None, **options: Any) -> Exchange:
        return self.request("DELETE", path, params, **options)

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = _UNSET,
        auth: Auth = "bearer",
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
        array_style: ArrayStyle = "indexed",
    ) -> Exchange:
        """Send one request and record it.

        POST bodies are form-encoded from `params` (or sent raw from `content`, for bad-input
        tests); GET and DELETE parameters go in the query string. Like Stripe's SDKs, every POST
        carries a fresh random Idempotency-Key unless one is given or `idempotency_key=None`.
        """
        method = method.upper()
        sent = httpx.Headers()
        if auth == "bearer":
            sent["Authorization"] = f"Bearer {self.account.secret_key}"
        elif auth == "basic":
            # The key is the username and the password is empty: `curl -u sk_test_…:`.
            sent["Authorization"] = "Basic " + base64.b64encode(f"{self.account.secret_key}:".encode()).decode()
        if self.stripe_version:
            sent["Stripe-Version"] = self.stripe_version
        if method == "POST":
            # Random like the SDK's, but URL-safe base64 rather than a UUID: a UUID's last group
            # can read as a Luhn-valid card number to the scanners, and events echo the key.
            key = f"spt-{secrets.token_urlsafe(18)}" if idempotency_key is _UNSET else idempotency_key
            if key is not None:
                sent["Idempotency-Key"] = key
        url = path
        body = b""
        encoded = encode_form(params or {}, array_style)
        if content is not None:
            body = content
            sent["Content-Type"] = content_type or "application/x-www-form-urlencoded"
        elif method == "POST":
            body = encoded.encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif encoded:
            url = f"{path}?{encoded}"
        for name, value in (headers or {}).items():
            sent[name] = value
        return self._send(method, url, sent, body)

    def _send(self, method: str, url: str, headers: httpx.Headers, body: bytes) -> Exchange:
        """Send, resending as Stripe's SDKs do (see `conformance.retry`), with the same headers
        and so the same Idempotency-Key; only the last answer is judged."""
        rate_retries = network_retries = 0
        while True:
            if self.limiter is not None:
                self.limiter.acquire()
            started = time.perf_counter()
            response = self.http.request(method, url, headers=headers, content=body)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code == 429 and rate_retries < self.max_rate_retries:
                # Stripe's rate limiter: wait as told, then try again with the same key.
                time.sleep(_retry_after(response.headers.get("Retry-After"), rate_retries))
                rate_retries += 1
                continue
            if network_retries < self.max_network_retries and should_retry(response.status_code, response.headers):
                network_retries += 1
                time.sleep(backoff(network_retries, response.headers.get("Retry-After")))
                continue
            break
        exchange = Exchange(
            actor=self.role,
            method=method,
            url=str(response.request.url),
            request_headers=_visible_headers(response.request.headers, self.account),
            request_body=body.decode("utf-8", "replace"),
            status=response.status_code,
            response_headers=dict(response.headers),
            response_text=response.text,
            elapsed_ms=elapsed,
            attempts=1 + rate_retries + network_retries,
        )
        self.journal.record(exchange)
        return exchange


def _retry_after(value: str | None, attempt: int) -> float:
    try:
        return min(max(float(value), 0.0), 30.0) if value else min(0.5 * 2.0**attempt, 8.0)
    except ValueError:
        return min(0.5 * 2.0**attempt, 8.0)
