"""A corpus of hostile requests, written as raw bytes on a socket (an HTTP client would refuse to
send most of them), and what the server answered.

Every request in the corpus is one the server must refuse: besides its one hostile part it is
unauthenticated, or lacks required parameters, or is malformed beyond parsing. So the expected
answer is always the same: a 4xx whose body is a Stripe error, `{"error": {"type", "message"}}`,
within the client's timeout. `size` scales the corpus (1 is what the tests send; the benchmark
sends more and bigger).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.reliability.calls import ISSUED, issue_form

__all__ = ["Answer", "Context", "corpus", "send_raw", "stripe_error"]

MiB = 1024 * 1024


@dataclass(frozen=True)
class Context:
    host: str
    port: int
    key: str  # the agent's secret key
    profile: str  # the seller's profile


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no answer (the connection closed, or the timeout passed)
    headers: dict[str, str]
    body: bytes
    seconds: float
    timed_out: bool = False

    def json(self) -> Any:
        return json.loads(self.body)


def stripe_error(answer: Answer) -> bool:
    if not answer.headers.get("content-type", "").startswith("application/json"):
        return False
    try:
        error = answer.json().get("error")
    except (ValueError, AttributeError):
        return False
    return isinstance(error, dict) and isinstance(error.get("type"), str) and isinstance(error.get("message"), str)


def send_raw(ctx: Context, request: bytes, timeout: float = 10.0, *, half_close: bool = False) -> Answer:
    """Send `request` as is and read one response. A server that stops reading early (it has
    answered already) is fine: what it answered is still read. `half_close` ends the sending
    side after the request, as a client does that has nothing more to send."""
    began = time.monotonic()
    with socket.create_connection((ctx.host, ctx.port), timeout=timeout) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)
        try:
            response.begin()
            body = response.read()
        except TimeoutError:
            return Answer(None, {}, b"", time.monotonic() - began, timed_out=True)
        except (http.client.HTTPException, ConnectionResetError):
            return Answer(None, {}, b"", time.monotonic() - began)
        headers = {k.lower(): v for k, v in response.getheaders()}
        return Answer(response.status, headers, body, time.monotonic() - began)


def _request(
    ctx: Context,
    method: bytes,
    target: bytes,
    *,
    headers: list[bytes] | None = None,
    body: bytes = b"",
    auth: bool = True,
    length: bytes | None = None,
    framed: bool = True,
    content_type: bytes | None = b"application/x-www-form-urlencoded",
) -> bytes:
    """One HTTP/1.1 request; `headers` are whole header lines, sent as given. The Content-Length
    is the body's, or `length` when given, or absent when not `framed`."""
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: reliability", b"Connection: close"]
    if auth:
        lines.append(b"Authorization: Bearer " + ctx.key.encode())
    if content_type is not None and (body or length is not None):
        lines.append(b"Content-Type: " + content_type)
    if framed and (body or length is not None):
        lines.append(b"Content-Length: " + (length if length is not None else str(len(body)).encode()))
    lines += headers or []
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _form(ctx: Context) -> bytes:
    return "&".join(f"{k}={v}" for k, v in issue_form(ctx.profile, 100).items()).encode()


