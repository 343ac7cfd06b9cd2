"""Fixtures: an embedded reference server driven by the official Stripe SDK (a real client, not
ours), raw httpx clients for wire-level tests, and a webhook receiver."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import stripe

from reference_impl import RunningServer, start

FAST: dict[str, Any] = {
    "sweep_interval": 0.1,
    "webhook_backoff": 0.05,
    "webhook_backoff_cap": 0.2,
    "webhook_timeout": 1.0,
}


@dataclass
class Party:
    """One account as a test uses it: the SDK client, a raw HTTP client, its key and profile."""

    name: str
    sdk: Any  # a stripe.StripeClient; Any because the SDK's optional fields would need a guard per read
    http: httpx.Client
    key: str
    profile: str


@dataclass
class World:
    server: RunningServer
    agent: Party
    seller: Party
    other: Party

    def issue(self, **overrides: Any) -> Any:
        """An issued token (SDK object) to `seller`: usd, max 1000, expiring in an hour."""
        limits = {"currency": "usd", "max_amount": 1000, "expires_at": int(time.time()) + 3600}
        limits.update(overrides.pop("usage_limits", {}))
        params: dict[str, Any] = {
            "payment_method": "pm_card_visa",
            "seller_details": {"network_business_profile": self.seller.profile},
            "usage_limits": limits,
        }
        params.update(overrides)
        return self.agent.sdk.v1.shared_payment.issued_tokens.create(params)

    def pay(self, token_id: str, amount: int, currency: str = "usd", party: Party | None = None, **extra: Any) -> Any:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency,
            "confirm": True,
            "payment_method_data": {"shared_payment_granted_token": token_id},
        }
        params.update(extra)
        return (party or self.seller).sdk.v1.payment_intents.create(params)


def _party(server: RunningServer, name: str) -> Party:
    info = server.accounts[name]
    sdk = stripe.StripeClient(info.secret_key, base_addresses={"api": server.base_url}, max_network_retries=0)
    client = httpx.Client(base_url=server.base_url, auth=(info.secret_key, ""), timeout=10)
    return Party(name, sdk, client, info.secret_key, info.profile)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with start(**FAST) as server:
        parties = [_party(server, n) for n in ("agent", "seller", "other_seller")]
        yield World(server, *parties)
        for party in parties:
            party.http.close()


@pytest.fixture
def fresh() -> Iterator[Callable[..., World]]:
    """A server of the test's own (for faults, tuning or a database file); stopped afterwards."""
    made: list[tuple[RunningServer, list[Party]]] = []

    def make(**options: Any) -> World:
        server = start(**{**FAST, **options})
        parties = [_party(server, n) for n in ("agent", "seller", "other_seller")]
        made.append((server, parties))
        return World(server, *parties)

    yield make
    for server, parties in made:
        for party in parties:
            party.http.close()
        server.stop()


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local webhook endpoint that records deliveries; `status` decides what it answers."""

    url: str
    received: list[Received] = field(default_factory=list)
    status: Callable[[int], int] = lambda n: 200
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.received) < count and time.monotonic() < deadline:
                self.arrived.wait(deadline - time.monotonic())
            return list(self.received)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r.json() for r in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            rec = holder[0]
            with rec.arrived:
                rec.received.append(Received(body, dict(self.headers.items()), time.monotonic()))
                count = len(rec.received)
                rec.arrived.notify_all()
            self.send_response(rec.status(count))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    holder.append(Receiver(f"http://127.0.0.1:{httpd.server_address[1]}/hook"))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield holder[0]
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def error_of(call: Callable[[], Any]) -> stripe.StripeError:
    """The Stripe error that `call` raises (fails the test if it raises none)."""
    with pytest.raises(stripe.StripeError) as caught:
        call()
    return caught.value
