"""SQLite storage: one file (or `:memory:`), one connection, one transaction per use case.

Theory of operation. All state lives in one SQLite database in WAL mode, so a committed
transaction survives the process being killed (SIGKILL loses nothing that was acknowledged:
the WAL is written before COMMIT returns; `synchronous=NORMAL` only risks the last
transactions on an OS crash or power loss). The server is one process; its threads (the request
loop, the webhook worker, the expiry sweeper) share one connection behind a lock, which also
makes `:memory:` work from several threads. Every write is `BEGIN IMMEDIATE … COMMIT`, so a
payment's check-and-capture is one write transaction that nothing can interleave with, even a
second process opening the same file. Callbacks registered with `Tx.on_commit` run after COMMIT
(this is how the webhook worker is woken without polling), never after a rollback.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from reference_impl.domain import Reason, Recurring, State, Token, UsageLimits
from reference_impl.objects import (
    Account,
    Charge,
    Delivery,
    PaymentIntent,
    PaymentMethod,
    Refund,
    StoredEvent,
    WebhookEndpoint,
)
from reference_impl.schema import DDL, VERSION

__all__ = ["Store", "Tx"]

T = TypeVar("T")

# table, and the fields stored as JSON text; booleans are stored as 0/1 and come back as ints,
# which the dataclasses accept because bool is only ever tested for truth.
_TABLES: Mapping[type[Any], tuple[str, frozenset[str]]] = {
    Account: ("accounts", frozenset()),
    PaymentMethod: ("payment_methods", frozenset()),
    PaymentIntent: ("payment_intents", frozenset({"metadata", "payment_method_types", "last_payment_error"})),
    Charge: ("charges", frozenset()),
    Refund: ("refunds", frozenset({"metadata"})),
    WebhookEndpoint: ("webhook_endpoints", frozenset({"metadata", "enabled_events"})),
    Delivery: ("deliveries", frozenset()),
}
_TUPLES = frozenset({"payment_method_types", "enabled_events"})


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _to_row(obj: Any) -> dict[str, Any]:
    json_fields = _TABLES[type(obj)][1]
    row = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        row[f.name] = _dump(value) if f.name in json_fields else value
    return row


def _from_row(cls: type[T], row: sqlite3.Row) -> T:
    json_fields = _TABLES[cls][1]
    values = {}
    for key in row.keys():  # noqa: SIM118 - sqlite3.Row is not a mapping
        value = row[key]
        if key in json_fields and value is not None:
            value = json.loads(value)
            if key in _TUPLES:
                value = tuple(value)
        values[key] = value
    return cls(**values)


def _token_row(token: Token) -> dict[str, Any]:
    limits, recurring = token.limits, token.limits.recurring
    return {
        "id": token.id,
        "created": token.created,
        "agent_account": token.agent_account,
        "agent_profile": token.agent_profile,
        "seller_account": token.seller_account,
        "seller_profile": token.seller_profile,
        "external_id": token.external_id,
        "payment_method": token.payment_method,
        "currency": limits.currency,
        "max_amount": limits.max_amount,
        "expires_at": limits.expires_at,
        "recurring_interval": recurring.interval if recurring else None,
        "recurring_count": recurring.interval_count if recurring else None,
        "recurring_legacy": int(recurring.legacy) if recurring else 0,
        "state": token.state.value,
        "deactivated_reason": token.deactivated_reason.value if token.deactivated_reason else None,
        "deactivated_at": token.deactivated_at,
        "amount_captured": token.amount_captured,
        "usage_window": token.usage_window,
        "shared_metadata": _dump(dict(token.shared_metadata)),
        "setup_future_usage": token.setup_future_usage,
        "return_url": token.return_url,
        "use_stripe_sdk": None if token.use_stripe_sdk is None else int(token.use_stripe_sdk),
    }


def _token(row: sqlite3.Row) -> Token:
    interval = row["recurring_interval"]
    recurring = Recurring(interval, row["recurring_count"], bool(row["recurring_legacy"])) if interval else None
    reason, sdk = row["deactivated_reason"], row["use_stripe_sdk"]
    return Token(
        id=row["id"],
        created=row["created"],
        seller_account=row["seller_account"],
        seller_profile=row["seller_profile"],
        payment_method=row["payment_method"],
        limits=UsageLimits(row["currency"], row["max_amount"], row["expires_at"], recurring),
        agent_account=row["agent_account"],
        agent_profile=row["agent_profile"],
        external_id=row["external_id"],
        state=State(row["state"]),
        deactivated_reason=Reason(reason) if reason else None,
        deactivated_at=row["deactivated_at"],
        amount_captured=row["amount_captured"],
        usage_window=row["usage_window"],
        shared_metadata=json.loads(row["shared_metadata"]),
        setup_future_usage=row["setup_future_usage"],
        return_url=row["return_url"],
        use_stripe_sdk=None if sdk is None else bool(sdk),
    )


@functools.cache
def _upsert_sql(table: str, columns: tuple[str, ...]) -> str:
    # An upsert updates the row in place; INSERT OR REPLACE would delete and re-insert it, and
    # maintain every index twice.
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "  # noqa: S608
        f"ON CONFLICT(id) DO UPDATE SET {updates}"
    )


class Tx:
    """The queries of one transaction. Obtained from `Store.write()` or `Store.read()` only."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._after: list[Callable[[], None]] = []

    def on_commit(self, callback: Callable[[], None]) -> None:
        self._after.append(callback)

    def _one(self, sql: str, args: Sequence[Any]) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._conn.execute(sql, args).fetchone()
        return row

    def _all(self, sql: str, args: Sequence[Any]) -> list[sqlite3.Row]:
        return self._conn.execute(sql, args).fetchall()

    # -- generic objects ------------------------------------------------------------------
    def put(self, obj: Any) -> None:
        row = _to_row(obj)
        if isinstance(obj, Delivery) and obj.id == 0:
            del row["id"]
        self._conn.execute(_upsert_sql(_TABLES[type(obj)][0], tuple(row)), tuple(row.values()))

    def get(self, cls: type[T], key: str, account: str | None = None) -> T | None:
        """The object with id `key`; with `account`, only if that account owns it."""
        table = _TABLES[cls][0]
        if account is None:
            row = self._one(f"SELECT * FROM {table} WHERE id = ?", (key,))  # noqa: S608
        else:
            row = self._one(f"SELECT * FROM {table} WHERE id = ? AND account = ?", (key, account))  # noqa: S608
        return None if row is None else _from_row(cls, row)

    # -- accounts -------------------------------------------------------------------------
    def accounts(self) -> list[Account]:
        return [_from_row(Account, r) for r in self._all("SELECT * FROM accounts ORDER BY created, rowid", ())]

    # -- tokens ---------------------------------------------------------------------------
    def token(self, token_id: str) -> Token | None:
        row = self._one("SELECT * FROM tokens WHERE id = ?", (token_id,))
        return None if row is None else _token(row)

    def put_token(self, token: Token) -> None:
        row = _token_row(token)
        self._conn.execute(_upsert_sql("tokens", tuple(row)), tuple(row.values()))

    def tokens_due(self, now: int, limit: int) -> list[Token]:
        rows = self._all(
            "SELECT * FROM tokens WHERE state != 'deactivated' AND expires_at <= ? ORDER BY expires_at LIMIT ?",
            (now, limit),
        )
        return [_token(r) for r in rows]

    def count_tokens(self) -> int:
        row = self._one("SELECT COUNT(*) FROM tokens", ())
        return int(row[0]) if row else 0

    # -- events and deliveries ------------------------------------------------------------
    def add_event(self, event_id: str, account: str, type_: str, created: int, body: Mapping[str, Any]) -> None:
        self._conn.execute(
            "INSERT INTO events (id, account, type, created, body) VALUES (?, ?, ?, ?, ?)",
            (event_id, account, type_, created, _dump(body)),
        )

    def event(self, event_id: str) -> StoredEvent | None:
        row = self._one("SELECT * FROM events WHERE id = ?", (event_id,))
        return None if row is None else _event(row)

    def events(
        self, account: str, types: Sequence[str], limit: int, after: int | None, before: int | None
    ) -> list[StoredEvent]:
        """Newest first; `after`/`before` are seq bounds (starting_after / ending_before)."""
        where: list[str] = ["account = ?"]
        args: list[Any] = [account]
        if types:  # GLOB: Stripe's type filter takes * wildcards ("shared_payment.*")
            where.append("(" + " OR ".join(["type GLOB ?"] * len(types)) + ")")
            args.extend(types)
        if after is not None:
            where.append("seq < ?")
            args.append(after)
        order = "DESC"
        if before is not None:
            where.append("seq > ?")
            args.append(before)
            order = "ASC"  # the page just above `before`, reversed below
        sql = f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY seq {order} LIMIT ?"  # noqa: S608
        rows = [_event(r) for r in self._all(sql, [*args, limit])]
        return rows[::-1] if order == "ASC" else rows

    def pending_count(self, event_id: str) -> int:
        row = self._one("SELECT COUNT(*) FROM deliveries WHERE event = ? AND state = 'pending'", (event_id,))
        return int(row[0]) if row else 0

    def endpoints(self, account: str) -> list[WebhookEndpoint]:
        rows = self._all(
            "SELECT * FROM webhook_endpoints WHERE account = ? AND deleted = 0 ORDER BY rowid DESC", (account,)
        )
        return [_from_row(WebhookEndpoint, r) for r in rows]

    def deliveries_due(self, now: float, limit: int) -> list[Delivery]:
        rows = self._all(
            "SELECT * FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
            (now, limit),
        )
        return [_from_row(Delivery, r) for r in rows]

    def next_delivery_at(self) -> float | None:
        row = self._one("SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending'", ())
        return None if row is None or row[0] is None else float(row[0])

    def drop_endpoint_deliveries(self, endpoint_id: str) -> None:
        self._conn.execute(
            "UPDATE deliveries SET state = 'failed' WHERE endpoint = ? AND state = 'pending'", (endpoint_id,)
        )

    # -- idempotency ----------------------------------------------------------------------
    def idempotent(self, account: str, key: str) -> tuple[str, int, str, float] | None:
        row = self._one(
            "SELECT fingerprint, status, body, created FROM idempotency WHERE account = ? AND key = ?",
            (account, key),
        )
        return None if row is None else (row[0], row[1], row[2], row[3])

    def save_idempotent(self, account: str, key: str, fingerprint: str, status: int, body: str, now: float) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?)",
            (account, key, fingerprint, status, body, now),
        )

    def prune_idempotent(self, before: float) -> None:
        self._conn.execute("DELETE FROM idempotency WHERE created < ?", (before,))

    # -- meta -----------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def _event(row: sqlite3.Row) -> StoredEvent:
    return StoredEvent(row["seq"], row["id"], row["account"], row["type"], row["created"], json.loads(row["body"]))


