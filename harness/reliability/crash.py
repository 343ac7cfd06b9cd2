"""The crash scenario: SIGKILL the standalone server under concurrent load, restart it on the
same database, and audit everything it had acknowledged.

Theory of operation. Worker threads compete for one shared token (each pays 1 with it, over and
over) and each works its own small tokens: issue (cap 5), pay 2 until the cap refuses, revoke,
issue the next. Every POST carries a fresh Idempotency-Key, as the SDKs send. An answer of 200 is
*acknowledged*; a request that got no answer (in flight at the kill, or sent to the dead server)
is *unknown*. Webhook endpoints exist for the agent and the seller, and the receiver refuses every
attempt until the kill, so deliveries pile up in the outbox.

After the restart the receiver accepts, and the clock starts: the first successful request and
the delivery of every event that existed at the kill are timed. Then every unknown request is
sent again with its key, as a client would retry it: a request that had committed must be
replayed, not executed twice, and one that had not runs now. After that the fate of every request
is known, so for every token the sum of its succeeded payments must equal its amount_captured,
stay within its cap, and match its count of `used` events; every acknowledged payment, token and
revocation must be there; and every event must reach its endpoint, signed with its secret.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from conformance.receiver import Receiver
from harness.reliability.calls import ISSUED, PAYMENT_INTENTS, all_events, issue_form, pay_form, revoke_path
from harness.reliability.deliveries import accepted_events, badly_signed
from harness.reliability.standalone import Process

__all__ = ["CrashReport", "crash_once"]

REFUSE_ALL = 10**9  # the receiver's fail_first: every attempt is answered 500
SHARED_CAP = 10**6
SMALL_CAP, SMALL_PAYMENT = 5, 2


@dataclass(frozen=True)
class Call:
    """One POST as sent: enough to send it again with the same Idempotency-Key."""

    kind: str  # "issue", "pay" or "revoke"
    role: str
    path: str
    form: dict[str, str]
    key: str = field(default_factory=lambda: str(uuid.uuid4()))
    token: str = ""  # what a payment or revocation is about
    amount: int = 0


@dataclass
class Ledger:
    """What the server answered, as its clients saw it."""

    caps: dict[str, int] = field(default_factory=dict)  # token -> cap
    payments: dict[str, tuple[str, int]] = field(default_factory=dict)  # succeeded PaymentIntent -> (token, amount)
    revoked: set[str] = field(default_factory=set)
    unknown: list[Call] = field(default_factory=list)
    acknowledged: int = 0
    server_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def settle(self, call: Call, response: httpx.Response) -> None:
        with self.lock:
            if response.status_code >= 500:
                self.server_errors += 1
            if response.status_code != 200:
                return
            self.acknowledged += 1
            if call.kind == "issue":
                self.caps[response.json()["id"]] = int(call.form["usage_limits[max_amount]"])
            elif call.kind == "pay":
                self.payments[response.json()["id"]] = (call.token, call.amount)
            else:
                self.revoked.add(call.token)


@dataclass(frozen=True)
class CrashReport:
    acknowledged: int  # requests answered 200 before the kill
    unknown: int  # requests without an answer, sent again after the restart
    payments: int  # succeeded payments, acknowledged or settled by the retry
    lost: list[str]  # acknowledged objects missing or changed after the restart
    cap_violations: list[str]
    capture_mismatches: list[str]  # captured amount or used events disagreeing with the payments
    undelivered: list[str]  # events never accepted by their endpoint
    bad_signatures: list[str]
    server_errors: int
    refused_attempts: int  # delivery attempts answered 500 (before the kill)
    restart_to_first_ok: float  # seconds from starting the new process to its first 200
    restart_to_delivered: float  # ... to every event of before the kill accepted by its endpoint


def _worker(server: Process, ledger: Ledger, stop: threading.Event, shared: str) -> None:
    profile = server.target["seller"]["network_business_profile"]
    with server.client("agent") as agent, server.client("seller") as seller:
        clients = {"agent": agent, "seller": seller}
        mine: str | None = None
        for n in itertools.count():
            if stop.is_set():
                return
            calls = [Call("pay", "seller", PAYMENT_INTENTS, pay_form(shared, 1), token=shared, amount=1)]
            if mine is None or n % 6 == 5:
                if mine is not None:
                    calls.append(Call("revoke", "agent", revoke_path(mine), {}, token=mine))
                calls.append(Call("issue", "agent", ISSUED, issue_form(profile, SMALL_CAP)))
            else:
                form = pay_form(mine, SMALL_PAYMENT)
                calls.append(Call("pay", "seller", PAYMENT_INTENTS, form, token=mine, amount=SMALL_PAYMENT))
            for call in calls:
                try:
                    response = clients[call.role].post(call.path, data=call.form, headers={"Idempotency-Key": call.key})
                except httpx.HTTPError:
                    with ledger.lock:
                        ledger.unknown.append(call)
                    return
                ledger.settle(call, response)
                if call.kind == "issue" and response.status_code == 200:
                    mine = response.json()["id"]


def _endpoints(server: Process, receiver: Receiver) -> dict[str, str]:
    """An endpoint for every event of the agent and of the seller; their secrets by name."""
    secrets: dict[str, str] = {}
    for role in ("agent", "seller"):
        url = receiver.register(role, role=role, fail_first=REFUSE_ALL)
        with server.client(role) as client:
            made = client.post("/v1/webhook_endpoints", data={"url": url, "enabled_events[]": "*"})
            made.raise_for_status()
        secrets[role] = made.json()["secret"]
        receiver.set_secret(role, secrets[role])
    return secrets


def _event_ids(server: Process) -> set[str]:
    ids: set[str] = set()
    for role in ("agent", "seller"):
        with server.client(role) as client:
            ids.update(e["id"] for e in all_events(client))
    return ids


def _first_ok(server: Process, began: float, wait: float) -> float:
    deadline = time.monotonic() + wait
    with server.client("agent", timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                if client.get("/v1/events", params={"limit": "1"}).status_code == 200:
                    return time.monotonic() - began
            except httpx.HTTPError:
                pass
            time.sleep(0.005)
    raise AssertionError(f"the restarted server answered no request in {wait} s: {server.log_text()[-2000:]}")


def _audit(server: Process, ledger: Ledger) -> tuple[list[str], list[str], list[str]]:
    lost: list[str] = []
    over: list[str] = []
    mismatched: list[str] = []
    paid: Counter[str] = Counter()
    count: Counter[str] = Counter()
    with server.client("agent") as agent, server.client("seller") as seller:
        for pi, (token, amount) in ledger.payments.items():
            paid[token] += amount
            count[token] += 1
            got = seller.get(f"{PAYMENT_INTENTS}/{pi}")
            if got.status_code != 200 or got.json()["status"] != "succeeded" or got.json()["amount_received"] != amount:
                lost.append(f"payment {pi}: {got.status_code} {got.text[:200]}")
        used = Counter(e["data"]["object"]["id"] for e in all_events(agent, type="shared_payment.issued_token.used"))
        for token, cap in ledger.caps.items():
            got = agent.get(f"{ISSUED}/{token}")
            if got.status_code != 200:
                lost.append(f"token {token}: {got.status_code}")
                continue
            body = got.json()
            captured = body["usage_details"]["amount_captured"]["value"]
            if captured > cap:
                over.append(f"token {token}: captured {captured} over its cap {cap}")
            if captured != paid[token] or used[token] != count[token]:
                mismatched.append(
                    f"token {token}: captured {captured} with {used[token]} used event(s); "
                    f"its {count[token]} succeeded payment(s) sum to {paid[token]}"
                )
            if token in ledger.revoked and body["deactivated_reason"] != "revoked":
                lost.append(f"revocation of {token}: the token reads {body['status']}")
    return lost, over, mismatched


def crash_once(
    workdir: Path, *, workers: int = 4, load_seconds: float = 1.0, wait: float = 30.0, min_acknowledged: int = 0
) -> CrashReport:
    """One kill and restart; `workdir` receives the database, target files and server logs. The
    kill comes after `load_seconds`, and not before `min_acknowledged` requests were answered
    (within `wait`), so that a loaded machine still kills a server at work."""
    db, target = workdir / "crash.sqlite", workdir / "target.yaml"
    ledger = Ledger()
    started: list[Process] = []
    try:
        with Receiver() as receiver:
            first = Process(db, target)
            started.append(first)
            secrets = _endpoints(first, receiver)
            with first.client("agent") as agent:
                made = agent.post(
                    ISSUED, data=issue_form(first.target["seller"]["network_business_profile"], SHARED_CAP)
                )
                made.raise_for_status()
            shared = made.json()["id"]
            ledger.caps[shared] = SHARED_CAP
            stop = threading.Event()
            threads = [threading.Thread(target=_worker, args=(first, ledger, stop, shared)) for _ in range(workers)]
            for thread in threads:
                thread.start()
            time.sleep(load_seconds)
            deadline = time.monotonic() + wait
            while ledger.acknowledged < min_acknowledged and time.monotonic() < deadline:
                time.sleep(0.02)
            first.kill()
            stop.set()
            for thread in threads:
                thread.join()
            refused, acknowledged = len(receiver.deliveries()), ledger.acknowledged

            for role in secrets:
                receiver.configure(role, fail_first=0)
            began = time.monotonic()
            second = Process(db, target)
            started.append(second)
            to_first_ok = _first_ok(second, began, wait)
            pending = _event_ids(second)
            receiver.wait(lambda got: accepted_events(got) >= pending, wait)
            to_delivered = time.monotonic() - began

            with second.client("agent") as agent, second.client("seller") as seller:
                clients = {"agent": agent, "seller": seller}
                for call in ledger.unknown:
                    response = clients[call.role].post(call.path, data=call.form, headers={"Idempotency-Key": call.key})
                    ledger.settle(call, response)
            lost, over, mismatched = _audit(second, ledger)
            everything = _event_ids(second)
            receiver.wait(lambda got: accepted_events(got) >= everything, wait)
            delivered = accepted_events(receiver.deliveries())
            bad = badly_signed(receiver.deliveries(), secrets)
            if second.terminate() != 0:
                raise AssertionError(f"the restarted server did not stop cleanly: {second.log_text()[-2000:]}")
    finally:
        for process in started:
            if process.proc.poll() is None:
                process.kill()
    return CrashReport(
        acknowledged=acknowledged,
        unknown=len(ledger.unknown),
        payments=len(ledger.payments),
        lost=lost,
        cap_violations=over,
        capture_mismatches=mismatched,
        undelivered=sorted(everything - delivered),
        bad_signatures=bad,
        server_errors=ledger.server_errors,
        refused_attempts=refused,
        restart_to_first_ok=to_first_ok,
        restart_to_delivered=to_delivered,
    )
