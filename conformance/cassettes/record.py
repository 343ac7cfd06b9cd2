"""`spt-conformance run --record DIR`: every exchange of the run, scrubbed, one cassette per test.

Theory of operation. The `Recorder` is a pytest plugin object. For each test it makes a vcrpy
cassette (record mode `all`) and makes it current on the run's `Router` for the whole test
protocol (setup, call and teardown); the suite's requests, Schemathesis's included, reach it
through the one httpx seam. vcrpy's `before_record_request` and `before_record_response` hooks
scrub each exchange as it is appended, so no secret is ever held in a cassette, let alone
written. When the test ends, the webhook deliveries the receiver got since the previous test
ended are scrubbed, re-signed (`conformance.cassettes.scrub.resign`) and kept in the cassette's
metadata. Everything is written to a staging directory next to DIR, which replaces DIR only when
the run finished with verdicts, together with `manifest.json`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Generator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from vcr.cassette import Cassette

from conformance import __version__
from conformance.cassettes.session import (
    MANIFEST,
    SESSION_CASSETTE,
    CassetteError,
    Manifest,
    Router,
    TestEntry,
    patched,
    read_manifest,
    stable_generation,
)
from conformance.cassettes.format import TRANSPORT_HEADERS, YamlSerializer, before_save, cassette_name, pack_body
from conformance.cassettes.scrub import Scrubber, placeholder, resign
from conformance.client import StripeClient
from conformance.clock import Clock
from conformance.verdicts import fold_outcome
from conformance.receiver import Delivery, Receiver
from conformance.reports.model import shown_url
from conformance.session import RunState
from conformance.verdicts import RequirementResult

__all__ = ["Recorder", "RecordingClock", "prepare_directory"]


def prepare_directory(directory: Path) -> str | None:
    """Why a recording cannot go to `directory` (None if it can): it may be missing, empty, or a
    previous recording (which the new one replaces), never a directory of other files."""
    if not directory.exists():
        return None if directory.parent.is_dir() else f"--record {directory}: {directory.parent} does not exist"
    if not directory.is_dir():
        return f"--record {directory}: not a directory"
    if any(directory.iterdir()) and not (directory / MANIFEST).is_file():
        return f"--record {directory}: the directory holds files and no {MANIFEST}; give an empty or new directory"
    strangers = _not_recorded(directory)
    if strangers:
        shown = ", ".join(strangers[:3]) + (f" and {len(strangers) - 3} more" if len(strangers) > 3 else "")
        return (
            f"--record {directory}: a new recording replaces this one, and the directory also holds {shown}, which "
            "is no part of it: move those files, or record into a new directory"
        )
    return None


def _not_recorded(directory: Path) -> list[str]:
    """The files under a previous recording that its manifest does not account for."""
    try:
        manifest = read_manifest(directory)
    except CassetteError:
        return []  # an unreadable manifest: the recording is replaced whole, as before
    ours = {MANIFEST, *(t.cassette for t in manifest.tests if t.cassette)}
    if manifest.session_cassette:
        ours.add(manifest.session_cassette)
    files = (p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())
    return sorted(name for name in files if name not in ours)


class RecordingClock(Clock):
    """The clock, keeping each reading of the local clock (targets without the extension)."""

    def __init__(self, client: StripeClient, *, extension: bool, max_wait: float, readings: list[int]) -> None:
        super().__init__(client, extension=extension, max_wait=max_wait)
        self.readings = readings

    def now(self) -> int:
        value = super().now()
        if not self.extension:
            self.readings.append(value)
        return value


class _Tape:
    """One test's recording (or the session fixtures'): a vcrpy cassette, and its deliveries."""

    def __init__(self, path: Path, test: str, scrubber: Scrubber) -> None:
        self.path = path
        self.test = test
        self.scrubber = scrubber
        self.deliveries: list[dict[str, Any]] = []
        self.clock: list[int] = []  # readings of the local clock, in order
        self._lock = threading.Lock()
        self.cassette = Cassette(
            path=str(path),
            serializer=YamlSerializer,
            record_mode="all",
            before_record_request=self._request,
            before_record_response=self._response,
            before_save_interaction=before_save,
        )

    def record(self, request: Any, response: dict[str, Any]) -> None:
        with self._lock:
            self.cassette.append(request, response)

    def play(self, request: Any) -> dict[str, Any]:
        raise RuntimeError("a recording does not play")

    def _request(self, request: Any) -> Any:
        scrub = self.scrubber
        request.uri = scrub.text(shown_url(str(request.uri)))
        request.headers = {
            name: scrub.authorization(value) if name.lower() == "authorization" else scrub.text(value)
            for name, value in request.headers.items()
        }
        if isinstance(request.body, bytes):
            request.body = scrub.data(request.body)
        return request

    def _response(self, response: dict[str, Any]) -> dict[str, Any]:
        response["headers"] = self.scrubber.headers(response.get("headers") or {})
        body = response.get("body") or {}
        if isinstance(body.get("string"), bytes):
            body["string"] = self.scrubber.data(body["string"])
        return response

    def __len__(self) -> int:
        return len(self.cassette.data)

    def save(self) -> None:
        self.cassette._metadata = {"test": self.test, "deliveries": self.deliveries}
        if self.clock:
            self.cassette._metadata["clock_readings"] = self.clock
        self.cassette._save(force=True)


class Recorder:
    """The recording side of a run; see the module docstring."""

    replaying = False

    def __init__(self, directory: Path, state: RunState) -> None:
        self.directory = directory
        self.state = state
        self.scrubber = Scrubber(state.target.secrets())
        self.router = Router(state.target.base_url, replaying=False)
        self.staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-recording-", dir=directory.parent))
        self.receiver: Receiver | None = None
        self.entries: list[TestEntry] = []
        self.exchanges = 0
        self.deliveries = 0
        self._outcomes: dict[str, str] = {}
        self._names: set[str] = set()
        self._cut = 0
        self._session: _Tape | None = None
        self._current: _Tape | None = None
        self._stack = contextlib.ExitStack()
        self._finished = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._stack.enter_context(stable_generation())
        self._stack.enter_context(patched(self.router))

    def stop(self) -> None:
        self._stack.close()
        if not self._finished:
            shutil.rmtree(self.staging, ignore_errors=True)

    def attach_receiver(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self._cut = len(receiver.deliveries())

    @contextlib.contextmanager
    def session_scope(self) -> Iterator[None]:
        if self._session is None:
            self._session = _Tape(self.staging / SESSION_CASSETTE, "session", self.scrubber)
        with self.router.switched(self._session):
            yield

    def make_clock(self, client: StripeClient, *, extension: bool, max_wait: float) -> Clock:
        readings = self._current.clock if self._current is not None else []
        return RecordingClock(client, extension=extension, max_wait=max_wait, readings=readings)

    # ------------------------------------------------------------------ per test
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, None]:
        name = cassette_name(item.nodeid, self._names)
        tape = _Tape(self.staging / name, item.nodeid, self.scrubber)
        started = time.monotonic()
        self._current = tape
        with self.router.switched(tape):
            yield
        self._current = None
        tape.deliveries = self._cut_deliveries(started)
        kept = None
        if len(tape) or tape.deliveries or tape.clock:
            self._names.add(name)
            tape.save()
            kept = name
        self.exchanges += len(tape)
        self.deliveries += len(tape.deliveries)
        self.entries.append(TestEntry(item.nodeid, self._outcomes.get(item.nodeid, "passed"), kept))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        fold_outcome(self._outcomes, report)

    def _cut_deliveries(self, started: float) -> list[dict[str, Any]]:
        if self.receiver is None:
            return []
        every = self.receiver.deliveries()
        fresh, self._cut = every[self._cut :], len(every)
        return [self._delivery(d, started) for d in fresh]

    def _delivery(self, delivery: Delivery, started: float) -> dict[str, Any]:
        assert self.receiver is not None
        scrubbed = self.scrubber.data(delivery.body)
        secret = self.receiver.secret_for(delivery.endpoint)
        headers: dict[str, str] = {}
        for name, value in delivery.headers.items():
            if name.lower() == "stripe-signature":
                signature = resign(delivery.body, scrubbed, value, secret, self.scrubber)
                if signature is not None:
                    headers[name] = signature
            elif name.lower() not in TRANSPORT_HEADERS:
                headers[name] = self.scrubber.text(value)
        return {
            "endpoint": delivery.endpoint,
            "role": delivery.role,
            "status": delivery.status,
            "attempt": delivery.attempt,
            "received_at": round(delivery.received_wall, 6),
            "after": round(delivery.received_monotonic - started, 6),
            "headers": headers,
            "body": pack_body(scrubbed),
        }

    # ------------------------------------------------------------------ the end
    def finish(self, results: Sequence[RequirementResult]) -> None:
        """Write the manifest and put the recording in place of DIR."""
        session = None
        if self._session is not None and len(self._session):
            self._session.save()
            session = SESSION_CASSETTE
        self._manifest(results, session).write(self.staging)
        if self.directory.exists():
            shutil.rmtree(self.directory)
        umask = os.umask(0)
        os.umask(umask)
        self.staging.chmod(0o777 & ~umask)  # mkdtemp made it private; a recording is to be shared
        self.staging.rename(self.directory)
        self._finished = True

    def _manifest(self, results: Iterable[RequirementResult], session: str | None) -> Manifest:
        target, options = self.state.target, self.state.options
        accounts = {
            account.role: {
                "secret_key": placeholder("secret", account.secret_key),
                "network_business_profile": account.network_business_profile,
                "payment_method": account.payment_method,
                "declined_payment_method": account.declined_payment_method,
            }
            for account in target.accounts
        }
        return Manifest(
            suite_version=__version__,
            spec_digest=self.state.spec.digest,
            recorded_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            target={
                "name": target.name,
                "base_url": shown_url(target.base_url),
                "reference": target.embedded,
                "stripe_version": target.stripe_version,
                "capabilities": sorted(target.capabilities),
                "accounts": accounts,
            },
            options={
                "seed": options.seed,
                "only": list(options.only),
                "skip": list(options.skip),
                "quick": options.quick,
                "strict": options.strict,
                "max_examples": options.max_examples,
                "max_wait": options.max_wait,
                "events": options.events,
                "public_url": options.public_url,
            },
            tests=tuple(self.entries),
            verdicts={r.requirement.id: r.verdict.value for r in results},
            exchanges=self.exchanges,
            deliveries=self.deliveries,
            session_cassette=session,
        )
