"""The SPT reference server: a faithful, stateful stand-in for Stripe's Shared Payment Tokens.

`embedded.start()` runs one in a background thread; `create_app()` gives the ASGI app;
`serve.run()` is the `spt-conformance serve` command. The core (domain, machine, store,
service and the modules they use) imports no HTTP library.
"""

from __future__ import annotations

from reference_impl.app import create_app
from reference_impl.embedded import AccountInfo, RunningServer, start

__all__ = ["AccountInfo", "RunningServer", "create_app", "start"]