class Store:
    def __init__(self, path: str = ":memory:") -> None:
        if path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            path = str(Path(path).expanduser())
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._closed = False
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            # Checkpoints (which fsync) run from the sweeper on a connection of their own
            # (`checkpoint`), never inside a request's COMMIT: that kept p99 latency flat.
            self._conn.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpointer: sqlite3.Connection | None = None
        self._conn.execute("PRAGMA busy_timeout=5000")
        with self.write() as tx:
            for statement in DDL.split(";"):
                if statement.strip():
                    self._conn.execute(statement)
            if tx.meta("schema_version") is None:
                tx.set_meta("schema_version", str(VERSION))

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """One write transaction: BEGIN IMMEDIATE, COMMIT on success, ROLLBACK on any exception."""
        with self._lock:
            tx = Tx(self._conn)
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield tx
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        for callback in tx._after:
            callback()

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """Reads under the lock that every write takes: one connection, so what they see is
        consistent. A read that wrote would commit statement by statement: refused loudly."""
        with self._lock:
            before = self._conn.total_changes
            yield Tx(self._conn)
            if self._conn.total_changes != before:
                raise RuntimeError("a read-only use of the store wrote to it")

    def checkpoint(self) -> None:
        """Copy committed WAL pages into the database file without blocking writers."""
        if self.path == ":memory:" or self._closed:
            return
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._checkpointer.execute("PRAGMA busy_timeout=5000")
        self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                if self._checkpointer is not None:
                    self._checkpointer.close()
                self._conn.close()
