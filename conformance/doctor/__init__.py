"""`spt-conformance doctor`: what is wrong with a setup, said before a run rather than by its failures.

Theory of operation. The checks run in order, and each stage runs only if the ones before it let
the run go on: the target file alone (same key twice, a placeholder left in, a base_url holding
/v1: exit 2, nothing sent); the server (reachable, Stripe's error shape, every key taken, the
Stripe-Version, the clock: exit 3); its capabilities, detected by probing where the file says
auto; then the accounts (profiles and payment methods exist and belong to the right account),
with the webhook path checked around that probe, whose token makes the event the ping waits for.
Each finding is one sentence with its fix. `run` and `certify` call `diagnose` as their preflight.
"""

from __future__ import annotations

import dataclasses

import httpx

from conformance.doctor.accounts import probe_accounts
from conformance.doctor.capabilities import resolve_capabilities
from conformance.doctor.findings import Diagnosis, Finding, Severity
from conformance.doctor.server import probe_server
from conformance.doctor.static import PREVIEW_VERSION, static_findings
from conformance.doctor.webhook import is_local, webhook_ping
from conformance.target import Target

__all__ = ["PREVIEW_VERSION", "Diagnosis", "Finding", "Severity", "diagnose", "resolved"]

TIMEOUT = 4.0  # seconds per request: the whole diagnosis must stay within a few seconds


def _pushes(events: str, capabilities: frozenset[str]) -> bool:
    """Whether the run will take events by webhook (conformance.events.choose_mode's rule)."""
    return events == "push" or (events == "auto" and "webhook_endpoints" in capabilities)


def diagnose(
    target: Target,
    *,
    live: bool = True,
    events: str = "auto",
    public_url: str | None = None,
    receiver_port: int | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Diagnosis:
    """Every finding about `target`; with `live=False`, only what the target file shows."""
    diagnosis = Diagnosis(tuple(static_findings(target)))
    if diagnosis.stops or not live:
        return diagnosis
    headers = {"User-Agent": "spt-conformance doctor"}
    with httpx.Client(base_url=target.base_url, timeout=TIMEOUT, headers=headers, transport=transport) as http:
        try:
            return _live(diagnosis, target, http, events, public_url, receiver_port)
        except httpx.HTTPError as exc:
            return diagnosis.add(
                [
                    Finding(
                        "server",
                        Severity.STOP,
                        f"{target.base_url} stopped answering ({exc.__class__.__name__}: {exc}): check the server, "
                        "then run again",
                    )
                ]
            )


def _live(
    diagnosis: Diagnosis,
    target: Target,
    http: httpx.Client,
    events: str,
    public_url: str | None,
    receiver_port: int | None,
) -> Diagnosis:
    diagnosis = diagnosis.add(probe_server(target, http))
    if diagnosis.stops:
        return diagnosis
    capabilities, found = resolve_capabilities(target, http)
    pushes = _pushes(events, capabilities)
    unreachable = public_url is None and not is_local(target.base_url)
    if not pushes and unreachable and "webhook_endpoints" in capabilities & target.undecided:
        # Polling, and no way back to this machine: the webhook requirements cannot be checked.
        capabilities -= {"webhook_endpoints"}
        found.append(
            Finding(
                "webhooks",
                Severity.WARN,
                f"{target.base_url} offers webhook endpoints but cannot reach this machine without --public-url: "
                "the webhook requirements will be SKIPPED; give --public-url (a tunnel) to check them",
            )
        )
    diagnosis = dataclasses.replace(diagnosis.add(found), capabilities=capabilities)
    with webhook_ping(target, http, public_url=public_url, receiver_port=receiver_port, enabled=pushes) as ping:
        diagnosis = diagnosis.add(probe_accounts(target, http))
    return diagnosis.add(ping.findings)


def resolved(target: Target, diagnosis: Diagnosis) -> Target:
    """The target with the capabilities the diagnosis settled on (unchanged when it probed none)."""
    if diagnosis.capabilities is None:
        return target
    return dataclasses.replace(target, capabilities=diagnosis.capabilities, undecided=frozenset())
