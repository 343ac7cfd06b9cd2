"""The run's one connection pool (conformance.session.RunState.http)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from conformance.options import RunOptions
from conformance.session import RunState
from conformance.spec import default_spec
from conformance.target import target_from_mapping
from reference_impl.embedded import start


def test_pool_keeps_few_idle_connections_after_a_burst() -> None:
    """A concurrency test opens a connection per thread; the pool must not keep them all, or
    every later request of the run polls each one before it is sent."""
    with start() as server:
        state = RunState(default_spec(), target_from_mapping(server.target(), "test"), RunOptions())
        pool = state.http._transport._pool  # type: ignore[attr-defined]  # httpx keeps it private
        together = threading.Barrier(20)
        peak: list[int] = []

        def send(_: int) -> int:
            together.wait(timeout=10)
            status = state.http.get("/v1/events").status_code
            peak.append(len(pool.connections))
            return status

        try:
            with ThreadPoolExecutor(20) as threads:
                statuses = list(threads.map(send, range(20)))
            state.http.get("/v1/events")
            assert statuses == [401] * 20  # unauthenticated: the server answered every one
            assert max(peak) > 4  # the burst did open many connections
            assert 1 <= len(pool.connections) <= 4
        finally:
            state.close()
