"""Where events come from: pushed to the receiver's shared endpoints, or pulled from /v1/events.

Both kinds answer the same questions for an `EventLog`: what reached a role so far
(`collect`), how to pause until something may have changed (`pause`), and how the events came
(`describe`, for messages). Other tests run at the same time against the same accounts, so
an event is matched by the id of its `data.object`, never by position.

Push reads the deliveries to the role's shared endpoint (made on first need), from a cursor:
a test's source starts where the receiver stood when the test began, the run's from the start.
Pull reads `GET /v1/events`, newest first, paged back only as far as the newest event that
existed when the test began, so a busy account is not read from the start each time.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from conformance.client import StripeClient
from conformance.deliveries import Delivery
from conformance.endpoints import EVENTS, WebhookEndpoints
from conformance.target import Target
from conformance.violation import expect_ok
from conformance.waiting import Timeline

__all__ = ["EventSource", "ObservedEvent", "PullSource", "PushSource", "Via", "choose_mode"]

Via = Literal["push", "pull"]
_PAGE = 100
_MAX_PAGES = 20


@dataclass(frozen=True)
class ObservedEvent:
    """One event as one account saw it."""

    role: str
    event: Mapping[str, Any]
    via: Via
    observed_at: float  # the source's timeline when the suite first saw it
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

    @functools.cached_property
    def object_id(self) -> str | None:  # asked of every event for every expectation at the end of a run
        identifier = self.data_object.get("id")
        return identifier if isinstance(identifier, str) else None


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


class EventSource(Protocol):
    """What an `EventLog` reads events through."""

    via: Via

    def start(self, clients: Mapping[str, StripeClient], *, from_start: bool = False) -> None: ...

    def collect(self, role: str, event_type: str | None = None) -> list[ObservedEvent]: ...

    def pause(self, seconds: float) -> None: ...

    def last_arrival(self, role: str) -> float: ...

    def describe(self, role: str) -> str: ...


class PushSource:
    """Events delivered to the roles' shared webhook endpoints."""

    via: Via = "push"

    def __init__(self, endpoints: WebhookEndpoints, timeline: Timeline) -> None:
        self.endpoints = endpoints
        self.timeline = timeline
        self._roles: tuple[str, ...] = ()
        self._cursor = 0  # deliveries before it cannot be about what the reader made
        self._seen: dict[str, ObservedEvent] = {}  # endpoint name + event id -> first delivery
        self._last: dict[str, float] = {}  # role -> when its endpoint last got anything
        self._lock = threading.Lock()

    def start(self, clients: Mapping[str, StripeClient], *, from_start: bool = False) -> None:
        for client in clients.values():
            self.endpoints.ensure(client)
        self._roles = tuple(clients)
        self._cursor = 0 if from_start else self.endpoints.receiver.floor()

    def collect(self, role: str, event_type: str | None = None) -> list[ObservedEvent]:
        names = {e.name: r for r in self._roles if (e := self.endpoints.get(r)) is not None}
        with self._lock:
            deliveries = self.endpoints.receiver.deliveries()
            fresh, self._cursor = deliveries[self._cursor :], len(deliveries)
            for delivery in fresh:
                owner = names.get(delivery.endpoint)
                if owner is None:
                    continue
                self._last[owner] = max(self._last.get(owner, 0.0), delivery.received_monotonic)
                event = delivery.event
                if event is None or not isinstance(event.get("id"), str):
                    continue
                key = f"{delivery.endpoint}/{event['id']}"
                if key not in self._seen:
                    self._seen[key] = ObservedEvent(owner, event, "push", delivery.received_monotonic, delivery)
            return [e for e in self._seen.values() if e.role == role and (event_type is None or e.type == event_type)]

    def pause(self, seconds: float) -> None:
        if self.timeline.virtual:
            self.timeline.sleep(min(seconds, 0.5))
        else:
            self.endpoints.receiver.changes(min(seconds, 0.5))

    def last_arrival(self, role: str) -> float:
        with self._lock:
            return self._last.get(role, 0.0)

    def describe(self, role: str) -> str:
        endpoint = self.endpoints.get(role)
        return f"pushed to {endpoint.url}" if endpoint else "no webhook endpoint"


class PullSource:
    """Events listed by `GET /v1/events`, polled."""

    via: Via = "pull"

    def __init__(self, timeline: Timeline, *, poll_interval: float) -> None:
        self.timeline = timeline
        self.poll_interval = poll_interval
        self._clients: Mapping[str, StripeClient] = {}
        self._floor: dict[str, int | None] = {}  # created of the newest event before the reader began
        self._pulled: dict[str, dict[str, ObservedEvent]] = {}
        self._lock = threading.Lock()

    def start(self, clients: Mapping[str, StripeClient], *, from_start: bool = False) -> None:
        self._clients = clients
        for role, client in clients.items():
            if from_start:
                self._floor[role] = None
                continue
            exchange = client.get(EVENTS, {"limit": 1})
            body = expect_ok(exchange, "SPT-EVT-012", object_type="list", setup=True)
            newest = body.get("data") or [{}]
            created = newest[0].get("created") if isinstance(newest[0], Mapping) else None
            self._floor[role] = created if isinstance(created, int) else None

    def collect(self, role: str, event_type: str | None = None) -> list[ObservedEvent]:
        """Read the role's newest events, back to where its list stood when the reader began."""
        client, floor = self._clients[role], self._floor.get(role)
        params: dict[str, Any] = {"limit": _PAGE}
        if event_type is not None:
            params["type"] = event_type
        for _ in range(_MAX_PAGES):
            exchange = client.get(EVENTS, params)
            body = expect_ok(exchange, "SPT-EVT-012", object_type="list", setup=True)
            page = [e for e in body.get("data") or [] if isinstance(e, Mapping) and isinstance(e.get("id"), str)]
            now = self.timeline.now()
            with self._lock:
                known = self._pulled.setdefault(role, {})
                for event in page:
                    known.setdefault(event["id"], ObservedEvent(role, dict(event), "pull", now))
            older = [
                e for e in page if isinstance(e.get("created"), int) and floor is not None and e["created"] < floor
            ]
            if not page or not body.get("has_more") or older:
                break
            params["starting_after"] = page[-1]["id"]
        with self._lock:
            return [e for e in self._pulled.get(role, {}).values() if event_type is None or e.type == event_type]

    def pause(self, seconds: float) -> None:
        self.timeline.sleep(min(seconds, self.poll_interval))

    def last_arrival(self, role: str) -> float:
        return 0.0  # a list shows no arrival times

    def describe(self, role: str) -> str:
        return "pulled from GET /v1/events"