def corpus(size: int = 1) -> dict[str, Callable[[Context], bytes]]:
    """Name -> request builder. Each request is refused for a reason its name says."""
    deep = b"[a]" * (1000 * size)
    many = b"&".join(b"k%d=v" % i for i in range(10_000 * size))
    big = b"a" * (1_000_000 - 4096)  # a value just under the 1 MiB body limit, with the rest of the form
    iss = ISSUED.encode()

    # A valid issuance but for `suffix`, or for `headers`.
    def post(suffix: bytes, *headers: bytes) -> Callable[[Context], bytes]:
        return lambda ctx: _request(ctx, b"POST", iss, body=_form(ctx) + suffix, headers=list(headers))

    def get(target: bytes, **kw: Any) -> Callable[[Context], bytes]:
        return lambda ctx: _request(ctx, b"GET", target, **kw)

    # A POST that lacks every required parameter: refused with 400 whatever its headers hold.
    def bare(*headers: bytes, auth: bool = True) -> Callable[[Context], bytes]:
        return lambda ctx: _request(ctx, b"POST", iss, headers=list(headers), body=b"x=1", auth=auth)

    def authorization(value: bytes) -> Callable[[Context], bytes]:
        return lambda ctx: _request(ctx, b"GET", b"/v1/events", headers=[b"Authorization: " + value], auth=False)

    return {
        # -------------------------------------------------------------- form structure
        "brackets 1000 deep in the body": post(b"&shared_metadata" + deep + b"=v"),
        "brackets 1000 deep in the query": get(b"/v1/events?a" + deep + b"=1"),
        "unclosed bracket": post(b"&shared_metadata[k=v"),
        "array index in superscript digits": get(iss + b"/spt_none?expand[%C2%B9]=risk_details"),
        "10,000 parameters": post(b"&" + many),
        "10,000 parameters in the query": get(b"/v1/events?" + many),
        "10,000 metadata keys": post(b"&" + b"&".join(b"shared_metadata[k%d]=v" % i for i in range(10_000 * size))),
        "1 MB value": post(b"&shared_metadata[k]=" + big),
        "1 MB parameter name": post(b"&" + big + b"=v"),
        "body over 1 MiB": post(b"&shared_metadata[k]=" + b"a" * (MiB * size + 1)),
        # -------------------------------------------------------------- bytes
        "NUL byte in the body": post(b"&shared_metadata[k]=a\x00b"),
        "NUL byte percent-encoded in the body": post(b"&shared_metadata[k]=a%00b"),
        "invalid UTF-8 in the body": post(b"&shared_metadata[k]=\xff\xfe\xfd"),
        "invalid UTF-8 percent-encoded in the body": post(b"&shared_metadata[k]=%ff%fe"),
        "invalid UTF-8 in the path": get(iss + b"/spt_\xff\xfe"),
        "invalid UTF-8 percent-encoded in the path": get(iss + b"/spt_%ff%fe"),
        "invalid UTF-8 in the query": get(b"/v1/events?limit=\xff"),
        "invalid UTF-8 percent-encoded in the query": get(b"/v1/events?limit=%ff"),
        "NUL byte in the path": get(b"/v1/events/evt_\x00"),
        "NUL byte percent-encoded in the path": get(iss + b"/spt_%00"),
        "NUL byte percent-encoded in the query": get(b"/v1/events?limit=%00"),
        "path of 100,000 characters": get(iss + b"/spt_" + b"a" * 100_000 * size),
        "TLS handshake on the plain port": lambda ctx: b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
        "request line without a version": lambda ctx: b"GET /v1/events\r\n\r\n",
        "unknown method": lambda ctx: _request(ctx, b"BREW", b"/v1/events"),
        # -------------------------------------------------------------- content types
        "JSON body": lambda ctx: _request(
            ctx, b"POST", iss, body=json.dumps(issue_form(ctx.profile, 100)).encode(), content_type=b"application/json"
        ),
        "multipart body": lambda ctx: _request(
            ctx,
            b"POST",
            iss,
            body=b'--x\r\nContent-Disposition: form-data; name="payment_method"\r\n\r\npm_card_visa\r\n--x--\r\n',
            content_type=b"multipart/form-data; boundary=x",
        ),
        "no content type, JSON body": lambda ctx: _request(
            ctx, b"POST", iss, body=json.dumps(issue_form(ctx.profile, 100)).encode(), content_type=None
        ),
        "text/plain body": lambda ctx: _request(ctx, b"POST", iss, body=_form(ctx), content_type=b"text/plain"),
        "form declared UTF-16": lambda ctx: _request(
            ctx,
            b"POST",
            iss,
            body=_form(ctx).decode().encode("utf-16"),
            content_type=b"application/x-www-form-urlencoded; charset=utf-16",
        ),
        # -------------------------------------------------------------- headers
        "bare CR in a header value": bare(b"X-Note: a\rb"),
        "bare LF in a header value": bare(b"X-Note: a\nb"),
        "NUL in a header value": bare(b"X-Note: a\x00b"),
        "header line without a colon": bare(b"X-Note"),
        "space before the colon": bare(b"X-Note : a"),
        "folded header line": bare(b"X-Note: a", b" continued"),
        "header of 100 KB": bare(b"X-Note: " + b"a" * 100_000 * size),
        "header of 1 MB": bare(b"X-Note: " + b"a" * MiB * size),
        "20,000 headers": bare(*(b"X-N%d: a" % i for i in range(20_000 * size))),
        "Stripe-Version of 100 KB": bare(b"Stripe-Version: " + b"v" * 100_000 * size),
        "Stripe-Account header": bare(b"Stripe-Account: acct_123"),
        # -------------------------------------------------------------- Authorization
        "no Authorization": bare(auth=False),
        "empty Authorization": authorization(b""),
        "Bearer without a key": authorization(b"Bearer"),
        "Basic without credentials": authorization(b"Basic"),
        "Basic that is not base64": authorization(b"Basic !!!notbase64"),
        "Basic of invalid UTF-8": authorization(b"Basic " + base64.b64encode(b"\xff\xfe:")),
        "Basic with raw non-ASCII bytes": authorization(b"Basic \xff\xfe"),
        "Digest scheme": authorization(b"Digest username=agent"),
        "key without a scheme": lambda ctx: _request(
            ctx, b"GET", b"/v1/events", headers=[b"Authorization: " + ctx.key.encode()], auth=False
        ),
        "key with trailing garbage": lambda ctx: _request(
            ctx, b"GET", b"/v1/events", headers=[b"Authorization: Bearer " + ctx.key.encode() + b" x"], auth=False
        ),
        "live key": authorization(b"Bearer sk_live_" + b"0" * 24),
        "key of 100 KB": authorization(b"Bearer sk_test_" + b"k" * 100_000 * size),
        "NUL in the key": authorization(b"Bearer sk_test_\x00abc"),
        "two Authorization headers, the first unknown": lambda ctx: _request(
            ctx,
            b"GET",
            b"/v1/events",
            headers=[b"Authorization: Bearer sk_test_nope", b"Authorization: Bearer " + ctx.key.encode()],
            auth=False,
        ),
        # -------------------------------------------------------------- Idempotency-Key
        "Idempotency-Key of 256 characters": post(b"", b"Idempotency-Key: " + b"k" * 256),
        "Idempotency-Key of 100 KB": post(b"", b"Idempotency-Key: " + b"k" * 100_000 * size),
        "empty Idempotency-Key": bare(b"Idempotency-Key: "),
        "Idempotency-Key of invalid UTF-8": bare(b"Idempotency-Key: \xff\xfe"),
        "Idempotency-Key with NUL": bare(b"Idempotency-Key: a\x00b"),
        "two Idempotency-Keys": bare(b"Idempotency-Key: one", b"Idempotency-Key: two"),
        # -------------------------------------------------------------- card numbers (D-37), each in a
        # request that would otherwise succeed: refused without the number coming back
        "card number as a parameter name": post(b"&4242424242424242=1"),
        "card number as a metadata key": post(b"&shared_metadata[4242424242424242]=x"),
        "card number grouped in a metadata value": post(b"&shared_metadata[note]=card+4242+4242+4242+4242"),
        "card number as the Idempotency-Key": post(b"", b"Idempotency-Key: 4242424242424242"),
        "card number as the Stripe-Version": post(b"", b"Stripe-Version: 4242424242424242"),
        "card number in the query of a GET": get(b"/v1/events?4000056655665556=1"),
        # -------------------------------------------------------------- findings of an outside test
        "Stripe-Version whose 200-character cut ends in a space": post(
            b"", b"Stripe-Version: 2026-10-14.preview" + b"v" * 181 + b" tail"
        ),
        "Stripe-Version that is not a version": post(b"", b"Stripe-Version: latest please"),
        "empty Idempotency-Key on a valid request": post(b"", b"Idempotency-Key: "),
        "non-ASCII digits as an integer": lambda ctx: _request(
            ctx, b"POST", iss, body=_form(ctx).replace(b"max_amount]=100", b"max_amount]=%EF%BC%91%EF%BC%90%EF%BC%90")
        ),
        "head of 128 KB": bare(b"X-Note: " + b"a" * 128 * 1024 * size),
        "head that stops before its end (slowloris)": lambda ctx: (
            b"POST "
            + iss
            + b" HTTP/1.1\r\nHost: reliability\r\nAuthorization: Bearer "
            + ctx.key.encode()
            + b"\r\nX-Slow: a"
        ),
        "body shorter than its Content-Length": lambda ctx: _request(ctx, b"POST", iss, body=b"x=1", length=b"100"),
        "request followed by bytes the parser refuses": lambda ctx: (
            _request(ctx, b"POST", iss, body=b"x=1").replace(b"Connection: close\r\n", b"")
            + b"\x00\x01 garbage\r\n\r\n"
        ),
        # -------------------------------------------------------------- framing
        "huge Content-Length without a body": lambda ctx: _request(ctx, b"POST", iss, length=b"99999999999999"),
        "Content-Length over 1 MiB without a body": lambda ctx: _request(
            ctx, b"POST", iss, length=str(MiB + 1).encode()
        ),
        "non-numeric Content-Length": lambda ctx: _request(ctx, b"POST", iss, length=b"ten"),
        "negative Content-Length": lambda ctx: _request(ctx, b"POST", iss, length=b"-1"),
        "two different Content-Lengths": lambda ctx: _request(
            ctx, b"POST", iss, body=b"x=1", headers=[b"Content-Length: 9"]
        ),
        "broken chunked body": lambda ctx: _request(
            ctx, b"POST", iss, headers=[b"Transfer-Encoding: chunked"], body=b"zz\r\nx=1\r\n0\r\n\r\n", framed=False
        ),
        "HTTP/1.1 without Host": lambda ctx: (
            b"GET /v1/events HTTP/1.1\r\nAuthorization: Bearer " + ctx.key.encode() + b"\r\n\r\n"
        ),
    }
