"""The HTTP-layer variants of variants.py as one ASGI middleware around the reference app.

Each name changes what an honest server's HTTP layer may do differently: answer some requests
itself (405, 501, 413 without a Request-Id or a JSON body), reword error messages, add fields and
open-enum values, other Request-Id formats, close every connection, compress, be slow. The app
is untouched; `app.create_app` adds this middleware only when a variant asks for it.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import secrets
import uuid
from collections.abc import Callable
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HTTP_VARIANTS", "HttpVariants"]

MAX_BODY: Final = 1024 * 1024  # the app's own limit (app.MAX_BODY); the transport refuses first
_API_METHODS: Final = frozenset({"GET", "POST", "DELETE"})
_KNOWN_METHODS: Final = _API_METHODS | {"HEAD", "OPTIONS", "PUT", "PATCH"}
_CODES: Final = {
    "amount_too_large": "amount_exceeds_token_limit",
    "shared_payment_token_expired": "token_expired",
    "shared_payment_token_deactivated": "token_inactive",
    "shared_payment_token_currency_mismatch": "currency_mismatch",
}
_TOKENS: Final = frozenset({"shared_payment.issued_token", "shared_payment.granted_token"})


def _walk(value: Any, visit: Callable[[dict[str, Any]], None]) -> None:
    """Call `visit` on every object (a mapping with an `object` field) inside `value`."""
    if isinstance(value, dict):
        if isinstance(value.get("object"), str):
            visit(value)
        for child in list(value.values()):
            _walk(child, visit)
    elif isinstance(value, list):
        for child in value:
            _walk(child, visit)


def _extra_fields(obj: dict[str, Any]) -> None:
    obj.setdefault("future_attribute", {"introduced_in": "a later API version", "enabled": True})
    obj.setdefault("future_flag", None)


def _open_enum_values(obj: dict[str, Any]) -> None:
    for holder in (obj.get("card"), (obj.get("payment_method_details") or {}).get("card")):
        networks = holder.get("networks") if isinstance(holder, dict) else None
        if isinstance(networks, dict) and isinstance(networks.get("available"), list):
            networks["available"] = [*networks["available"], "cartes_bancaires"]


def _external_id_empty(obj: dict[str, Any]) -> None:
    details = obj.get("seller_details")
    if obj["object"] in _TOKENS and isinstance(details, dict) and details.get("external_id") is None:
        details["external_id"] = ""


def _return_url_omitted(obj: dict[str, Any]) -> None:
    if obj["object"] == "shared_payment.issued_token" and obj.get("return_url", "") is None:
        del obj["return_url"]


_OBJECT_REWRITES: Final[dict[str, Callable[[dict[str, Any]], None]]] = {
    "extra_fields": _extra_fields,
    "open_enum_values": _open_enum_values,
    "external_id_empty": _external_id_empty,
    "return_url_omitted": _return_url_omitted,
}


def _error_rewrites(error: dict[str, Any], names: frozenset[str]) -> None:
    if "error_wording" in names and isinstance(error.get("message"), str):
        param = error.get("param")
        error["message"] = "The request was refused" + (f"; look at {param}." if param else ".")
    code = error.get("code")
    if "refusal_codes" in names and code in _CODES:
        error["code"] = _CODES[code]
        error["doc_url"] = f"https://example.com/errors#{_CODES[code]}"


HTTP_VARIANTS: Final = frozenset(
    {*_OBJECT_REWRITES, "error_wording", "refusal_codes", "request_id_uuid", "request_id_long"}
    | {"transport_405", "transport_501", "transport_413", "no_keep_alive", "gzip", "slow"}
)


async def _plain(send: Send, status: int, text: str, media: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = text.encode()
    headers = [(b"content-type", media.encode()), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class HttpVariants:
    def __init__(self, app: ASGIApp, names: frozenset[str]) -> None:
        unknown = sorted(names - HTTP_VARIANTS)
        if unknown:
            raise ValueError(f"unknown HTTP variant(s) {', '.join(unknown)}")
        self.app, self.names = app, names
        self._rng = random.Random()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if await self._transport_answer(scope, send):
            return
        if "slow" in self.names and self._rng.random() < 0.02:
            await asyncio.sleep(2.0)
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._send(scope, send, start, b"".join(chunks))

        await self.app(scope, receive, capture)

    async def _transport_answer(self, scope: Scope, send: Send) -> bool:
        method, names = scope["method"], self.names
        if "transport_501" in names and method not in _KNOWN_METHODS:
            html = "<html><body><h1>501 Not Implemented</h1></body></html>"
            await _plain(send, 501, html, "text/html", [])
            return True
        if "transport_405" in names and method not in _API_METHODS:
            await _plain(send, 405, "Method Not Allowed", "text/plain", [(b"allow", b"GET, POST, DELETE")])
            return True
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if "transport_413" in names and declared.isdigit() and int(declared) > MAX_BODY:
            await _plain(send, 413, "Request Entity Too Large", "text/plain", [(b"connection", b"close")])
            return True
        return False

    async def _send(self, scope: Scope, send: Send, start: Message, body: bytes) -> None:
        names = self.names
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        media = dict(headers).get(b"content-type", b"")
        if media.startswith(b"application/json") and body:
            body = self._rewrite(body)
        ids = {"request_id_uuid": str(uuid.uuid4()), "request_id_long": "req_" + secrets.token_hex(12)}
        for name, value in ids.items():
            if name in names:
                headers = [(k, value.encode() if k.lower() == b"request-id" else v) for k, v in headers]
        if "no_keep_alive" in names:
            headers.append((b"connection", b"close"))
        accepts = dict(scope["headers"]).get(b"accept-encoding", b"")
        if "gzip" in names and b"gzip" in accepts and body:
            body = gzip.compress(body)
            headers += [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _rewrite(self, body: bytes) -> bytes:
        rewrites = [rewrite for name, rewrite in _OBJECT_REWRITES.items() if name in self.names]
        errors = self.names & {"error_wording", "refusal_codes"}
        if not rewrites and not errors:
            return body
        data = json.loads(body)
        for rewrite in rewrites:
            _walk(data, rewrite)
        if errors and isinstance(data, dict) and isinstance(data.get("error"), dict):
            _error_rewrites(data["error"], self.names)
        return json.dumps(data, separators=(",", ":")).encode()
