"""The HTTP adapter: bytes in, `Service.execute`, bytes out. Nothing else lives here.

Every response, errors and 404s included, is JSON with `Request-Id` and `Stripe-Version`
headers. A `DomainError` becomes its status and Stripe error body in one place (`_error`); any
other exception is logged and answered 500 `api_error` without a trace, which no input should
ever reach (SPT-ERR-004/006).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from reference_impl import cards, operations
from reference_impl.accounts import AccountSpec
from reference_impl.capabilities import check_without, hidden
from reference_impl.context import DEFAULT_API_VERSION, Outcome, dumps
from reference_impl.errors import DomainError, InvalidRequest, PayloadTooLarge, ValidationError
from reference_impl.forms import parse_form
from reference_impl.headers import idempotency_key, legal_headers, stripe_version
from reference_impl.ids import new_id
from reference_impl.runtime import Runtime
from reference_impl.service import Service
from reference_impl.tuning import Tuning
from reference_impl.variant_http import HttpVariants

__all__ = ["MAX_BODY", "app_for", "create_app"]

log = logging.getLogger("reference_impl.app")

MAX_BODY = 1024 * 1024
_FORM = "application/x-www-form-urlencoded"


class _Unrecognized(DomainError):
    status = 404


@dataclass(frozen=True)
class _Answer:
    """A JSON response, written as two ASGI messages (a Starlette Response costs more per request
    than everything else the adapter does)."""

    status: int
    body: bytes
    headers: dict[str, str]

    async def send(self, send: Send) -> None:
        raw = [(b"content-type", b"application/json"), (b"content-length", str(len(self.body)).encode())]
        raw += [(name.lower().encode(), value.encode("latin-1")) for name, value in self.headers.items()]
        await send({"type": "http.response.start", "status": self.status, "headers": raw})
        await send({"type": "http.response.body", "body": self.body})


def _json(body: bytes, status: int, headers: dict[str, str]) -> _Answer:
    return _Answer(status, body, legal_headers(headers))


def _error(err: DomainError, headers: dict[str, str]) -> _Answer:
    # A refusal may name what it refused (a parameter's name, a path): never a card number (D-37).
    body = err.to_body()
    error = body["error"]
    for field in ("message", "param"):
        if isinstance(error.get(field), str):
            error[field] = cards.redact(error[field])
    if isinstance(err, PayloadTooLarge):
        # Its body was not read, and may be endless: close once the client has the answer.
        headers = {**headers, "Connection": "close"}
    return _json(dumps(body), err.status, headers)


def _credential(header: str | None) -> str | None:
    """The secret key from Bearer or Basic (key as username, password ignored); "" if garbled."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[0]
        except ValueError:  # binascii.Error, UnicodeDecodeError, and non-ASCII text in the header
            return "invalid"
    return "invalid"


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lowercase name; of a repeated header, the first (as Starlette's
    Headers.get, which this replaces: one dict per request instead of a scan per lookup)."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        found.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return found


async def _body(request: Request, sent: dict[str, str]) -> bytes:
    declared = sent.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY:
        raise PayloadTooLarge(f"Request body too large: the limit is {MAX_BODY} bytes.")
    if not declared and "transfer-encoding" not in sent:
        return b""  # no body follows the head (every GET, most revokes): nothing to wait for
    chunks, size = [], 0
    try:
        async for chunk in request.stream():  # a body that stalls is cut off by the protocol (D-40)
            size += len(chunk)
            if size > MAX_BODY:
                raise PayloadTooLarge(f"Request body too large: the limit is {MAX_BODY} bytes.")
            chunks.append(chunk)
    except ClientDisconnect:
        # The body stopped short of its Content-Length (the client closed, sent bytes the HTTP
        # layer refused, or stalled past the body timeout): a malformed request, not a server
        # error. Rarely anyone is left to read the answer, but nothing may be logged as a crash.
        raise ValidationError("Invalid request: the body ended before its declared length.") from None
    return b"".join(chunks)


def _decode(request: Request, sent: dict[str, str], body: bytes) -> dict[str, Any]:
    query = request.scope.get("query_string", b"")
    if request.method != "POST":
        return parse_form(query, "query string")
    media = sent.get("content-type", "").split(";")[0].strip().lower()
    if body and media not in (_FORM, ""):
        raise ValidationError(
            f"Invalid request: the body must be {_FORM} (got {media or 'no Content-Type'}); "
            "the API does not accept JSON bodies."
        )
    return parse_form(query + (b"&" if query and body else b"") + body)


async def _inline(function: Callable[..., Outcome], *args: Any, **kwargs: Any) -> Outcome:
    return function(*args, **kwargs)


