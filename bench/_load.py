"""A small HTTP/1.1 keep-alive load generator on raw asyncio sockets (httpx would be the
bottleneck), and a webhook receiver that timestamps arrivals. Used by bench_server.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Receiver", "Result", "run_load"]

Request = Callable[[int], bytes]  # request number -> raw request bytes


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


async def _client(
    host: str, port: int, make: Request, stop: float, out: list[float], statuses: dict[int, int], base: int
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    n = base
    try:
        while time.perf_counter() < stop:
            request = make(n)
            n += 1
            began = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            out.append(time.perf_counter() - began)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _load(host: str, port: int, make: Request, clients: int, seconds: float) -> Result:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    began = time.perf_counter()
    stop = began + seconds
    await asyncio.gather(*(_client(host, port, make, stop, latencies, statuses, i * 1_000_000) for i in range(clients)))
    return Result(len(latencies), time.perf_counter() - began, latencies, statuses)


def run_load(host: str, port: int, make: Request, clients: int, seconds: float) -> Result:
    return asyncio.run(_load(host, port, make, clients, seconds))


class Receiver:
    """Accepts webhook POSTs on a thread-free asyncio server; records (arrival time, body)."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, bytes]] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length)
                self.arrivals.append((time.perf_counter(), body))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
