"""Sustained mixed load on the standalone server: N clients issuing, paying, retrieving and
revoking at once, then an audit of every token and of the webhook outbox.

Theory of operation. The clients are asyncio tasks, each with its own keep-alive connections for
the agent and the seller, sharing one pool of live tokens so that payments on a token race each
other. Caps (20 to 100) are small next to payments (1 to 20), so the cap refuses payments all the
time. The books keep, per token, the sum of the payments answered 200 and the moment its
revocation was answered. Afterwards, every token's amount_captured must equal its books (or lie
within the amounts of payments that got no answer) and never exceed its cap; no payment sent
after a revocation was answered may have succeeded; every event must reach the webhook
endpoint. The server's resident memory is sampled after a warm-up and at the end of the load.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from conformance.receiver import Receiver
from harness.reliability.calls import ISSUED, PAYMENT_INTENTS, all_events, issue_form, pay_form, revoke_path
from harness.reliability.deliveries import accepted_events
from harness.reliability.standalone import Process

__all__ = ["LoadReport", "Site", "drive", "load_seconds", "run_load"]

POOL = 64  # live tokens the clients share
MIX: dict[str, int] = {"pay": 45, "retrieve": 30, "issue": 15, "revoke": 10}  # kind -> weight


def load_seconds(default: float = 3.0) -> float:
    """How long the load runs: $SPT_LOAD_SECONDS, else `default`."""
    return float(os.environ.get("SPT_LOAD_SECONDS") or default)


@dataclass
class _Book:
    cap: int
    paid: int = 0
    in_doubt: int = 0  # amounts of payments that got no answer
    revoked_at: float | None = None  # when the revocation was answered


@dataclass
class _State:
    profile: str
    books: dict[str, _Book] = field(default_factory=dict)
    pool: list[str] = field(default_factory=list)
    payments: dict[str, str] = field(default_factory=dict)  # succeeded PaymentIntent -> token
    statuses: Counter[int] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    client_errors: Counter[str] = field(default_factory=Counter)
    paid_after_revoke: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LoadReport:
    clients: int
    seconds: float
    requests: int
    statuses: Counter[int]
    kinds: Counter[str]
    client_errors: Counter[str]  # no answer at all: timeouts, resets
    tokens: int
    cap_violations: list[str]
    capture_mismatches: list[str]
    paid_after_revoke: list[str]
    events: int
    undelivered: int  # events the webhook endpoint never accepted
    rss_start: int  # bytes, after the warm-up
    rss_end: int
    rss_peak: int
    server_errors_logged: int  # tracebacks in the server's log

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


async def _send(state: _State, kind: str, request: Awaitable[httpx.Response]) -> httpx.Response | None:
    try:
        response = await request
    except httpx.HTTPError as exc:
        state.client_errors[type(exc).__name__] += 1
        return None
    state.statuses[response.status_code] += 1
    state.kinds[kind] += 1
    return response


async def _client(state: _State, agent: httpx.AsyncClient, seller: httpx.AsyncClient, stop: float, seed: int) -> None:
    rng = random.Random(seed)
    kinds, weights = list(MIX), list(MIX.values())
    while time.monotonic() < stop:
        kind = "issue" if not state.pool else rng.choices(kinds, weights)[0]
        key = {"Idempotency-Key": str(uuid.uuid4())}
        if kind == "issue":
            cap = rng.randint(20, 100)
            form = issue_form(state.profile, cap)
            response = await _send(state, kind, agent.post(ISSUED, data=form, headers=key))
            if response is not None and response.status_code == 200:
                token = response.json()["id"]
                state.books[token] = _Book(cap)
                state.pool.append(token)
                del state.pool[:-POOL]
        elif kind == "pay":
            token, amount = rng.choice(state.pool), rng.randint(1, 20)
            book, sent = state.books[token], time.monotonic()
            form = pay_form(token, amount)
            response = await _send(state, kind, seller.post(PAYMENT_INTENTS, data=form, headers=key))
            if response is None:
                book.in_doubt += amount
            elif response.status_code == 200:
                book.paid += amount
                state.payments[response.json()["id"]] = token
                if book.revoked_at is not None and sent > book.revoked_at:
                    state.paid_after_revoke.append(f"{token}: paid {amount} after its revocation was answered")
        elif kind == "retrieve":
            token = rng.choice(state.pool)
            if rng.random() < 0.5:
                await _send(state, kind, seller.get(f"/v1/shared_payment/granted_tokens/{token}"))
            else:
                await _send(state, kind, agent.get(f"{ISSUED}/{token}"))
        else:
            token = rng.choice(state.pool)
            response = await _send(state, kind, agent.post(revoke_path(token), headers=key))
            if response is not None and response.status_code == 200:
                state.books[token].revoked_at = time.monotonic()
                if token in state.pool:
                    state.pool.remove(token)


@dataclass(frozen=True)
class Site:
    """A server to load: where it is, the agent's and the seller's keys, the seller's profile."""

    url: str
    agent_key: str
    seller_key: str
    profile: str


