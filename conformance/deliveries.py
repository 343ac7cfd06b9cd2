"""What a target pushed: the delivery record, the body checks run on it, and the log of them all.

A `DeliveryLog` keeps every request made to a registered endpoint (`/hooks/<name>`) as a
`Delivery`, verifies its signature once the endpoint's secret is known (a delivery may arrive
before the creation response that shows the secret, so it is verified then, against the moment
it arrived), and wakes whoever waits on it. Two kinds exist: the live `conformance.receiver.
Receiver`, an HTTP server, and `conformance.cassettes.replay_receiver.ReplayReceiver`, which
holds what a recording got and listens on no port.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

from conformance.checks import REGISTRY, CheckContext
from conformance.client import Exchange
from conformance.signatures import DEFAULT_TOLERANCE, SignatureVerdict, verify_signature
from conformance.violation import Violation

__all__ = ["DELIVERY_CHECKS", "HOOKS", "Delivery", "DeliveryLog", "mask_uuids", "scan_delivery"]

HOOKS = "/hooks/"
# The registered checks that read a body for what must never be in it; they apply to what a
# target pushes as much as to what it answers. (Request-Id, Content-Type and error shape are
# response conventions, not delivery ones.)
DELIVERY_CHECKS = ("no_card_data", "no_secrets", "test_mode", "id_prefixes", "original_payment_method_hidden")
# Every event carries the Idempotency-Key of the request behind it, usually a UUID, and one UUID
# in five hundred holds a Luhn-valid run of 13+ digits once its dashes are read as card-number
# spacing. No card number is written 8-4-4-4-12, so UUIDs are blanked before the card scan.
UUID = re.compile(r"\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b")


@dataclass(frozen=True)
class Delivery:
    """One request the target made to one endpoint."""

    endpoint: str
    role: str  # the account whose endpoint it is: agent, seller, other_seller
    headers: Mapping[str, str]
    body: bytes
    received_monotonic: float
    received_wall: float
    status: int  # what the receiver answered
    attempt: int  # 1 for the first delivery of this event to this endpoint, 2 for its first retry…
    signature: SignatureVerdict | None = None  # None until the endpoint's secret is known
    findings: tuple[Violation, ...] = ()
    signed_body: bytes | None = None  # replayed: the recorded (scrubbed) bytes the signature covers

    @property
    def signed(self) -> bytes:
        return self.body if self.signed_body is None else self.signed_body

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    @property
    def event(self) -> dict[str, Any] | None:
        """The body as a JSON object, or None when it is not one."""
        try:
            decoded = json.loads(self.body)
        except ValueError:
            return None
        return decoded if isinstance(decoded, dict) else None

    @property
    def event_id(self) -> str | None:
        event = self.event
        return str(event["id"]) if event is not None and isinstance(event.get("id"), str) else None

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


def mask_uuids(text: str) -> str:
    """`text` with every UUID replaced by as many x's: what a card-number scan should read."""
    return UUID.sub(lambda match: "x" * len(match.group()), text)


def scan_delivery(delivery: Delivery, context: CheckContext, base_url: str = "http://receiver") -> list[Violation]:
    """The body-reading registered checks, run on a delivery as if it were a response."""
    exchange = Exchange(
        actor=delivery.role,
        method="POST",
        url=f"{base_url}{HOOKS}{delivery.endpoint}",
        request_headers={},
        request_body="",
        status=delivery.status,
        response_headers=dict(delivery.headers),
        response_text=mask_uuids(delivery.body.decode("utf-8", "replace")),
        elapsed_ms=0.0,
    )
    context.learn(exchange)
    found: list[Violation] = []
    for name in DELIVERY_CHECKS:
        registered = REGISTRY.get(name)
        if registered is not None:
            found.extend(registered.function(exchange, context))
    return found


@dataclass
class Endpoint:
    """A path of the log: whose it is, its secret once known, and how it answers (live only)."""

    name: str
    role: str
    secret: str | None = None
    fail_first: int = 0
    delay: float = 0.0
    attempts: dict[str, int] = field(default_factory=dict)  # event id (or body hash) -> deliveries so far


