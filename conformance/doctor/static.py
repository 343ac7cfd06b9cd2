"""The checks of a target that need no network: the mistakes a target file shows by itself."""

from __future__ import annotations

import re
from itertools import combinations
from urllib.parse import urlsplit

from conformance.doctor.findings import Finding, Severity
from conformance.target import Target

__all__ = ["PREVIEW_VERSION", "static_findings"]

# The version the preview SDK (stripe-python 16.1.0a4) sends, and the reference server's default.
PREVIEW_VERSION = "2026-10-14.preview"
# What the README's examples and hand-written files leave in place of a real id.
_PLACEHOLDER = re.compile(r"\.\.\.|…|[<>{}]|xxxx|^(profile_test|profile|pm)_?$")


def _keys(target: Target) -> list[Finding]:
    findings = []
    for first, second in combinations(target.accounts, 2):
        if first.secret_key == second.secret_key:
            findings.append(
                Finding(
                    "keys",
                    Severity.CONFIG,
                    f"{first.role}.secret_key and {second.role}.secret_key are the same key ({first.key_hint}): "
                    f"the {second.role} must be another account; give it that account's own sk_test_ key",
                )
            )
    if not findings:
        roles = ", ".join(f"{a.role} {a.key_hint}" for a in target.accounts)
        findings.append(Finding("keys", Severity.OK, f"test-mode keys, one per account ({roles})"))
    return findings


def _ids(target: Target) -> list[Finding]:
    findings = []
    for account in target.accounts:
        for name in ("network_business_profile", "payment_method", "declined_payment_method"):
            value = getattr(account, name)
            if value and _PLACEHOLDER.search(value):
                kind = "Stripe profile id (profile_…)" if name == "network_business_profile" else "PaymentMethod"
                findings.append(
                    Finding(
                        "profiles" if name == "network_business_profile" else "payment methods",
                        Severity.CONFIG,
                        f"{account.role}.{name} is the placeholder {value!r}: put the {account.role}'s own {kind} "
                        "there (the reference server prints its profiles when it starts)",
                    )
                )
    sellers = [a for a in target.accounts if a.network_business_profile and a.role != "agent"]
    for first, second in combinations(sellers, 2):
        if first.network_business_profile == second.network_business_profile:
            findings.append(
                Finding(
                    "profiles",
                    Severity.CONFIG,
                    f"{first.role} and {second.role} name the same profile {first.network_business_profile!r}: "
                    f"give the {second.role} its own account's profile",
                )
            )
    return findings


def _base_url(target: Target) -> list[Finding]:
    parts = urlsplit(target.base_url)
    if "v1" in parts.path.split("/"):
        fixed = target.base_url[: target.base_url.find("/v1")]
        return [
            Finding(
                "base_url",
                Severity.CONFIG,
                f"base_url {target.base_url} holds /v1, which the suite adds to every path (requests would go to "
                f"/v1/v1/…): use base_url: {fixed}",
            )
        ]
    if target.is_stripe and parts.scheme != "https":
        return [Finding("base_url", Severity.CONFIG, f"base_url {target.base_url}: use https://api.stripe.com")]
    return []


def _version(target: Target) -> list[Finding]:
    version = target.stripe_version
    if version is None:
        if target.is_stripe:
            return [
                Finding(
                    "version",
                    Severity.WARN,
                    "no stripe_version: Stripe serves shared payment tokens on preview versions only; set "
                    f'stripe_version: "{PREVIEW_VERSION}" (the preview SDK\'s version)',
                )
            ]
        return []
    if not version.endswith(".preview"):
        return [
            Finding(
                "version",
                Severity.WARN,
                f"stripe_version {version!r} is not a preview version, and shared payment tokens are a preview API: "
                f'use "{PREVIEW_VERSION}" unless your server documents another',
            )
        ]
    return []


def static_findings(target: Target) -> list[Finding]:
    """Every problem the target shows without a request; CONFIG findings stop before any is sent."""
    return [*_keys(target), *_ids(target), *_base_url(target), *_version(target)]