async def _handle(service: Service, request: Request, without: frozenset[str] = frozenset()) -> _Answer:
    headers = {"Request-Id": new_id("req", 14), "Stripe-Version": DEFAULT_API_VERSION}
    try:
        sent = _headers(request.scope)
        version = stripe_version(sent.get("stripe-version"))
        headers["Stripe-Version"] = version
        if request.scope.get("http_version") == "1.1" and "host" not in sent:
            # h11 refuses this itself; httptools does not, and HTTP/1.1 requires a Host (RFC 9112).
            raise ValidationError("Invalid request: an HTTP/1.1 request must carry a Host header.")
        path = request.scope["path"]
        matched = None if without and hidden(path, without) else operations.match(request.method, path)
        if matched is None and service.env.behaviour.unknown_path_framework_404:
            return _json(dumps({"detail": "Not Found"}), 404, headers)
        if matched is None:
            raise _Unrecognized(
                f"Unrecognized request URL ({request.method}: {path}). Please see https://stripe.com/docs "
                "or we can help at https://support.stripe.com/."
            )
        operation, path_id = matched
        body = await _body(request, sent)
        account = service.authenticate(_credential(sent.get("authorization")))
        if "stripe-account" in sent:
            raise InvalidRequest("The reference server has no Connect: the Stripe-Account header is not supported.")
        key = idempotency_key(sent.get("idempotency-key")) if operation.method == "POST" else None
        try:
            params = _decode(request, sent, body)
        except ValidationError:
            if service.env.behaviour.malformed_form_crashes:
                raise RuntimeError("the form could not be decoded") from None
            raise
        # Requests run one at a time on the event loop; the `cap_race` fault runs them on threads,
        # so that its capture, made after a pause in a second transaction, races other payments.
        execute = run_in_threadpool if service.env.behaviour.capture_in_second_transaction else _inline
        outcome = await execute(
            service.execute,
            operation,
            account,
            path_id,
            params,
            request_id=headers["Request-Id"],
            idempotency_key=key,
            api_version=version,
        )
        if key is not None:
            headers["Idempotency-Key"] = key
        if outcome.replayed and service.env.behaviour.replayed_header:
            headers["Idempotent-Replayed"] = "true"
        return _json(outcome.body, outcome.status, headers)
    except DomainError as err:
        return _error(err, headers)
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, cards.redact(request.scope.get("path", "")))
        crash = {"error": {"type": "api_error", "message": "An unexpected error occurred on the reference server."}}
        return _json(dumps(crash), 500, headers)


class _Dispatch:
    """The one endpoint: every method on every path comes here, so unknown ones get our 404."""

    def __init__(self, service: Callable[[], Service], without: frozenset[str] = frozenset()) -> None:
        self._service = service
        self._without = without

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = await _handle(self._service(), Request(scope, receive), self._without)
        await answer.send(send)


class _ReferenceApp(Starlette):
    """Starlette for the lifespan; every HTTP request goes straight to `_Dispatch`, which answers
    every error itself, so Starlette's error and routing middleware would only add cost."""

    dispatch: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.dispatch(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def app_for(runtime: Runtime, without: frozenset[str] = frozenset()) -> Starlette:
    """The ASGI app serving `runtime`; its lifespan starts and stops the background work.
    `without`: optional capabilities it answers as unknown paths (reference_impl.capabilities)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            runtime.close()

    # No Starlette routes: `_Dispatch` takes every request, whatever bytes its path holds (a
    # Mount's pattern would miss a path with an encoded newline and let Starlette answer a
    # plain-text 404 of its own).
    app = _ReferenceApp(routes=[], lifespan=lifespan)
    app.dispatch = _Dispatch(lambda: runtime.service, check_without(without))
    app.state.runtime = runtime
    return app


def create_app(
    *,
    db: str = ":memory:",
    accounts: tuple[AccountSpec, ...] | None = None,
    faults: frozenset[str] = frozenset(),
    variants: frozenset[str] = frozenset(),
    time_source: Callable[[], float] | None = None,
    without: frozenset[str] = frozenset(),
    **tuning: Any,
) -> Starlette:
    """A reference server as an ASGI app: `db` is a SQLite path or ":memory:", `accounts` the
    account specs (defaults: agent, seller, other_seller), `faults` deliberate bugs (see
    faults.py; tests only), `variants` legal differences (variants.py; tests only), `without`
    capabilities left out (capabilities.py; tests only), `tuning` the knobs of tuning.Tuning."""
    runtime = Runtime(
        db, accounts=accounts, faults=faults, variants=variants, tuning=Tuning(**tuning), time_source=time_source
    )
    app = app_for(runtime, check_without(without))
    if runtime.service.env.behaviour.http:
        app.add_middleware(HttpVariants, names=runtime.service.env.behaviour.http)
    return app
