"""The HTTP/1.1 connection: uvicorn's protocol, with a bounded head, a head timeout, Stripe-shaped
refusals and a lingering close (D-40).

Theory of operation. uvicorn (httptools when installed, else h11) parses requests; this subclass
adds what a server facing the open network needs and uvicorn leaves out:

- A request the parser refuses (a bare CR or NUL in a header, invalid UTF-8 in the request line,
  a head over `MAX_HEAD` bytes) gets a JSON Stripe error (D-34), where uvicorn answers text/plain.
- A head must be complete within `head_timeout` seconds of the connection opening or of the
  previous response, and the body within `body_timeout` seconds of its head: a client that
  sends part of either and stalls gets 408 and is cut off (the app, waiting for the body, is
  told the client left, and its answer goes nowhere). One timer per connection does both, so
  a request that arrives whole costs no timer of its own.
- Closing a connection whose client may still be sending (after a refusal, or an answer given
  before the body was read) is a lingering close: the answer is flushed, the sending side shut
  down, and what the client still sends is read and dropped for up to `linger` seconds. Closing
  at once would make the kernel reset the connection, and the client would lose the answer.
"""

from __future__ import annotations

import asyncio
import select
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from reference_impl.context import DEFAULT_API_VERSION, dumps
from reference_impl.ids import new_id
from reference_impl.tuning import Tuning

__all__ = ["MAX_HEAD", "protocol_for"]

MAX_HEAD = 16 * 1024  # bytes of request line and headers; h11's default, enforced for httptools too

_REASONS = {400: b"Bad Request", 408: b"Request Timeout"}


def _error_bytes(status: int, message: str) -> bytes:
    body = dumps({"error": {"type": "invalid_request_error", "message": message}})
    head = [
        b"HTTP/1.1 %d %s" % (status, _REASONS[status]),
        b"content-type: application/json",
        b"content-length: " + str(len(body)).encode(),
        b"request-id: " + new_id("req", 14).encode(),
        b"stripe-version: " + DEFAULT_API_VERSION.encode(),
        b"connection: close",
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class _Transport:
    """The connection's transport as uvicorn sees it: `close()` lingers when the client may
    still be sending; everything else is the real transport's."""

    def __init__(self, real: asyncio.Transport, protocol: _Hardening) -> None:
        self._real, self._protocol = real, protocol

    def close(self) -> None:
        self._protocol.close_connection()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _Hardening:
    """Mixed into uvicorn's protocol class; see the module's docstring."""

    head_timeout: float = Tuning.head_timeout
    body_timeout: float = Tuning.body_timeout
    linger: float = Tuning.linger
    # Set by uvicorn's protocol: the current request/response cycle and the transport.
    cycle: Any
    transport: Any
    loop: asyncio.AbstractEventLoop

    def connection_made(self, transport: asyncio.Transport) -> None:
        self._real_transport = transport
        self._lingering = False
        self._refused = False  # a raw error answer was written: always linger
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._cycle_seen: Any = None  # the request whose body is being timed, since `_body_since`
        self._body_since = 0.0
        super().connection_made(_Transport(transport, self))  # type: ignore[misc]
        self._head_since = self.loop.time()
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the answer is out; drop what the client still sends
        super().data_received(data)  # type: ignore[misc]
        if not self._awaiting_head():
            self._head_bytes = 0
            if self.cycle is not self._cycle_seen:
                self._cycle_seen, self._body_since = self.cycle, self.loop.time()
                if self.cycle.more_body:  # the body is still to come: time it from now
                    self._arm_head_timer(self.body_timeout)
            return
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD and not self._real_transport.is_closing():
            # h11 stops at its own limit first; httptools has none.
            self.refuse(400, f"Invalid request: the request head is over {MAX_HEAD} bytes.")

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._head_bytes = 0
        # The head clock restarts; the timer itself is moved only when it fires (one timer per
        # connection rather than one per request, which showed in profiles).
        self._head_since = self.loop.time()

    def send_400_response(self, msg: str) -> None:
        self.refuse(400, "Invalid request: the HTTP request could not be parsed.")

    def refuse(self, status: int, message: str) -> None:
        """Answer a request the app never saw with a Stripe error, then close (lingering)."""
        if self._lingering or self._real_transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # A request before the refused bytes is still with the app: its receive() now says
            # the client left, and its answer goes nowhere (the connection is half closed).
            cycle.disconnected = True
            cycle.message_event.set()
        self._refused = True
        self._real_transport.write(_error_bytes(status, message))
        self.close_connection()

    def _awaiting_head(self) -> bool:
        # An answer given before its request's body was read (a 413, an early refusal) leaves the
        # rest of that body to come: those bytes are the HTTP layer's to discard, not a next head.
        cycle = self.cycle
        return cycle is None or bool(cycle.response_complete and not cycle.more_body)

    def _arm_head_timer(self, delay: float | None = None) -> None:
        self._cancel_head_timer()
        if not self._real_transport.is_closing():
            self._head_timer = self.loop.call_later(delay or self.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _unread(self) -> bool:
        """Whether bytes (or the client's EOF) wait in the kernel, not yet read: uvloop runs due
        timers before it polls for input, so a starved process can time out a client whose
        bytes have arrived. Checked only when a timer fires."""
        sock = self._real_transport.get_extra_info("socket")
        try:
            return bool(sock is not None and select.select([sock.fileno()], [], [], 0)[0])
        except (OSError, ValueError):
            return False

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._unread():
            self._arm_head_timer(0.05)  # read first, then judge
            return
        now = self.loop.time()
        if not self._awaiting_head():
            cycle = self.cycle
            if not cycle.more_body or cycle.disconnected:
                self._arm_head_timer()  # the app is at work; the head clock restarts when it answers
                return
            if cycle is not self._cycle_seen:
                self._cycle_seen, self._body_since = cycle, now
            waited = now - self._body_since
            if waited < self.body_timeout:
                self._arm_head_timer(self.body_timeout - waited)
                return
            if cycle.response_complete:
                self.close_connection()  # answered already; the rest of its body is not worth a wait
                return
            self.refuse(408, f"Request timeout: the body did not arrive within {self.body_timeout:g} s of its head.")
            return
        waited = now - self._head_since
        if waited < self.head_timeout:
            self._arm_head_timer(self.head_timeout - waited)
            return
        if self._head_bytes:
            self.refuse(408, f"Request timeout: the request head was not complete within {self.head_timeout:g} s.")
        else:
            self._real_transport.close()  # nothing was asked: nothing to answer

    def close_connection(self) -> None:
        transport = self._real_transport
        if self._lingering or transport.is_closing():
            return
        cycle = self.cycle
        unread = cycle is not None and bool(cycle.more_body)
        if not (self._refused or unread) or not transport.can_write_eof():
            transport.close()
            return
        self._lingering = True
        self._cancel_head_timer()
        try:
            transport.write_eof()  # after the answer is flushed; the client reads it, then EOF
        except OSError:  # the client has already gone: there is no one left to linger for
            transport.close()
            return
        transport.resume_reading()
        self.loop.call_later(self.linger, transport.close)

    def eof_received(self) -> bool | None:
        return None  # the client is done sending: close (this ends a lingering close early)


def protocol_for(tuning: Tuning) -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol class with the hardening above, timed by `tuning`."""
    return type(
        "StripeHTTPProtocol",
        (_Hardening, AutoHTTPProtocol),
        {"head_timeout": tuning.head_timeout, "body_timeout": tuning.body_timeout, "linger": tuning.linger},
    )
