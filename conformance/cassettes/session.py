"""Recordings of a run: the manifest, and the one seam through which vcrpy sees the suite's traffic.

A recording is a directory: `manifest.json` (what was certified, how, and the verdicts), one
cassette per test (`<module>/<test>.yaml`, see `conformance.cassettes.format`), and
`_session.yaml` for the traffic of session-wide fixtures (the webhook endpoints every events
test shares), so that any selection of the tests can be replayed on its own.

Theory of operation. vcrpy patches `httpx.HTTPTransport.handle_request` for the whole run with
one `Router`, a stand-in for a vcrpy cassette that hands each request to whichever cassette is
current: the running test's, or the session's while a session fixture talks. The suite's
requests all go to the target's base URL; anything else (the embedded reference server, running
in this process, delivering webhooks to the receiver through its own httpx client) is let
through untouched and never recorded. While replaying, anything else is refused: a replay opens
no connection. Recording (`conformance.cassettes.record`) and replaying
(`conformance.cassettes.replay`) are plugin objects that the suite's fixtures reach through
`cassette_session(config)`.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest

from conformance.client import StripeClient
from conformance.clock import Clock
from conformance.deliveries import DeliveryLog

__all__ = [
    "FORMAT",
    "MANIFEST",
    "SESSION_CASSETTE",
    "CassetteError",
    "CassetteSession",
    "Manifest",
    "Router",
    "TestEntry",
    "cassette_session",
    "patched",
    "read_manifest",
    "set_cassette_session",
    "stable_generation",
]

FORMAT = "spt-conformance-cassettes/1"
MANIFEST = "manifest.json"
SESSION_CASSETTE = "_session.yaml"
_KEY = pytest.StashKey["CassetteSession"]()


class CassetteError(Exception):
    """A recording that cannot be used as given; the CLI exits 2 with this sentence."""


class CassetteSession(Protocol):
    """What the suite's fixtures need of a recording or a replay."""

    @property
    def replaying(self) -> bool: ...

    def attach_receiver(self, receiver: DeliveryLog) -> None: ...

    def session_scope(self) -> contextlib.AbstractContextManager[None]: ...

    def make_clock(self, client: StripeClient, *, extension: bool, max_wait: float) -> Clock:
        """The test's clock: without the clock extension a recording keeps every reading of the
        local clock, and a replay reads them back, so that time-dependent choices repeat."""
        ...


def cassette_session(config: pytest.Config) -> CassetteSession | None:
    return config.stash.get(_KEY, None)


def set_cassette_session(config: pytest.Config, session: CassetteSession) -> None:
    config.stash[_KEY] = session


@dataclass(frozen=True)
class TestEntry:
    test: str  # the pytest node id
    outcome: str  # passed, failed, skipped
    cassette: str | None = None  # relative path; None when the test made no exchange


@dataclass(frozen=True)
class Manifest:
    suite_version: str
    spec_digest: str
    recorded_at: str  # ISO 8601, UTC
    target: Mapping[str, Any]  # name, base_url, reference, stripe_version, capabilities, accounts
    options: Mapping[str, Any]  # what a replay must pass again: seed, selection, waits, events
    tests: tuple[TestEntry, ...]
    verdicts: Mapping[str, str]  # requirement ID -> verdict, before expected failures
    exchanges: int = 0
    deliveries: int = 0
    session_cassette: str | None = None
    format: str = FORMAT

    @property
    def seed(self) -> int | None:
        seed = self.options.get("seed")
        return seed if isinstance(seed, int) else None

    @property
    def stripe_version(self) -> str | None:
        version = self.target.get("stripe_version")
        return version if isinstance(version, str) else None

    @property
    def account_keys(self) -> frozenset[str]:
        accounts = self.target.get("accounts") or {}
        return frozenset(str(a["secret_key"]) for a in accounts.values() if isinstance(a, Mapping))

    def target_mapping(self) -> dict[str, Any]:
        """The target file a replay runs against: the recorded one, with its keys' placeholders."""
        target = self.target
        mapping: dict[str, Any] = {"name": target["name"], "base_url": target["base_url"]}
        if target.get("stripe_version"):
            mapping["stripe_version"] = target["stripe_version"]
        for role, account in (target.get("accounts") or {}).items():
            mapping[role] = {k: v for k, v in account.items() if v is not None}
        mapping["capabilities"] = dict.fromkeys(target.get("capabilities") or (), True)
        return mapping

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {"format": data.pop("format"), **data}

    def write(self, directory: Path) -> None:
        text = json.dumps(self.to_json(), indent=1, ensure_ascii=False)
        (directory / MANIFEST).write_text(text + "\n", encoding="utf-8")


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST
    if not directory.is_dir():
        raise CassetteError(f"{directory} is not a directory of cassettes")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise CassetteError(
            f"{directory} holds no {MANIFEST}: it is not a recording (make one with `spt-conformance run --record DIR`)"
        ) from None
    except ValueError as exc:
        raise CassetteError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise CassetteError(f"{path} has format {found!r}; this suite reads {FORMAT}")
    try:
        tests = tuple(TestEntry(**entry) for entry in data["tests"])
        return Manifest(
            **{k: v for k, v in data.items() if k not in ("tests", "format")}, tests=tests, format=data["format"]
        )
    except (KeyError, TypeError) as exc:
        raise CassetteError(f"{path} is not a manifest this suite can read ({exc})") from None


