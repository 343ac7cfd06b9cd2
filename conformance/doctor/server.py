"""Does the server speak Stripe's API, take each key, accept the Stripe-Version, and keep time?

One retrieve per account of a token id that cannot exist: a Stripe-shaped server answers 404
with Stripe's error body once it has accepted the key. Anything else says what is wrong with the
setup before eighty tests say it eighty times.
"""

from __future__ import annotations

import email.utils
import time

import httpx

from conformance.client import Exchange, Journal, StripeClient
from conformance.doctor.findings import Finding, Severity
from conformance.target import Account, Target

__all__ = ["MAX_SKEW", "probe_server"]

# Ids that exist nowhere: a Stripe server answers 404 resource_missing once it has accepted the key.
PROBES = {
    "agent": "/v1/shared_payment/issued_tokens/spt_doctorprobe000000000000",
    "seller": "/v1/shared_payment/granted_tokens/spt_doctorprobe000000000000",
    "other_seller": "/v1/shared_payment/granted_tokens/spt_doctorprobe000000000000",
}
MAX_SKEW = 300  # seconds: the webhook signature tolerance; beyond it every signed delivery reads as stale
WARN_SKEW = 30


def _stop(check: str, message: str) -> Finding:
    return Finding(check, Severity.STOP, message)


def _media(exchange: Exchange) -> str:
    return (exchange.header("Content-Type") or "no Content-Type").split(";")[0].strip()


def _judge(target: Target, account: Account, exchange: Exchange) -> Finding | None:
    """The one problem this probe shows, or None when the server answered like Stripe."""
    where = f"{target.base_url} answered GET {exchange.path} as the {account.role}"
    error = exchange.error
    if exchange.status == 401:
        return _stop(
            "keys",
            f"{target.base_url} refused the {account.role} key ({account.key_hint}) with 401: copy the key again "
            "from the account's dashboard (a revoked or mistyped key)",
        )
    if exchange.status == 400 and error is not None and "version" in str(error.get("message", "")).lower():
        return _stop(
            "version",
            f"{target.base_url} refused Stripe-Version {target.stripe_version!r} ({error.get('message')}): set "
            "stripe_version to a version the server accepts",
        )
    if exchange.status == 403:
        return _stop(
            "keys",
            f"{where} with 403: the {account.role} account is not enabled for shared payment tokens; enable the "
            "preview for it or use another account",
        )
    if exchange.status >= 500:
        return _stop("server", f"{where} with {exchange.status}: the server is failing; fix it, then run again")
    if exchange.body is None:
        return _stop(
            "server",
            f"{where} with {exchange.status} {_media(exchange)}, not Stripe's JSON: base_url must be the API's root "
            "(not a web page, a login page or another port)",
        )
    if exchange.status >= 400 and error is not None and isinstance(error.get("message"), str):
        # Stripe's error shape: the setup works. Which 4xx it is (404 is right) is the suite's to judge.
        return None
    if exchange.status < 400:
        return _stop(
            "server",
            f"{where} with {exchange.status}, where a token id that cannot exist must be refused: is base_url a "
            "Stripe-compatible API, not a mock that answers everything?",
        )
    return _stop(
        "server",
        f"{where} with {exchange.status} and no Stripe error body, where a token id that does not exist should get "
        '404 {"error": {"type", "message"}}: is base_url the root of a Stripe-compatible API?',
    )


def _skew(exchange: Exchange) -> float | None:
    date = exchange.header("Date")
    if not date:
        return None
    try:
        return email.utils.parsedate_to_datetime(date).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


def _clock(target: Target, exchange: Exchange) -> Finding:
    skew = _skew(exchange)
    if skew is None:
        return Finding(
            "clock",
            Severity.WARN,
            f"{target.base_url} sends no Date header, so the suite cannot correct for a clock difference: add one",
        )
    ahead = "ahead of" if skew > 0 else "behind"
    if abs(skew) > MAX_SKEW:
        return _stop(
            "clock",
            f"the server's clock is {abs(skew):.0f} s {ahead} this machine's, beyond the {MAX_SKEW} s a webhook "
            "signature may be off: synchronise both clocks (NTP)",
        )
    if abs(skew) > WARN_SKEW:
        return Finding(
            "clock",
            Severity.WARN,
            f"the server's clock is {abs(skew):.0f} s {ahead} this machine's; the suite corrects for it, but "
            "synchronise both clocks (NTP) to keep webhook signatures fresh",
        )
    return Finding("clock", Severity.OK, f"the server's clock is within {WARN_SKEW} s of this machine's")


def _version(target: Target, exchange: Exchange) -> Finding | None:
    answered = exchange.header("Stripe-Version")
    if target.stripe_version and answered and answered != target.stripe_version:
        return Finding(
            "version",
            Severity.WARN,
            f"sent Stripe-Version {target.stripe_version!r}, the server answered {answered!r}: set stripe_version "
            f'to "{answered}" if that is the version the server serves',
        )
    if target.stripe_version:
        return Finding("version", Severity.OK, f"Stripe-Version {target.stripe_version!r} accepted")
    return None


def probe_server(target: Target, http: httpx.Client) -> list[Finding]:
    """Reach the server as every account; the findings end at the first account that cannot go on."""
    findings: list[Finding] = []
    last: Exchange | None = None
    for account in target.accounts:
        client = StripeClient(http, account, Journal(), stripe_version=target.stripe_version)
        try:
            exchange = client.get(PROBES[account.role])
        except httpx.TransportError as exc:
            return [
                _stop(
                    "server",
                    f"cannot reach {target.base_url} ({exc.__class__.__name__}: {exc}): is the server "
                    "running, and base_url right?",
                )
            ]
        problem = _judge(target, account, exchange)
        if problem is not None:
            return [*findings, problem]
        last = exchange
    assert last is not None
    findings.append(
        Finding("server", Severity.OK, f"{target.base_url} speaks Stripe's error shape and takes every key")
    )
    findings.append(_clock(target, last))
    version = _version(target, last)
    if version is not None:
        findings.append(version)
    return findings
