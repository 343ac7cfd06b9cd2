"""Deliberate bugs the embedded server can be started with, to prove the suite catches them.

Each name switches on one bug at one site (`if "name" in faults:`). Faults reach the service only
through `reference_impl.embedded.start(faults=…)` or `create_app(faults=…)`: the command line and
the accounts file have no way to name one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

__all__ = ["KNOWN_FAULTS", "check_faults"]

KNOWN_FAULTS: Final[frozenset[str]] = frozenset(
    {
        "ignore_headroom",  # a payment over the remaining headroom succeeds (SPT-USE-005/006)
        "skip_granted_used_event",  # the seller gets no shared_payment.granted_token.used (SPT-EVT-002)
    }
)


def check_faults(faults: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(faults)
    unknown = sorted(chosen - KNOWN_FAULTS)
    if unknown:
        raise ValueError(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_FAULTS))}")
    return chosen
