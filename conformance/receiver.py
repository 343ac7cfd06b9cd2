"""The live webhook receiver: a small threaded HTTP server where a target pushes its events.

It listens on the loopback interface; each registered endpoint is one path (`/hooks/<name>`),
and every request to it is kept in the receiver's `DeliveryLog` (headers, the raw body, when it
arrived, what was answered, whether its signature verifies). Tests wait on it rather than
sleep: every delivery wakes the waiters.

For tests of retries, an endpoint can answer 500 to the first N deliveries of each event (counted
per event id, so concurrent tests' events do not use up each other's failures) or answer late.
A replay uses `conformance.cassettes.replay_receiver.ReplayReceiver` in its place.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

from conformance.deliveries import DELIVERY_CHECKS, HOOKS, Delivery, DeliveryLog, mask_uuids, scan_delivery
from conformance.signatures import DEFAULT_TOLERANCE, SignatureVerdict, sign, verify_signature
from conformance.violation import Violation

__all__ = [
    "DEFAULT_TOLERANCE",
    "DELIVERY_CHECKS",
    "Delivery",
    "Receiver",
    "SignatureVerdict",
    "mask_uuids",
    "scan_delivery",
    "sign",
    "verify_signature",
]


class Receiver(DeliveryLog):
    """A webhook receiver on 127.0.0.1; use as a context manager or call start() and stop()."""

    def __init__(
        self,
        *,
        public_url: str | None = None,
        inspect: Callable[[Delivery], Sequence[Violation]] | None = None,
        tolerance: int = DEFAULT_TOLERANCE,
        port: int = 0,
    ) -> None:
        super().__init__(inspect=inspect, tolerance=tolerance)
        self.public_url = public_url.rstrip("/") if public_url else None
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        server.daemon_threads = True
        server.receiver = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="spt-webhook-receiver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def base_url(self) -> str:
        """Where the receiver listens (loopback)."""
        if self._server is None:
            raise RuntimeError("the receiver is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # ------------------------------------------------------------------ the request path
    def _receive(self, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, float]:
        """Record one request; return the status to answer and how long to wait first."""
        wall, monotonic = time.time(), time.monotonic()
        name = urlsplit(path).path.removeprefix(HOOKS) if path.startswith(HOOKS) else None
        with self._changed:
            endpoint = self._endpoints.get(name) if name is not None else None
            if endpoint is None:
                return 404, 0.0
            key = _event_key(body)
            attempt = endpoint.attempts.get(key, 0) + 1
            endpoint.attempts[key] = attempt
            status = 500 if attempt <= endpoint.fail_first else 200
            role, delay = endpoint.role, endpoint.delay
        self._keep(Delivery(name or "", role, dict(headers), body, monotonic, wall, status, attempt))
        return status, delay


def _event_key(body: bytes) -> str:
    try:
        decoded = json.loads(body)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("id"), str):
        return str(decoded["id"])
    return hashlib.sha256(body).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "spt-conformance-receiver"
    # The answer leaves in two writes (headers, then body); with Nagle's algorithm and the
    # sender's delayed ACK, every keep-alive delivery would wait ~40 ms for the second.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        receiver: Receiver = self.server.receiver  # type: ignore[attr-defined]
        status, delay = receiver._receive(self.path, {k: v for k, v in self.headers.items()}, body)
        if delay > 0:
            time.sleep(delay)
        self._answer(status)

    def do_GET(self) -> None:
        self._answer(405)

    def _answer(self, status: int) -> None:
        payload = json.dumps({"received": status < 300}).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the sender gave up (its timeout); what it sent is already recorded

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the deliveries are the record."""
