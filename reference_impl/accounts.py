"""The accounts the server knows: an agent that issues tokens and sellers they are granted to.

They come from a YAML file (`--accounts FILE`) or the defaults (one agent, `seller` and
`other_seller`). A key or profile the file does not give is generated with `secrets` the first
time a database sees the account and kept in that database, so every database has its own
credentials and none is a constant in this code. The accounts file format:

    accounts:
      - name: agent                  # unique; the target roles are agent, seller, other_seller
        role: agent                  # agent | seller
        secret_key: sk_test_...      # optional
        network_business_profile: profile_test_...   # optional
      - {name: seller, role: seller}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reference_impl.ids import new_id, new_secret
from reference_impl.objects import Account
from reference_impl.store import Tx

__all__ = [
    "DEFAULT_ACCOUNTS",
    "AccountSpec",
    "AccountsFileError",
    "Directory",
    "ensure_accounts",
    "load_accounts_file",
    "target_mapping",
    "target_roles",
]

_KEY = re.compile(r"^sk_test_[A-Za-z0-9_]{8,}$")
_PROFILE = re.compile(r"^profile_(test_)?[A-Za-z0-9]{8,}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class AccountsFileError(ValueError):
    """The accounts file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class AccountSpec:
    name: str
    role: str
    secret_key: str | None = field(default=None, repr=False)
    profile: str | None = None


DEFAULT_ACCOUNTS: tuple[AccountSpec, ...] = (
    AccountSpec("agent", "agent"),
    AccountSpec("seller", "seller"),
    AccountSpec("other_seller", "seller"),
)


def _spec(index: int, entry: Any) -> AccountSpec:
    where = f"accounts[{index}]"
    if not isinstance(entry, dict):
        raise AccountsFileError(f"{where} must be a mapping with name and role")
    unknown = sorted(set(entry) - {"name", "role", "secret_key", "network_business_profile"})
    if unknown:
        raise AccountsFileError(f"{where}: unknown key(s) {', '.join(unknown)}")
    name, role = entry.get("name"), entry.get("role")
    if not isinstance(name, str) or _NAME.match(name) is None:
        raise AccountsFileError(f"{where}.name must be lowercase letters, digits and _ (got {name!r})")
    if role not in ("agent", "seller"):
        raise AccountsFileError(f"{where}.role must be agent or seller (got {role!r})")
    key, profile = entry.get("secret_key"), entry.get("network_business_profile")
    if key is not None and (not isinstance(key, str) or _KEY.match(key) is None):
        raise AccountsFileError(f"{where}.secret_key must look like sk_test_<at least 8 letters or digits>")
    if profile is not None and (not isinstance(profile, str) or _PROFILE.match(profile) is None):
        raise AccountsFileError(f"{where}.network_business_profile must look like profile_test_<letters/digits>")
    return AccountSpec(name, role, key, profile)


def load_accounts_file(path: str | Path) -> tuple[AccountSpec, ...]:
    try:
        with Path(path).open(encoding="utf-8") as stream:  # a stream, so YAML errors name the file
            data = yaml.safe_load(stream)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise AccountsFileError(f"cannot read accounts file {path}: {exc}") from None
    if not isinstance(data, dict) or set(data) != {"accounts"} or not isinstance(data["accounts"], list):
        raise AccountsFileError(f"{path}: expected a mapping with one key, accounts: [...]")
    specs = tuple(_spec(i, entry) for i, entry in enumerate(data["accounts"]))
    check_specs(specs)
    return specs


def check_specs(specs: Sequence[AccountSpec]) -> None:
    names = [s.name for s in specs]
    for label, values in (
        ("name", names),
        ("secret_key", [s.secret_key for s in specs if s.secret_key]),
        ("network_business_profile", [s.profile for s in specs if s.profile]),
    ):
        if len(values) != len(set(values)):
            raise AccountsFileError(f"two accounts share a {label}")
    if not any(s.role == "agent" for s in specs) or not any(s.role == "seller" for s in specs):
        raise AccountsFileError("the accounts need at least one agent and one seller")


def ensure_accounts(tx: Tx, specs: Iterable[AccountSpec], now: int) -> list[Account]:
    """Create or update the configured accounts in the database; the file wins where it speaks."""
    existing = {a.name: a for a in tx.accounts()}
    for spec in specs:
        current = existing.get(spec.name)
        if current is None:
            current = Account(
                id=new_id("acct", 16),
                name=spec.name,
                role=spec.role,
                secret_key=spec.secret_key or new_secret("sk_test_", 32),
                profile=spec.profile or new_secret("profile_test_", 44),
                created=now,
            )
        else:
            current = current.replace(
                role=spec.role,
                secret_key=spec.secret_key or current.secret_key,
                profile=spec.profile or current.profile,
            )
        tx.put(current)
    return tx.accounts()


class Directory:
    """The accounts by id, by secret key and by profile; fixed for the life of the server."""

    def __init__(self, accounts: Iterable[Account]) -> None:
        self.all: tuple[Account, ...] = tuple(accounts)
        self.by_id: Mapping[str, Account] = {a.id: a for a in self.all}
        self.by_key: Mapping[str, Account] = {a.secret_key: a for a in self.all}
        self.by_profile: Mapping[str, Account] = {a.profile: a for a in self.all}


def target_roles(accounts: Sequence[Account]) -> dict[str, Account]:
    """Which account plays agent, seller and other_seller in a target file: the accounts of
    those names if they exist, else the first agent and the first two sellers."""
    by_name = {a.name: a for a in accounts}
    agents = [a for a in accounts if a.role == "agent"]
    sellers = [a for a in accounts if a.role == "seller"]
    roles: dict[str, Account] = {}
    agent = by_name.get("agent")
    roles["agent"] = agent if agent is not None and agent.role == "agent" else agents[0]
    seller = by_name.get("seller")
    roles["seller"] = seller if seller is not None and seller.role == "seller" else sellers[0]
    other = by_name.get("other_seller")
    if other is None or other.role != "seller" or other is roles["seller"]:
        other = next((s for s in sellers if s is not roles["seller"]), None)
    if other is not None:
        roles["other_seller"] = other
    return roles


def target_mapping(name: str, base_url: str, accounts: Sequence[Account], stripe_version: str) -> dict[str, Any]:
    """A target file (docs/target-file.md) for the suite to certify this server with."""
    roles = target_roles(accounts)
    agent = roles["agent"]
    target: dict[str, Any] = {
        "name": name,
        "base_url": base_url,
        "stripe_version": stripe_version,
        "agent": {
            "secret_key": agent.secret_key,
            "payment_method": "pm_card_visa",
            "declined_payment_method": "pm_card_chargeDeclined",
        },
    }
    for role in ("seller", "other_seller"):
        if role in roles:
            target[role] = {"secret_key": roles[role].secret_key, "network_business_profile": roles[role].profile}
    target["capabilities"] = {"clock": True, "webhook_endpoints": True, "events": True, "test_helpers": True}
    return target
