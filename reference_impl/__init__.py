"""The SPT reference server: a faithful, stateful stand-in for Stripe's Shared Payment Tokens.

`embedded.start()` runs one in a background thread; `create_app()` gives the ASGI app;
`serve.run()` is the `spt-conformance serve` command. The core (domain, machine, store,
service and the modules they use) imports no HTTP library: the names below load the HTTP
adapters only when first used (PEP 562), so `import reference_impl.service` stays HTTP-free.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reference_impl.app import create_app
    from reference_impl.embedded import AccountInfo, RunningServer, start

__all__ = ["AccountInfo", "RunningServer", "create_app", "start"]

_HOMES = {"create_app": "app", "AccountInfo": "embedded", "RunningServer": "embedded", "start": "embedded"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'reference_impl' has no attribute {name!r}")
    return getattr(importlib.import_module(f"reference_impl.{home}"), name)
