"""`spt-conformance replay DIR`: the suite's assertions, run again against recorded traffic.

Theory of operation. The `Replayer` is a pytest plugin object. For each test it opens the test's
cassette (`conformance.cassettes.play.ReplayCassette`, read ahead on another core by
`conformance.cassettes.load`), makes it current on the run's `Router` for the whole test protocol,
and injects the webhook deliveries it holds into the receiver up front (a replay's receiver
listens on no port). Nothing is copied from the recording's verdicts: the checks and assertions
run again on what the cassette answers, so an edited response is judged like a live one.

A request the cassette does not hold raises `ReplayMiss`; the run then ends as a replay error
(exit 2), whatever the verdicts say.
"""

from __future__ import annotations

import contextlib
import gc
import json
import time
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from conformance.cassettes.session import SESSION_CASSETTE, Manifest, Router, patched, stable_generation
from conformance.cassettes.load import Preloader
from conformance.cassettes.play import ReplayCassette, ReplayMiss
from conformance.cassettes.scrub import Scrubber
from conformance.client import StripeClient
from conformance.clock import Clock
from conformance.cassettes.replay_receiver import ReplayReceiver
from conformance.deliveries import DeliveryLog
from conformance.session import RunState
from conformance.violation import find_exception

__all__ = ["ReplayClock", "Replayer"]


class ReplayClock(Clock):
    """The clock without waiting: the local clock reads what it read when recorded, and time a
    live run waited for is added, not slept (`RecordingClock` kept the readings)."""

    def __init__(self, client: StripeClient, *, extension: bool, max_wait: float, readings: Sequence[int] = ()) -> None:
        super().__init__(client, extension=extension, max_wait=max_wait)
        self._readings = list(readings)
        self._waited = 0.0

    def now(self) -> int:
        if self.extension:
            return super().now()
        live = super().now()  # as recorded: the first reading asks the target for its Date
        if self._readings:
            return self._readings.pop(0)
        return live + int(self._waited)

    def advance(self, seconds: int) -> None:
        if self.extension or seconds > self.max_wait:
            super().advance(seconds)  # the extension's request, or the skip with its reason
            return
        self._waited += seconds


class Replayer:
    """The replaying side of a run; see the module docstring."""

    replaying = True

    def __init__(self, directory: Path, manifest: Manifest, state: RunState) -> None:
        self.directory = directory
        self.manifest = manifest
        self.scrubber = Scrubber(state.target.secrets())
        self.router = Router(state.target.base_url, replaying=True, blocked=self._blocked)
        self.cassettes = {entry.test: entry.cassette for entry in manifest.tests}
        self.clock_volatile = not state.target.has("clock")
        self.receiver: ReplayReceiver | None = None
        self.misses: list[str] = []
        self._current: ReplayCassette | None = None
        self._injected = False
        self._session: ReplayCassette | None = None
        self._stack = contextlib.ExitStack()
        self._thresholds: tuple[int, ...] | None = None
        self._preloader: Preloader | None = None

    def make_clock(self, client: StripeClient, *, extension: bool, max_wait: float) -> Clock:
        readings = (self._current.metadata.get("clock_readings") or []) if self._current is not None else []
        return ReplayClock(client, extension=extension, max_wait=max_wait, readings=readings)

    def _blocked(self, request: Any) -> Exception:
        return RuntimeError(f"a replay opens no connection: refused {request.method} {request.uri}")

    def start(self) -> None:
        self._stack.enter_context(stable_generation())
        self._stack.enter_context(patched(self.router))

    def stop(self) -> None:
        self._stack.close()
        gc.unfreeze()
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)

    def _open(self, relative: str | None, test: str) -> ReplayCassette:
        path = self.directory / relative if relative else None
        return ReplayCassette.open(
            path,
            test,
            scrubber=self.scrubber,
            accounts=self.manifest.account_keys,
            clock_volatile=self.clock_volatile,
            on_bind=self._bound,
            prepared=self._preloader.get(path) if self._preloader is not None else None,
        )

    def _bound(self, kind: str, mine: str, recorded: str) -> None:
        """A webhook URL of this run met the recorded one: deliveries to the recorded endpoint
        name are this run's endpoint's."""
        if kind == "url" and self.receiver is not None and "/hooks/" in mine and "/hooks/" in recorded:
            self.receiver.alias(recorded.rsplit("/hooks/", 1)[1], mine.rsplit("/hooks/", 1)[1])

    def attach_receiver(self, receiver: DeliveryLog) -> None:
        if not isinstance(receiver, ReplayReceiver):
            raise TypeError(f"a replay feeds a ReplayReceiver, not a {type(receiver).__name__}")
        self.receiver = receiver
        for name, secret in self._session_endpoints():
            receiver.learn_secret(name, secret)
        self._inject()

    def _session_endpoints(self) -> list[tuple[str, str]]:
        """The recorded names and (placeholder) secrets of the endpoints the session fixtures made."""
        if self._session is None:
            self._session = self._open(self.manifest.session_cassette or SESSION_CASSETTE, "session fixtures")
        found = []
        for request, response in self._session.data:
            if request.method != "POST" or not str(request.uri).endswith("/v1/webhook_endpoints"):
                continue
            try:
                body = json.loads(response["body"]["string"] or b"")
            except ValueError:
                continue
            url, secret = body.get("url"), body.get("secret")
            if isinstance(url, str) and "/hooks/" in url and isinstance(secret, str):
                found.append((url.rsplit("/hooks/", 1)[1], secret))
        return found

    def _inject(self) -> None:
        if self.receiver is not None and self._current is not None and not self._injected:
            self._injected = True
            self.receiver.inject(self._current.deliveries(time.monotonic()))

    @contextlib.contextmanager
    def session_scope(self) -> Iterator[None]:
        if self._session is None:
            self._session = self._open(self.manifest.session_cassette or SESSION_CASSETTE, "session fixtures")
        with self.router.switched(self._session):
            yield

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # Read the cassettes of the tests about to run, in their order, on another core.
        relative = [self.cassettes.get(item.nodeid) for item in session.items]
        self._preloader = Preloader(
            [self.directory / name for name in relative if name],
            accounts=self.manifest.account_keys,
            clock_volatile=self.clock_volatile,
        )
        self._stack.callback(self._preloader.close)
        # A replay runs in a fraction of a live run's time, and much of what is left was the
        # garbage collector walking the heap of the modules, spec and schemas loaded by now, which
        # live as long as the process: move them out of its sight.
        gc.freeze()
        self._thresholds = gc.get_threshold()
        gc.set_threshold(max(self._thresholds[0], 20_000), *self._thresholds[1:])

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, None]:
        tape = self._open(self.cassettes.get(item.nodeid), item.nodeid)
        self._current, self._injected = tape, False
        self._inject()
        with self.router.switched(tape):
            yield
        self._current = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
        yield
        if call.excinfo is not None:
            miss = find_exception(call.excinfo.value, ReplayMiss)  # Hypothesis wraps, pytest groups
            if miss is not None and str(miss) not in self.misses:
                self.misses.append(str(miss))
