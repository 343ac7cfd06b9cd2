"""Webhook endpoints the suite makes on a target: one per account for the whole run, and a test's own.

`create_endpoint` opens a path on the receiver and registers it on the target as one account;
the creation response is the only one that shows the signing secret, which the receiver then
learns. `WebhookEndpoints` holds the run's shared endpoints (enabled_events `*`), made by the
first test that needs events and deleted when the run ends.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from conformance.client import Journal, StripeClient
from conformance.deliveries import DeliveryLog
from conformance.session import RunState
from conformance.violation import expect, expect_ok

__all__ = ["EVENTS", "WEBHOOK_ENDPOINTS", "Endpoint", "WebhookEndpoints", "create_endpoint"]

EVENTS = "/v1/events"
WEBHOOK_ENDPOINTS = "/v1/webhook_endpoints"


@dataclass(frozen=True)
class Endpoint:
    """A webhook endpoint the suite created on the target, and its path on the receiver."""

    role: str
    name: str
    id: str
    secret: str
    url: str
    created: Mapping[str, Any]  # the creation response, the only one that shows the secret


def create_endpoint(
    client: StripeClient,
    receiver: DeliveryLog,
    *,
    enabled_events: Iterable[str] = ("*",),
    requirement: str = "SPT-EVT-010",
    fail_first: int = 0,
    delay: float = 0.0,
) -> Endpoint:
    """Open a path on the receiver and register it on the target as the client's account."""
    name = f"{client.role}-{uuid.uuid4().hex[:12]}"
    url = receiver.register(name, role=client.role, fail_first=fail_first, delay=delay)
    exchange = client.post(WEBHOOK_ENDPOINTS, {"url": url, "enabled_events": list(enabled_events)})
    body = expect_ok(exchange, requirement, object_type="webhook_endpoint")
    secret = body.get("secret")
    expect(
        isinstance(secret, str) and secret.startswith("whsec_") and isinstance(body.get("id"), str),
        requirement,
        received=f"id {body.get('id')!r}, secret {'a ' + type(secret).__name__ if secret else 'missing'}"
        + (" not starting with whsec_" if isinstance(secret, str) and not secret.startswith("whsec_") else ""),
        expected="an id and a whsec_ signing secret in the creation response",
        tip="the creation response is the only place the signing secret is shown; without it nothing can be verified",
        exchanges=[exchange],
    )
    assert isinstance(secret, str)
    receiver.set_secret(name, secret)
    return Endpoint(client.role, name, str(body["id"]), secret, url, body)


class WebhookEndpoints:
    """The session's endpoints, one per account, made on first need and deleted at the end.

    `scope` is entered around their requests: a recording keeps them with the session's traffic,
    not the test's that happened to need them first, so any test can be replayed on its own.
    """

    def __init__(
        self,
        run: RunState,
        receiver: DeliveryLog,
        scope: Callable[[], contextlib.AbstractContextManager[None]] | None = None,
    ) -> None:
        self.run = run
        self.receiver = receiver
        self.scope = scope or contextlib.nullcontext
        self._by_role: dict[str, Endpoint] = {}
        self._kept: list[Endpoint] = []  # tests' own, kept for the run's final judgement
        self._lock = threading.Lock()

    def ensure(self, client: StripeClient) -> Endpoint:
        with self._lock:
            if client.role not in self._by_role:
                with self.scope():
                    self._by_role[client.role] = create_endpoint(client, self.receiver)
            return self._by_role[client.role]

    def get(self, role: str) -> Endpoint | None:
        with self._lock:
            return self._by_role.get(role)

    def keep_until_end(self, endpoint: Endpoint) -> None:
        """Delete a test's own endpoint at the end of the run, not of the test: what it should
        not receive is judged after the run's final quiet period, and a deleted endpoint would
        be spared a late delivery."""
        with self._lock:
            self._kept.append(endpoint)

    def close(self) -> None:
        """Delete every endpoint made; a failure here is the target's problem, not a test's."""
        with self._lock:
            made, self._by_role = [*self._by_role.values(), *self._kept], {}
            self._kept = []
        accounts = {a.role: a for a in self.run.target.accounts}
        for endpoint in made:
            client = self.run.client(accounts[endpoint.role], Journal())
            # Best effort at session end: the target may already be gone.
            with contextlib.suppress(Exception), self.scope():
                client.delete(f"{WEBHOOK_ENDPOINTS}/{endpoint.id}")
