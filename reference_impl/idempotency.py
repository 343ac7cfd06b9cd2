"""Idempotency keys: replay a saved response, refuse a reused key with other parameters.

Theory of operation. A POST with `Idempotency-Key` runs in one write transaction that first
looks the key up (scoped to the calling account, D-33), then executes, then saves the status and
body under the key before COMMIT. Saving with the effects, in the same transaction, means a
crash can never leave an effect without its record or a record without its effect. Saved:
successes and card declines (402), i.e. responses of an execution that began. Not saved:
refusals (validation, ownership, limits), since nothing executed; the same key may then be
retried with corrected parameters (SPT-IDM-008). Records older than 24 h are ignored and pruned.

A duplicate that arrives while the first is still executing gets 409: `InFlight` tracks the
keys being executed by this process, because the transaction alone would only make the
duplicate wait and then replay.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from reference_impl.errors import Conflict, IdempotencyMismatch, ValidationError
from reference_impl.store import Tx

__all__ = ["MAX_KEY_LENGTH", "TTL_SECONDS", "InFlight", "Saved", "check_key", "fingerprint", "lookup", "save"]

MAX_KEY_LENGTH: Final = 255
TTL_SECONDS: Final = 24 * 3600


@dataclass(frozen=True)
class Saved:
    status: int
    body: str


def check_key(key: str) -> None:
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationError(
            f"Idempotency-Key is {len(key)} characters long; it must be at most {MAX_KEY_LENGTH}.",
            param="Idempotency-Key",
        )


def fingerprint(operation: str, path_id: str | None, params: Mapping[str, Any]) -> str:
    """What "the same request" means: the operation, its path id and its decoded parameters."""
    canonical = json.dumps([operation, path_id, params], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def lookup(tx: Tx, account: str, key: str, print_: str, now: float) -> Saved | None:
    found = tx.idempotent(account, key)
    if found is None or found[3] < now - TTL_SECONDS:
        return None
    saved_print, status, body, _ = found
    if saved_print != print_:
        raise IdempotencyMismatch(
            "Keys for idempotent requests can only be used with the same parameters they were first "
            f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
            code="idempotency_key_reused",
        )
    return Saved(status, body)


def save(tx: Tx, account: str, key: str, print_: str, saved: Saved, now: float) -> None:
    tx.save_idempotent(account, key, print_, saved.status, saved.body, now)


class InFlight:
    """The (account, key) pairs whose request is executing right now in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: set[tuple[str, str]] = set()

    def claim(self, account: str, key: str) -> None:
        with self._lock:
            if (account, key) in self._keys:
                raise Conflict(
                    "There is currently another in-progress request using this Idempotency-Key. "
                    "Retry after it completes.",
                    code="idempotency_key_in_use",
                )
            self._keys.add((account, key))

    def release(self, account: str, key: str) -> None:
        with self._lock:
            self._keys.discard((account, key))
