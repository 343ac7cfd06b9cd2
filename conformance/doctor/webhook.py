"""Can the server reach the suite's webhook receiver? A test endpoint and one event prove it.

Only worth asking when the receiver is behind `--public-url` (a tunnel), or when the server is
not on this machine: a loopback receiver is reachable from a loopback server by construction.
The ping registers a webhook endpoint at the public URL, lets the probe of the accounts make an
event (it issues and revokes a token), and waits a few seconds for any delivery.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx

from conformance.client import Journal, StripeClient
from conformance.doctor.findings import Finding, Severity
from conformance.receiver import Receiver
from conformance.target import Target

__all__ = ["PING_WAIT", "is_local", "webhook_ping"]

PING_WAIT = 3.0  # seconds for the first delivery; a server that takes longer will time tests out too
ENDPOINTS = "/v1/webhook_endpoints"


def is_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Ping:
    """What the ping found; `findings` is complete once the `with` block of `webhook_ping` ends."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []


@contextmanager
def webhook_ping(
    target: Target, http: httpx.Client, *, public_url: str | None, receiver_port: int | None, enabled: bool = True
) -> Iterator[Ping]:
    """Around the block that makes events: set up an endpoint before it, wait for a delivery after.
    Not `enabled` (the run takes no webhooks), or a loopback server without a public URL: nothing."""
    ping = Ping()
    if not enabled or (public_url is None and is_local(target.base_url)):
        yield ping
        return
    if public_url is None:
        ping.findings.append(
            Finding(
                "webhooks",
                Severity.STOP,
                f"{target.base_url} cannot deliver webhooks to this machine's loopback receiver: give --public-url "
                "(a tunnel to --receiver-port), or observe events with --events pull",
            )
        )
        yield ping
        return
    client = StripeClient(http, target.agent, Journal(), stripe_version=target.stripe_version)
    with Receiver(public_url=public_url, port=receiver_port or 0) as receiver:
        url = receiver.register("doctor-ping", role="agent")
        exchange = client.post(ENDPOINTS, {"url": url, "enabled_events": ["*"]})
        body = exchange.body if isinstance(exchange.body, dict) else {}
        if exchange.status != 200 or not isinstance(body.get("id"), str):
            ping.findings.append(
                Finding(
                    "webhooks",
                    Severity.STOP,
                    f"the server refused a webhook endpoint at {url} ({exchange.status}): --public-url must be an "
                    "https URL the server accepts, or use --events pull",
                )
            )
            yield ping
            return
        try:
            yield ping
            arrived = receiver.wait(lambda deliveries: bool(deliveries), PING_WAIT)
        finally:
            client.delete(f"{ENDPOINTS}/{body['id']}")
    if arrived:
        ping.findings.append(Finding("webhooks", Severity.OK, f"the server delivered an event to {public_url}"))
    else:
        port = receiver_port or "the receiver's port"
        ping.findings.append(
            Finding(
                "webhooks",
                Severity.STOP,
                f"no webhook reached {public_url} within {PING_WAIT:.0f} s: check that the tunnel forwards to "
                f"127.0.0.1:{port} (--receiver-port), or observe events with --events pull",
            )
        )
