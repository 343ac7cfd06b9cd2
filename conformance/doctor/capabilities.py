"""Which optional parts of the API does the server offer? Asked of the server, not of the user.

Each capability is probed with one request that changes nothing: a read where there is one, and
for the test helper an empty create, which a server that has the path refuses with 400 (a missing
parameter) and one that lacks it answers 404. A target file may still declare a capability:
the declaration wins, and a contradiction with what the server shows is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from conformance.client import Exchange, Journal, StripeClient
from conformance.doctor.findings import Finding, Severity
from conformance.target import DECLARED_CAPABILITIES, Target

__all__ = ["detect_capabilities", "resolve_capabilities"]


@dataclass(frozen=True)
class _Probe:
    role: str
    method: str
    path: str
    offered: Callable[[Exchange], bool]


def _listed(exchange: Exchange) -> bool:
    body = exchange.body
    return exchange.status == 200 and isinstance(body, dict) and body.get("object") == "list"


def _clock(exchange: Exchange) -> bool:
    body = exchange.body
    return exchange.status == 200 and isinstance(body, dict) and isinstance(body.get("now"), int)


def _route_exists(exchange: Exchange) -> bool:
    return exchange.status == 200 or (exchange.status == 400 and exchange.error is not None)


_PROBES: dict[str, _Probe] = {
    "clock": _Probe("agent", "GET", "/v1/test_helpers/shared_payment/clock", _clock),
    "webhook_endpoints": _Probe("agent", "GET", "/v1/webhook_endpoints?limit=1", _listed),
    "events": _Probe("agent", "GET", "/v1/events?limit=1", _listed),
    "test_helpers": _Probe("seller", "POST", "/v1/test_helpers/shared_payment/granted_tokens", _route_exists),
}
assert set(_PROBES) == set(DECLARED_CAPABILITIES)


def detect_capabilities(target: Target, http: httpx.Client) -> dict[str, tuple[bool, Exchange]]:
    """capability -> (offered, the exchange that shows it)."""
    clients = {a.role: StripeClient(http, a, Journal(), stripe_version=target.stripe_version) for a in target.accounts}
    found = {}
    for name, probe in _PROBES.items():
        # The empty create carries no Idempotency-Key: nothing to retry, nothing to replay.
        exchange = clients[probe.role].request(probe.method, probe.path, idempotency_key=None)
        found[name] = (probe.offered(exchange), exchange)
    return found


def resolve_capabilities(target: Target, http: httpx.Client) -> tuple[frozenset[str], list[Finding]]:
    """The capabilities the run should assume: detected where the file says auto, declared elsewhere."""
    found = detect_capabilities(target, http)
    chosen: set[str] = set()
    findings: list[Finding] = []
    for name, (offered, exchange) in found.items():
        shown = f"{exchange.method} {exchange.path} answered {exchange.status}"
        if name in target.undecided:
            if offered:
                chosen.add(name)
            continue
        declared = name in target.capabilities
        if declared:
            chosen.add(name)
        if declared and not offered:
            findings.append(
                Finding(
                    "capabilities",
                    Severity.WARN,
                    f"capabilities.{name} is true but {shown}: its requirements will fail; set it to auto (or false)",
                )
            )
        elif offered and not declared:
            findings.append(
                Finding(
                    "capabilities",
                    Severity.WARN,
                    f"capabilities.{name} is false but the server offers it ({shown}): its requirements will be "
                    "SKIPPED; set it to auto (or true) to check them",
                )
            )
    detected = ", ".join(sorted(n for n, (offered, _) in found.items() if offered)) or "none"
    findings.insert(0, Finding("capabilities", Severity.OK, f"the server offers: {detected}"))
    return frozenset(chosen), findings
