"""The server under test: its URL, the accounts the suite acts as, and what it offers.

A target comes from a YAML target file (`--target FILE`, `${VAR}` expanded from the
environment so the file can be committed without secrets), from command-line flags, or from the
embedded reference server. Whatever the source, it ends up as one frozen `Target`. Live keys are
refused here, before a single request is made.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

__all__ = [
    "DECLARED_CAPABILITIES",
    "Account",
    "Target",
    "TargetError",
    "load_target",
    "target_from_mapping",
]

# What a target file may declare under `capabilities:`; see spec/requirements.yaml for the
# derived ones (event_source, other_seller, declined_payment_method).
DECLARED_CAPABILITIES = ("clock", "webhook_endpoints", "events", "test_helpers")
# What a user reads when a requirement is skipped for want of a need: the names of the target file.
NEED_WORDING = {
    "event_source": "events or webhook_endpoints (an event source)",
    "other_seller": "an other_seller account",
    "declined_payment_method": "agent.declined_payment_method",
}
ROLES = ("agent", "seller", "other_seller")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_TEST_KEY = re.compile(r"^(sk|rk)_test_[A-Za-z0-9_]+$")
_LIVE_KEY = re.compile(r"^(sk|rk)_live_")


class TargetError(Exception):
    """A target that cannot be used as given; the CLI exits with 2 and this sentence."""


@dataclass(frozen=True)
class Account:
    """One account the suite acts as. The key never appears in repr() or reports."""

    role: str
    secret_key: str = field(repr=False)
    network_business_profile: str | None = None
    payment_method: str | None = None
    declined_payment_method: str | None = None

    @property
    def key_hint(self) -> str:
        """What may be shown of the key: its prefix and last four characters."""
        prefix = self.secret_key.split("_", 2)
        return f"{prefix[0]}_{prefix[1]}_…{self.secret_key[-4:]}" if len(prefix) == 3 else "…"


@dataclass(frozen=True)
class Target:
    name: str
    base_url: str
    agent: Account
    seller: Account
    other_seller: Account | None = None
    capabilities: frozenset[str] = frozenset()
    stripe_version: str | None = None
    # Capabilities the file left to `auto` (the default): `spt-conformance doctor` probes them.
    undecided: frozenset[str] = frozenset()
    # The bundled reference server: its own decisions are checked as requirements, not INFO.
    embedded: bool = False

    def has(self, capability: str) -> bool:
        if capability == "event_source":
            return bool({"events", "webhook_endpoints"} & self.capabilities)
        if capability == "other_seller":
            return self.other_seller is not None
        if capability == "declined_payment_method":
            return self.agent.declined_payment_method is not None
        return capability in self.capabilities

    def missing(self, needs: Iterable[str]) -> list[str]:
        """The needs the target lacks, worded as the target file names them."""
        return [NEED_WORDING.get(need, need) for need in sorted(needs) if not self.has(need)]

    def to_mapping(self) -> dict[str, Any]:
        """The target-file mapping of this target (with its keys: write it privately)."""
        mapping: dict[str, Any] = {"name": self.name, "base_url": self.base_url}
        if self.stripe_version:
            mapping["stripe_version"] = self.stripe_version
        for account in self.accounts:
            fields = {
                "secret_key": account.secret_key,
                "network_business_profile": account.network_business_profile,
                "payment_method": account.payment_method,
                "declined_payment_method": account.declined_payment_method,
            }
            mapping[account.role] = {k: v for k, v in fields.items() if v is not None}
        mapping["capabilities"] = {name: name in self.capabilities for name in DECLARED_CAPABILITIES}
        return mapping

    @property
    def is_stripe(self) -> bool:
        """Stripe itself, whose test-mode rate limit the suite must respect."""
        return (urlsplit(self.base_url).hostname or "").endswith("stripe.com")

    @property
    def accounts(self) -> tuple[Account, ...]:
        return tuple(a for a in (self.agent, self.seller, self.other_seller) if a is not None)

    def secrets(self) -> frozenset[str]:
        """Every secret value the target holds, for scrubbing."""
        return frozenset(a.secret_key for a in self.accounts)


def _expand(value: Any, where: str, environ: Mapping[str, str]) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            raise TargetError(f"{where} uses ${{{name}}}, but the environment variable {name} is not set")

        return _VARIABLE.sub(substitute, value)
    if isinstance(value, dict):
        return {k: _expand(v, f"{where}.{k}", environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, f"{where}[{i}]", environ) for i, v in enumerate(value)]
    return value


def _account(data: Any, role: str, source: str) -> Account:
    where = f"{source}: {role}"
    if not isinstance(data, dict):
        raise TargetError(f"{where} must be a mapping with at least secret_key")
    allowed = {"secret_key", "network_business_profile", "payment_method", "declined_payment_method"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise TargetError(f"{where} has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    key = data.get("secret_key")
    if not isinstance(key, str) or not key:
        raise TargetError(f"{where}.secret_key is missing")
    if _LIVE_KEY.match(key):
        raise TargetError(
            f"{where}.secret_key is a live-mode key; the suite refuses live keys: certify with test-mode keys "
            "(sk_test_…) only"
        )
    if not _TEST_KEY.match(key):
        raise TargetError(f"{where}.secret_key does not look like a test-mode secret key (sk_test_… or rk_test_…)")
    profile = data.get("network_business_profile")
    if role != "agent" and not profile:
        raise TargetError(f"{where}.network_business_profile is missing: tokens are issued to a seller's profile")
    payment_method = data.get("payment_method", "pm_card_visa" if role == "agent" else None)
    return Account(
        role=role,
        secret_key=key,
        network_business_profile=profile,
        payment_method=payment_method,
        declined_payment_method=data.get("declined_payment_method"),
    )


def target_from_mapping(
    data: Any, source: str = "target", environ: Mapping[str, str] | None = None, *, embedded: bool = False
) -> Target:
    """Build a Target from the mapping of a target file (docs/target-file.md)."""
    environ = os.environ if environ is None else environ
    if not isinstance(data, dict):
        raise TargetError(f"{source} must be a YAML mapping (see the target file format in the README)")
    allowed = {"name", "base_url", "stripe_version", "agent", "seller", "other_seller", "capabilities"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise TargetError(f"{source} has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    data = _expand(data, source, environ)
    base_url = data.get("base_url")
    if (
        not isinstance(base_url, str)
        or urlsplit(base_url).scheme not in ("http", "https")
        or not urlsplit(base_url).hostname
    ):
        raise TargetError(f"{source}: base_url must be an http(s) URL, got {base_url!r}")
    for role in ("agent", "seller"):
        if role not in data:
            raise TargetError(f"{source}: the {role} account is missing")
    capabilities = data.get("capabilities", "auto")
    if capabilities is None or capabilities == "auto":
        capabilities = dict.fromkeys(DECLARED_CAPABILITIES, "auto")
    if not isinstance(capabilities, dict):
        raise TargetError(f"{source}: capabilities must be auto, or a mapping of name: true|false|auto")
    unknown = sorted(set(capabilities) - set(DECLARED_CAPABILITIES))
    if unknown:
        raise TargetError(
            f"{source}: unknown capability {', '.join(unknown)}; known: {', '.join(DECLARED_CAPABILITIES)}"
        )
    for name, value in capabilities.items():
        if not isinstance(value, bool) and value != "auto":
            raise TargetError(f"{source}: capabilities.{name} must be true, false or auto, got {value!r}")
    undecided = frozenset(name for name in DECLARED_CAPABILITIES if capabilities.get(name, "auto") == "auto")
    stripe_version = data.get("stripe_version")
    if stripe_version is not None and not isinstance(stripe_version, str):
        raise TargetError(f'{source}: stripe_version must be a string such as "2026-04-22.preview"')
    return Target(
        name=str(data.get("name") or urlsplit(base_url).hostname),
        base_url=base_url.rstrip("/"),
        agent=_account(data["agent"], "agent", source),
        seller=_account(data["seller"], "seller", source),
        other_seller=_account(data["other_seller"], "other_seller", source) if data.get("other_seller") else None,
        capabilities=frozenset(name for name, on in capabilities.items() if on is True),
        stripe_version=stripe_version,
        undecided=undecided,
        embedded=embedded,
    )


def load_target(path: Path, environ: Mapping[str, str] | None = None) -> Target:
    """Read a target file."""
    try:
        with path.open(encoding="utf-8") as stream:  # a stream, so YAML errors name the file
            data = yaml.safe_load(stream)
    except OSError as exc:
        raise TargetError(f"cannot read the target file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise TargetError(f"{path} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except yaml.YAMLError as exc:
        raise TargetError(f"{path} is not valid YAML: {exc}") from None
    return target_from_mapping(data, str(path), environ)
