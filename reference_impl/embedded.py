"""The reference server in a background thread of the calling process.

`spt-conformance run` with no target, and the tests, start it with `start()`: uvicorn serves
the app on a socket bound before the thread starts (so the port is known at once, even for
`port=0`), and `start()` returns once the server accepts connections. `stop()` (or leaving the
`with` block) shuts uvicorn down, which stops the webhook worker and the sweeper and closes the
database; no thread is left behind.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn

from reference_impl.accounts import AccountSpec, target_mapping, target_roles
from reference_impl.app import create_app
from reference_impl.context import DEFAULT_API_VERSION
from reference_impl.protocol import MAX_HEAD, protocol_for
from reference_impl.runtime import Runtime
from reference_impl.tuning import Tuning

__all__ = ["AccountInfo", "RunningServer", "start"]


@dataclass(frozen=True)
class AccountInfo:
    name: str
    role: str  # "agent" or "seller"
    secret_key: str = field(repr=False)
    profile: str
    target_role: str | None  # "agent", "seller" or "other_seller" in target(); None otherwise


def uvicorn_config(app: Any, tuning: Tuning | None = None, **options: Any) -> uvicorn.Config:
    """uvicorn's settings for `app`; the connection limits come from `tuning`, else from the
    app's runtime (an app wrapped in middleware has none: then the defaults)."""
    # log_config=None: never reconfigure the host process's logging; no websockets, no access log.
    runtime: Runtime | None = getattr(getattr(app, "state", None), "runtime", None)
    tuning = tuning or (runtime.tuning if runtime is not None else Tuning())
    return uvicorn.Config(
        app,
        http=protocol_for(tuning),
        h11_max_incomplete_event_size=MAX_HEAD,
        proxy_headers=False,  # nothing reads the client's address: no X-Forwarded-* to trust
        log_config=None,
        access_log=False,
        ws="none",
        lifespan="on",
        **options,
    )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket's proto says TCP; with proto 0, Nagle plus delayed ACKs add ~40 ms to
    # every keep-alive response (headers and body are two writes).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # connect() queues from now on, before uvicorn's loop accepts
    except OSError:
        sock.close()
        raise
    return sock


class RunningServer:
    def __init__(self, server: uvicorn.Server, thread: threading.Thread, sock: socket.socket, runtime: Runtime) -> None:
        self._server, self._thread, self._sock = server, thread, sock
        self.runtime = runtime
        host, port = sock.getsockname()[:2]
        self.base_url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        roles = {a.id: role for role, a in target_roles(runtime.service.accounts.all).items()}
        self.accounts: Mapping[str, AccountInfo] = {
            a.name: AccountInfo(a.name, a.role, a.secret_key, a.profile, roles.get(a.id))
            for a in runtime.service.accounts.all
        }

    def target(self) -> dict[str, Any]:
        """The target-file mapping (docs/target-file.md) that certifies this server."""
        return target_mapping(
            "reference-server (embedded)", self.base_url, self.runtime.service.accounts.all, DEFAULT_API_VERSION
        )

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join()
        self._sock.close()
        self.runtime.close()  # already closed by the lifespan; here for a server that never started

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start(
    db: str = ":memory:",
    host: str = "127.0.0.1",
    port: int = 0,
    accounts: tuple[AccountSpec, ...] | None = None,
    faults: frozenset[str] = frozenset(),
    variants: frozenset[str] = frozenset(),
    without: frozenset[str] = frozenset(),
    **tuning: Any,
) -> RunningServer:
    """Serve a reference server on `host:port` (0: a free port) from a background thread;
    `without` names capabilities it answers as unknown paths (reference_impl.capabilities)."""
    app = create_app(db=db, accounts=accounts, faults=faults, variants=variants, without=without, **tuning)
    runtime: Runtime = app.state.runtime
    try:
        sock = bind(host, port)
    except BaseException:
        runtime.close()
        raise
    server = uvicorn.Server(uvicorn_config(app))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="spt-reference-server", daemon=True)
    running = RunningServer(server, thread, sock, runtime)
    thread.start()
    while not server.started:
        thread.join(0.005)
        if not thread.is_alive():
            running.stop()
            raise RuntimeError("the reference server failed to start; see the log for why")
    return running