# ---------------------------------------------------------------------------------- the seam
class Handler(Protocol):
    """A current cassette, as the router sees it."""

    def play(self, request: Any) -> dict[str, Any]: ...

    def record(self, request: Any, response: dict[str, Any]) -> None: ...


@dataclass
class Router:
    """The one object vcrpy's httpx stubs call, for the whole run; see the module docstring."""

    base_url: str
    replaying: bool
    current: Handler | None = None
    blocked: Callable[[Any], Exception] | None = None  # the error for a request a replay refuses
    # What vcrpy's patch builder reads of a cassette: only httpx is patched, nothing else.
    _path: str = "spt-conformance"
    custom_patches: tuple[Any, ...] = ()
    skip_patchers: tuple[str, ...] = ("httplib", "requests", "boto3", "urllib3", "httplib2", "tornado", "aiohttp")
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _ours(self, request: Any) -> bool:
        return str(request.uri).startswith(self.base_url)

    def can_play_response_for(self, request: Any) -> bool:
        if not self.replaying:
            return False
        if not self._ours(request) or self.current is None:
            raise (self.blocked(request) if self.blocked else RuntimeError(f"replay refused {request}"))
        return True

    def play_response(self, request: Any) -> dict[str, Any]:
        handler = self.current
        if handler is None:
            raise RuntimeError(f"replay refused {request}: no cassette is current")
        return handler.play(request)

    @property
    def write_protected(self) -> bool:
        return self.replaying

    def filter_request(self, request: Any) -> Any:
        return request

    def append(self, request: Any, response: dict[str, Any]) -> None:
        with self._lock:
            handler = self.current
        if handler is not None and self._ours(request):
            handler.record(request, response)

    @contextlib.contextmanager
    def switched(self, handler: Handler | None) -> Iterator[None]:
        with self._lock:
            previous, self.current = self.current, handler
        try:
            yield
        finally:
            with self._lock:
                self.current = previous


@contextlib.contextmanager
def patched(router: Router) -> Iterator[Router]:
    """vcrpy's httpx patch, routed to `router`, for as long as the block lasts."""
    from vcr.patch import CassettePatcherBuilder

    with contextlib.ExitStack() as stack:
        for patcher in CassettePatcherBuilder(router).build():
            stack.enter_context(patcher)
        yield router


@contextlib.contextmanager
def stable_generation() -> Iterator[None]:
    """Generated data that depends on the seed alone.

    Hypothesis (and Schemathesis through it) now and then draws a constant found in the source
    of any "local" module the process has loaded. A recording loads the embedded reference
    server and a replay does not, so the same seed would draw different examples. Recording and
    replaying both draw without local constants. (Hypothesis internals: if they move, this does
    nothing, and a replay says which request it did not expect.)
    """
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants

        original = providers._get_local_constants
        cache = providers.CONSTANTS_CACHE.cache
    except (ImportError, AttributeError):
        yield
        return
    providers._get_local_constants = Constants
    cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.clear()