class DeliveryLog:
    """The deliveries to registered endpoints, verified and inspected, with waiting on them."""

    def __init__(
        self,
        *,
        inspect: Callable[[Delivery], Sequence[Violation]] | None = None,
        tolerance: int = DEFAULT_TOLERANCE,
    ) -> None:
        self.inspect = inspect
        self.tolerance = tolerance
        self._endpoints: dict[str, Endpoint] = {}
        self._secrets: dict[str, str] = {}  # every endpoint's secret, kept after it is unregistered
        self._deliveries: list[Delivery] = []
        self._changed = threading.Condition()

    # ------------------------------------------------------------------ what a live run needs
    @property
    def base_url(self) -> str:
        raise NotImplementedError

    public_url: str | None = None

    def start(self) -> Self:
        return self

    def stop(self) -> None:
        """Nothing to release unless the log listens."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ endpoints
    def register(
        self, name: str, *, role: str, secret: str | None = None, fail_first: int = 0, delay: float = 0.0
    ) -> str:
        """Open `/hooks/<name>` and return the URL to give the target (the public one if set)."""
        if not name or "/" in name or "?" in name:
            raise ValueError(f"an endpoint name is one path segment, not {name!r}")
        with self._changed:
            if name in self._endpoints:
                raise ValueError(f"the endpoint {name!r} is already registered")
            self._endpoints[name] = Endpoint(name, role, secret, fail_first, delay)
            if secret is not None:
                self._secrets[name] = secret
        return self.url_for(name)

    def url_for(self, name: str) -> str:
        base = self.public_url or self.base_url
        return f"{base}{HOOKS}{name}"

    def set_secret(self, name: str, secret: str) -> None:
        """Learn an endpoint's secret, and verify what arrived before it was known."""
        with self._changed:
            self._endpoints[name].secret = secret
            self._secrets[name] = secret
            self._deliveries = [
                dataclasses.replace(d, signature=self._verify(d.signed, d.headers, secret, d.received_wall))
                if d.endpoint == name and d.signature is None
                else d
                for d in self._deliveries
            ]
            self._changed.notify_all()

    def configure(self, name: str, *, fail_first: int | None = None, delay: float | None = None) -> None:
        with self._changed:
            endpoint = self._endpoints[name]
            if fail_first is not None:
                endpoint.fail_first = fail_first
            if delay is not None:
                endpoint.delay = delay

    def unregister(self, name: str) -> None:
        """Close the path; later requests to it are answered 404 and not recorded."""
        with self._changed:
            self._endpoints.pop(name, None)

    def secret_for(self, name: str) -> str | None:
        """The secret an endpoint had, even after it was unregistered (recordings re-sign with it)."""
        with self._changed:
            return self._secrets.get(name)

    # ------------------------------------------------------------------ reading
    def deliveries(self, endpoint: str | None = None) -> list[Delivery]:
        with self._changed:
            return [d for d in self._deliveries if endpoint is None or d.endpoint == endpoint]

    def floor(self) -> int:
        """Where deliveries that may concern a test starting now begin."""
        with self._changed:
            return len(self._deliveries)

    def wait(self, predicate: Callable[[list[Delivery]], bool], timeout: float) -> bool:
        """Block until `predicate(all deliveries)` holds or `timeout` seconds pass; say which."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(list(self._deliveries)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def changes(self, timeout: float) -> bool:
        """Block until any delivery arrives, or `timeout` seconds pass; say which."""
        with self._changed:
            count = len(self._deliveries)
            self._changed.wait_for(lambda: len(self._deliveries) != count, timeout)
            return len(self._deliveries) != count

    # ------------------------------------------------------------------ keeping
    def _verify(self, body: bytes, headers: Mapping[str, str], secret: str, at: float) -> SignatureVerdict:
        header = next((v for k, v in headers.items() if k.lower() == "stripe-signature"), None)
        return verify_signature(body, header, secret, tolerance=self.tolerance, now=at)

    def _keep(self, delivery: Delivery) -> None:
        """Inspect, verify (if the secret is known by now) and add one delivery; wake the waiters."""
        with self._changed:
            secret = self._secrets.get(delivery.endpoint)
        if self.inspect is not None and not delivery.findings:
            delivery = dataclasses.replace(delivery, findings=tuple(self.inspect(delivery)))
        if delivery.signature is None and secret is not None:
            delivery = dataclasses.replace(
                delivery, signature=self._verify(delivery.signed, delivery.headers, secret, delivery.received_wall)
            )
        with self._changed:
            learnt = self._secrets.get(delivery.endpoint)
            if delivery.signature is None and learnt is not None:
                # The secret was learnt while this delivery was being read.
                delivery = dataclasses.replace(
                    delivery, signature=self._verify(delivery.signed, delivery.headers, learnt, delivery.received_wall)
                )
            self._deliveries.append(delivery)
            self._changed.notify_all()
