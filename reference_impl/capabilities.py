"""Optional parts of the API a reference server can be started without, to stand for a target
that lacks them: the suite's capability detection and its SKIPPED verdicts are tested this way.

A capability left out answers every one of its paths as an unknown URL (404 with Stripe's
error body), as a server that never implemented it would. Only `create_app(without=…)` and
`embedded.start(without=…)` take the set; the command line has no way to name one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

__all__ = ["CAPABILITY_PATHS", "check_without", "hidden"]

# The capability names of a target file (conformance.target.DECLARED_CAPABILITIES).
CAPABILITY_PATHS: Final[dict[str, str]] = {
    "clock": "/v1/test_helpers/shared_payment/clock",
    "test_helpers": "/v1/test_helpers/shared_payment/granted_tokens",
    "webhook_endpoints": "/v1/webhook_endpoints",
    "events": "/v1/events",
}


def check_without(without: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(without)
    unknown = sorted(chosen - set(CAPABILITY_PATHS))
    if unknown:
        raise ValueError(f"unknown capability {', '.join(unknown)}; known: {', '.join(CAPABILITY_PATHS)}")
    return chosen


def hidden(path: str, without: frozenset[str]) -> bool:
    """Whether `path` belongs to a capability the server was started without."""
    for name in without:
        prefix = CAPABILITY_PATHS[name]
        if path == prefix or path.startswith(prefix + "/"):
            return True
    return False
