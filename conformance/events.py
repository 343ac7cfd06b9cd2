"""Observing a target's events: pushed to the suite's webhook receiver, or pulled from /v1/events.

Theory of operation. A test asks two questions of events: "did this arrive?" (`wait_for`, which
returns as soon as it has) and "what arrived, all told?" (`settle`, which returns once nothing new
about the object has come for a quiet period; that is how "exactly once" and "nothing for the
other seller" are proved). Other tests run at the same time against the same accounts, so an
event is matched by the id of its `data.object`, never by position.

Push: the first test that uses events creates one webhook endpoint per account (enabled_events
`*`) pointing at the receiver; the endpoints last for the pytest process and are deleted at its
end. Pull: `GET /v1/events`, newest first, paged back only as far as the newest event that
existed when the test began, so a busy account is not read from the start each time.

Replaying a recording, time is virtual: a pause adds to the clock instead of sleeping. Pushed
deliveries are all in the receiver before the test starts, so nothing is waited for (no quiet
period); pulled events come from recorded polls, so the waits run their course in virtual time,
polling as a live run would.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from conformance.client import Journal, StripeClient
from conformance.receiver import Delivery, Receiver
from conformance.session import RunState
from conformance.target import Target
from conformance.violation import LEDGER, Violation, expect, expect_ok

__all__ = [
    "EVENTS",
    "WEBHOOK_ENDPOINTS",
    "Endpoint",
    "EventLog",
    "ObservedEvent",
    "WebhookEndpoints",
    "choose_mode",
    "create_endpoint",
]

EVENTS = "/v1/events"
WEBHOOK_ENDPOINTS = "/v1/webhook_endpoints"
Via = Literal["push", "pull"]
_PAGE = 100
_MAX_PAGES = 20


@dataclass(frozen=True)
class ObservedEvent:
    """One event as one account saw it."""

    role: str
    event: Mapping[str, Any]
    via: Via
    observed_at: float  # time.monotonic() when the suite first saw it
    delivery: Delivery | None = None  # push: the first delivery of it

    @property
    def id(self) -> str:
        return str(self.event.get("id"))

    @property
    def type(self) -> str:
        return str(self.event.get("type"))

    @property
    def data_object(self) -> Mapping[str, Any]:
        data = self.event.get("data")
        obj = data.get("object") if isinstance(data, Mapping) else None
        return obj if isinstance(obj, Mapping) else {}

    @property
    def object_id(self) -> str | None:
        identifier = self.data_object.get("id")
        return identifier if isinstance(identifier, str) else None


@dataclass(frozen=True)
class Endpoint:
    """A webhook endpoint the suite created on the target, and its path on the receiver."""

    role: str
    name: str
    id: str
    secret: str
    url: str
    created: Mapping[str, Any]  # the creation response, the only one that shows the secret


def choose_mode(target: Target, option: str) -> tuple[Via | None, str]:
    """How to observe events on `target` given --spt-events; with the reason when impossible."""
    push, pull = target.has("webhook_endpoints"), target.has("events")
    if option == "push":
        return ("push", "") if push else (None, "the target offers no webhook endpoints (--spt-events push)")
    if option == "pull":
        return ("pull", "") if pull else (None, "the target offers no GET /v1/events (--spt-events pull)")
    if push:
        return "push", ""
    if pull:
        return "pull", ""
    return None, "the target offers neither webhook endpoints nor GET /v1/events"


def create_endpoint(
    client: StripeClient,
    receiver: Receiver,
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
        receiver: Receiver,
        scope: Callable[[], contextlib.AbstractContextManager[None]] | None = None,
    ) -> None:
        self.run = run
        self.receiver = receiver
        self.scope = scope or contextlib.nullcontext
        self._by_role: dict[str, Endpoint] = {}
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

    def close(self) -> None:
        """Delete every endpoint made; a failure here is the target's problem, not a test's."""
        with self._lock:
            made, self._by_role = list(self._by_role.values()), {}
        accounts = {a.role: a for a in self.run.target.accounts}
        for endpoint in made:
            client = self.run.client(accounts[endpoint.role], Journal())
            # Best effort at session end: the target may already be gone.
            with contextlib.suppress(Exception), self.scope():
                client.delete(f"{WEBHOOK_ENDPOINTS}/{endpoint.id}")


class EventLog:
    """The `events` fixture: what the test's accounts received, by push or by pull."""

    def __init__(
        self,
        run: RunState,
        journal: Journal,
        *,
        mode: Via | None,
        reason: str = "",
        endpoints: WebhookEndpoints | None = None,
        replay: bool = False,
    ) -> None:
        if mode == "push" and endpoints is None:
            raise ValueError("push needs the session's webhook endpoints")
        self.run = run
        self.journal = journal
        self.mode = mode
        self.reason = reason
        self.endpoints = endpoints
        self.max_wait = run.options.wait_limit
        embedded = run.target.embedded
        self.quiet = (0.2 if mode == "push" else 0.5) if embedded else (3.0 if mode == "push" else 5.0)
        if run.options.quick:
            self.quiet /= 2  # a smoke run trades some certainty about late duplicates for speed
        self.replay = replay
        if replay and mode == "push":
            self.quiet = 0.0  # every delivery the recording got is in the receiver already
        self._virtual = time.monotonic()
        self.poll_interval = 0.05 if embedded else 1.0
        self._clients = {a.role: run.client(a, journal) for a in run.target.accounts}
        self._pulled: dict[str, dict[str, ObservedEvent]] = {}
        self._pushed: dict[str, ObservedEvent] = {}  # keyed by endpoint name + event id
        self._floor: dict[str, int | None] = {}  # pull: created of the newest event before the test
        self._reported: set[tuple[str, str, int]] = set()
        self._cursor = 0  # push: deliveries before the test began cannot be about its objects
        self._last_arrival: dict[str, float] = {}  # push: when the role's endpoint last got anything
        self._lock = threading.RLock()

    @property
    def available(self) -> bool:
        return self.mode is not None

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self._clients)

    def start(self) -> EventLog:
        """Before the test acts: make the endpoints (push) or note where the lists end (pull)."""
        if self.mode == "push":
            assert self.endpoints is not None
            for client in self._clients.values():
                self.endpoints.ensure(client)
            self._cursor = self.endpoints.receiver.floor()
        elif self.mode == "pull":
            for role, client in self._clients.items():
                exchange = client.get(EVENTS, {"limit": 1})
                body = expect_ok(exchange, "SPT-EVT-012", object_type="list", setup=True)
                newest = body.get("data") or [{}]
                created = newest[0].get("created") if isinstance(newest[0], Mapping) else None
                self._floor[role] = created if isinstance(created, int) else None
        return self

    # ------------------------------------------------------------------ the two questions
    def wait_for(
        self,
        role: str,
        event_type: str,
        object_id: str,
        *,
        count: int = 1,
        timeout: float | None = None,
        requirement: str | None = None,
    ) -> list[ObservedEvent]:
        """Wait until `count` events of `event_type` about `object_id` reached `role`.

        Returns them (all that arrived, which may be more). If fewer came within `timeout`
        (default --spt-max-wait): raise a Violation of `requirement`, or return what did.
        """
        self._require_source()
        limit = self.max_wait if timeout is None else timeout
        deadline = self._now() + limit
        while True:
            found = self._matching(role, object_id, event_type)
            remaining = deadline - self._now()
            if len(found) >= count or remaining <= 0:
                break
            self._pause(remaining)
        if len(found) < count and requirement is not None:
            raise Violation(
                requirement,
                received=f"{len(found)} {event_type} event(s) about {object_id} reached the {role} "
                f"within {limit:g} s ({self._how(role)})",
                expected=f"at least {count}",
                tip="events are matched by data.object.id; check that the event is recorded for this account "
                "and that its data.object is the token",
            )
        if requirement is not None:
            LEDGER.hold(requirement)
        return found

    def settle(self, role: str, object_id: str, *, quiet: float | None = None) -> list[ObservedEvent]:
        """Every event about `object_id` that reached `role`, once none new came for `quiet` s.

        Pushed, it also waits (up to five quiet periods) for the role's endpoint as a whole to
        fall silent: a server behind on its deliveries is still sending other events, and what
        it owes about this object may be queued behind them.
        """
        self._require_source()
        quiet = self.quiet if quiet is None else quiet
        if self.replay and self.mode == "push":
            quiet = 0.0
        started = self._now()
        deadline = started + max(self.max_wait, quiet)
        seen, last_change = -1, started
        while True:
            found = self._matching(role, object_id, None)
            now = self._now()
            if len(found) != seen:
                seen, last_change = len(found), now
            calm = now - last_change
            busy = self.mode == "push" and now - self._last_arrival.get(role, 0.0) < quiet
            if (calm >= quiet and not busy) or calm >= 5 * quiet or now >= deadline:
                return found
            self._pause(min(quiet, deadline - now))

    # ------------------------------------------------------------------ observing
    def observed(self, role: str) -> list[ObservedEvent]:
        """Everything seen so far for `role` (without waiting or polling)."""
        with self._lock:
            if self.mode == "pull":
                return list(self._pulled.get(role, {}).values())
            return [e for e in self._push_events() if e.role == role]

    def _require_source(self) -> None:
        if self.mode is None:
            pytest.skip(self.reason or "the target offers no event source")

    def _how(self, role: str) -> str:
        if self.mode == "push" and self.endpoints is not None:
            endpoint = self.endpoints.get(role)
            return f"pushed to {endpoint.url}" if endpoint else "no webhook endpoint"
        return "pulled from GET /v1/events"

    def _matching(self, role: str, object_id: str, event_type: str | None) -> list[ObservedEvent]:
        if self.mode == "pull":
            self._poll(role, event_type)
        with self._lock:
            events = self._pulled.get(role, {}).values() if self.mode == "pull" else self._push_events()
            found = [
                e
                for e in events
                if e.role == role and e.object_id == object_id and (event_type is None or e.type == event_type)
            ]
        self._report_findings(found)
        return sorted(found, key=lambda e: e.observed_at)

    def _now(self) -> float:
        return self._virtual if self.replay else time.monotonic()

    def _pause(self, remaining: float) -> None:
        if self.replay:
            step = 0.5 if self.mode == "push" else self.poll_interval
            self._virtual += max(min(remaining, step), 0.001)
            return
        if self.mode == "push" and self.endpoints is not None:
            self.endpoints.receiver.changes(min(remaining, 0.5))
        else:
            time.sleep(max(0.0, min(remaining, self.poll_interval)))

    def _push_events(self) -> list[ObservedEvent]:
        assert self.endpoints is not None
        names: dict[str, str] = {}
        for role in self._clients:
            endpoint = self.endpoints.get(role)
            if endpoint is not None:
                names[endpoint.name] = role
        with self._lock:
            deliveries = self.endpoints.receiver.deliveries()
            fresh, self._cursor = deliveries[self._cursor :], len(deliveries)
            for delivery in fresh:
                owner = names.get(delivery.endpoint)
                if owner is not None:
                    self._last_arrival[owner] = max(self._last_arrival.get(owner, 0.0), delivery.received_monotonic)
                event = delivery.event if owner is not None else None
                if owner is None or event is None or not isinstance(event.get("id"), str):
                    continue
                key = f"{delivery.endpoint}/{event['id']}"
                if key not in self._pushed:
                    self._pushed[key] = ObservedEvent(owner, event, "push", delivery.received_monotonic, delivery)
            return list(self._pushed.values())

    def _poll(self, role: str, event_type: str | None) -> None:
        """Read the role's newest events, back to where its list stood when the test began."""
        client = self._clients[role]
        floor = self._floor.get(role)
        params: dict[str, Any] = {"limit": _PAGE}
        if event_type is not None:
            params["type"] = event_type
        for _ in range(_MAX_PAGES):
            exchange = client.get(EVENTS, params)
            body = expect_ok(exchange, "SPT-EVT-012", object_type="list", setup=True)
            page = [e for e in body.get("data") or [] if isinstance(e, Mapping) and isinstance(e.get("id"), str)]
            now = time.monotonic()
            with self._lock:
                known = self._pulled.setdefault(role, {})
                for event in page:
                    known.setdefault(event["id"], ObservedEvent(role, dict(event), "pull", now))
            older = [
                e for e in page if isinstance(e.get("created"), int) and floor is not None and e["created"] < floor
            ]
            if not page or not body.get("has_more") or older:
                return
            params["starting_after"] = page[-1]["id"]

    def _report_findings(self, events: Iterable[ObservedEvent]) -> None:
        """What the body checks found in deliveries this test looked at goes into its journal."""
        for observed in events:
            delivery = observed.delivery
            if delivery is None or not delivery.findings:
                continue
            key = (delivery.endpoint, observed.id, delivery.attempt)
            with self._lock:
                if key in self._reported:
                    continue
                self._reported.add(key)
            self.journal.add_findings(delivery.findings)
