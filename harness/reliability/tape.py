"""An embedded reference server whose every HTTP response is kept, as it left the app.

The app is wrapped in a small ASGI middleware (`Tape`) before uvicorn serves it, exactly as
`reference_impl.embedded.start` would serve it otherwise; what a client of any kind received is
then on the tape, whatever the client did with it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_impl import RunningServer, create_app
from reference_impl.embedded import bind, uvicorn_config

__all__ = ["Recorded", "Tape", "start_taped"]


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    status: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Tape:
    app: ASGIApp
    responses: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status, chunks = 0, []

        async def keep(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))
            await send(message)

        await self.app(scope, receive, keep)
        with self.lock:
            self.responses.append(Recorded(scope["method"], scope["path"], status, b"".join(chunks)))


def start_taped(
    db: str = ":memory:", host: str = "127.0.0.1", port: int = 0, **tuning: Any
) -> tuple[RunningServer, Tape]:
    """`reference_impl.embedded.start`, with the responses taped."""
    app = create_app(db=db, **tuning)
    tape = Tape(app)
    sock = bind(host, port)
    server = uvicorn.Server(uvicorn_config(tape, app.state.runtime.tuning))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="spt-taped-server", daemon=True)
    running = RunningServer(server, thread, sock, app.state.runtime)
    thread.start()
    while not server.started:
        thread.join(0.005)
        if not thread.is_alive():
            running.stop()
            raise RuntimeError("the taped reference server failed to start")
    return running, tape
