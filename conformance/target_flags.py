"""The target described by command-line flags (and `SPT_*` variables) instead of a target file."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

__all__ = ["ENVIRONMENT", "UsageError", "add_target_arguments", "target_mapping"]

# Keys may come from the environment instead of flags, so they stay out of shell history.
ENVIRONMENT = {
    "agent_key": "SPT_AGENT_KEY",
    "seller_key": "SPT_SELLER_KEY",
    "seller_profile": "SPT_SELLER_PROFILE",
    "other_seller_key": "SPT_OTHER_SELLER_KEY",
    "other_seller_profile": "SPT_OTHER_SELLER_PROFILE",
    "payment_method": "SPT_PAYMENT_METHOD",
    "declined_payment_method": "SPT_DECLINED_PAYMENT_METHOD",
    "stripe_version": "SPT_STRIPE_VERSION",
}


class UsageError(Exception):
    """The flags describe no target, or contradict one another."""


def _flag_value(args: argparse.Namespace, name: str) -> str | None:
    value: str | None = getattr(args, name)
    return value if value else os.environ.get(ENVIRONMENT[name]) or None


def target_mapping(args: argparse.Namespace) -> dict[str, Any] | None:
    """The target-file mapping that --base-url and the key flags describe, or None."""
    given = [f"--{name.replace('_', '-')}" for name in ENVIRONMENT if getattr(args, name)]
    given += ["--capability"] if args.capability else []
    if args.target is not None:
        if args.base_url or given:
            flags = ", ".join([*(["--base-url"] if args.base_url else []), *given])
            raise UsageError(f"--target and {flags} both describe the target: use the target file, or only flags")
        return None
    if not args.base_url:
        if given:
            raise UsageError(f"{', '.join(given)} describe(s) a target, but --base-url is missing")
        return None
    values = {name: _flag_value(args, name) for name in ENVIRONMENT}
    for name in ("agent_key", "seller_key", "seller_profile"):
        if not values[name]:
            flag = f"--{name.replace('_', '-')}"
            raise UsageError(f"--base-url needs {flag} (or the environment variable {ENVIRONMENT[name]})")
    if bool(values["other_seller_key"]) != bool(values["other_seller_profile"]):
        raise UsageError("--other-seller-key and --other-seller-profile go together: give both or neither")
    agent: dict[str, Any] = {"secret_key": values["agent_key"]}
    if values["payment_method"]:
        agent["payment_method"] = values["payment_method"]
    if values["declined_payment_method"]:
        agent["declined_payment_method"] = values["declined_payment_method"]
    mapping: dict[str, Any] = {
        "base_url": args.base_url,
        "agent": agent,
        "seller": {"secret_key": values["seller_key"], "network_business_profile": values["seller_profile"]},
        "capabilities": dict.fromkeys(args.capability, True),
    }
    if values["other_seller_key"]:
        mapping["other_seller"] = {
            "secret_key": values["other_seller_key"],
            "network_business_profile": values["other_seller_profile"],
        }
    if values["stripe_version"]:
        mapping["stripe_version"] = values["stripe_version"]
    return mapping


def add_target_arguments(where: Any) -> None:
    from conformance.target import DECLARED_CAPABILITIES

    where.add_argument("--target", type=Path, metavar="FILE", help="target file (YAML, ${VAR} expanded)")
    where.add_argument("--base-url", metavar="URL", help="the server's base URL, instead of a target file")
    where.add_argument("--agent-key", metavar="KEY", help="the issuing account's sk_test_ key [$SPT_AGENT_KEY]")
    where.add_argument("--seller-key", metavar="KEY", help="the seller's sk_test_ key [$SPT_SELLER_KEY]")
    where.add_argument(
        "--seller-profile", metavar="ID", help="the seller's network business profile [$SPT_SELLER_PROFILE]"
    )
    where.add_argument(
        "--other-seller-key", metavar="KEY", help="a second seller, for isolation checks [$SPT_OTHER_SELLER_KEY]"
    )
    where.add_argument("--other-seller-profile", metavar="ID", help="its profile [$SPT_OTHER_SELLER_PROFILE]")
    where.add_argument(
        "--payment-method", metavar="PM", help="the agent's PaymentMethod (default pm_card_visa) [$SPT_PAYMENT_METHOD]"
    )
    where.add_argument(
        "--declined-payment-method",
        metavar="PM",
        help="one that declines, e.g. pm_card_chargeDeclined [$SPT_DECLINED_PAYMENT_METHOD]",
    )
    where.add_argument(
        "--capability",
        action="append",
        default=[],
        choices=DECLARED_CAPABILITIES,
        metavar="NAME",
        help=f"declare a capability (repeatable; default: detected by probing): {', '.join(DECLARED_CAPABILITIES)}",
    )
    where.add_argument("--stripe-version", metavar="V", help="sent as Stripe-Version [$SPT_STRIPE_VERSION]")