async def _load(site: Site, state: _State, clients: int, seconds: float, rss: Callable[[], int] | None) -> list[int]:
    """Run the clients for `seconds`; the server's memory (via `rss`) after the warm-up, every
    quarter second, and at the end."""
    timeout = httpx.Timeout(15.0)
    agents = [httpx.AsyncClient(base_url=site.url, auth=(site.agent_key, ""), timeout=timeout) for _ in range(clients)]
    sellers = [
        httpx.AsyncClient(base_url=site.url, auth=(site.seller_key, ""), timeout=timeout) for _ in range(clients)
    ]
    stop = time.monotonic() + seconds
    samples: list[int] = []

    async def sample() -> None:
        await asyncio.sleep(min(1.0, seconds / 5))  # warm-up: caches, pools and first tokens
        while rss is not None and time.monotonic() < stop:
            samples.append(rss())
            await asyncio.sleep(0.25)

    try:
        await asyncio.gather(
            sample(), *(_client(state, a, s, stop, i) for i, (a, s) in enumerate(zip(agents, sellers, strict=True)))
        )
    finally:
        for client in (*agents, *sellers):
            await client.aclose()
    if rss is not None:
        samples.append(rss())
    return samples


def drive(site: Site, *, clients: int = 16, seconds: float = 1.0) -> Counter[int]:
    """The load alone, with no audit: the statuses it got."""
    state = _State(site.profile)
    asyncio.run(_load(site, state, clients, seconds, None))
    return state.statuses


def _audit(site: Site, state: _State) -> tuple[list[str], list[str]]:
    over: list[str] = []
    mismatched: list[str] = []
    with httpx.Client(base_url=site.url, auth=(site.agent_key, ""), timeout=15) as agent:
        for token, book in state.books.items():
            body = agent.get(f"{ISSUED}/{token}").json()
            captured = body["usage_details"]["amount_captured"]["value"]
            if captured > body["usage_limits"]["max_amount"] or captured > book.cap:
                over.append(f"{token}: captured {captured} over its cap {book.cap}")
            if not book.paid <= captured <= book.paid + book.in_doubt:
                mismatched.append(f"{token}: captured {captured}; answered payments sum to {book.paid}")
            if book.revoked_at is not None and body["deactivated_reason"] != "revoked":
                mismatched.append(f"{token}: its revocation was answered, yet it reads {body['status']}")
    return over, mismatched


def run_load(workdir: Path, *, clients: int = 16, seconds: float = 3.0, drain: float = 60.0) -> LoadReport:
    """Start the standalone server on a file in `workdir`, load it, audit it, stop it."""
    with Receiver() as receiver:
        server = Process(workdir / "load.sqlite", workdir / "load.target.yaml")
        try:
            url = receiver.register("agent", role="agent")
            with server.client("agent") as agent:
                agent.post("/v1/webhook_endpoints", data={"url": url, "enabled_events[]": "*"}).raise_for_status()
            site = Site(
                server.url,
                server.key("agent"),
                server.key("seller"),
                server.target["seller"]["network_business_profile"],
            )
            state = _State(site.profile)
            began = time.monotonic()
            rss = asyncio.run(_load(site, state, clients, seconds, server.rss))
            elapsed = time.monotonic() - began
            over, mismatched = _audit(site, state)
            with server.client("agent") as agent:
                events = {e["id"] for e in all_events(agent)}
            receiver.wait(lambda got: accepted_events(got) >= events, drain)
            undelivered = len(events - accepted_events(receiver.deliveries()))
            if server.terminate() != 0:
                raise AssertionError(f"the server did not stop cleanly: {server.log_text()[-2000:]}")
        finally:
            if server.proc.poll() is None:
                server.kill()
    return LoadReport(
        clients=clients,
        seconds=elapsed,
        requests=sum(state.statuses.values()),
        statuses=state.statuses,
        kinds=state.kinds,
        client_errors=state.client_errors,
        tokens=len(state.books),
        cap_violations=over,
        capture_mismatches=mismatched,
        paid_after_revoke=state.paid_after_revoke,
        events=len(events),
        undelivered=undelivered,
        rss_start=rss[0],
        rss_end=rss[-1],
        rss_peak=max(rss),
        server_errors_logged=server.log_text().count("Traceback"),
    )
