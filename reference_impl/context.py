"""What a use case receives and returns: the environment, the call, the outcome."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reference_impl.accounts import Directory
from reference_impl.behaviour import Behaviour
from reference_impl.clock import Clock
from reference_impl.objects import Account
from reference_impl.store import Store, Tx

__all__ = ["DEFAULT_API_VERSION", "Call", "Env", "NeedsSettle", "Outcome", "UseCase", "dumps"]

# The preview SDK's default (D-20); events and endpoints without a version carry it.
DEFAULT_API_VERSION = "2026-10-14.preview"


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Env:
    store: Store
    clock: Clock
    behaviour: Behaviour  # the correct server's, or one changed by faults or variants
    wake_webhooks: Callable[[], None]
    accounts: Directory
    fingerprint_salt: str


@dataclass(frozen=True)
class Call:
    account: Account
    path_id: str | None
    params: Mapping[str, Any]
    request_id: str
    idempotency_key: str | None = None
    api_version: str = DEFAULT_API_VERSION

    @property
    def expand(self) -> frozenset[str]:
        return frozenset(self.params.get("expand", ()))


@dataclass(frozen=True)
class Outcome:
    status: int
    body: bytes = field(repr=False)
    replayed: bool = False

    @classmethod
    def ok(cls, obj: Mapping[str, Any]) -> Outcome:
        return cls(200, dumps(obj))


class NeedsSettle(Exception):
    """Raised inside a transaction that found a token past its expiry: the service rolls back,
    expires the token in its own transaction (so the expiry commits even if the request is then
    refused), and runs the request again."""

    def __init__(self, token_id: str) -> None:
        super().__init__(token_id)
        self.token_id = token_id


UseCase = Callable[[Env, Tx, Call], Outcome]
