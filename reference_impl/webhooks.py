"""Webhook delivery: a worker thread that drains the outbox off the request path.

Theory of operation. Events and their pending deliveries are written by the request's own
transaction (`events.record`), which wakes this worker after COMMIT, so a delivery usually
leaves within milliseconds of the response. The worker claims due deliveries in id order and
hands each endpoint's batch to a small pool; one endpoint's deliveries go out one at a time, in
event order, while different endpoints proceed in parallel. Each attempt is signed afresh
(`t` is the real time of sending, `signing.py`). A non-2xx answer, a connection error or a
timeout schedules a retry with exponential backoff and jitter (D-32) until the endpoint accepts
or `webhook_give_up` has passed since the first attempt. A delivery that is retrying does not
hold back later events to the same endpoint. All of it is in the database, so pending
deliveries survive a restart and are sent by the next process: delivery is at least once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import httpx

from reference_impl import views
from reference_impl.behaviour import Behaviour
from reference_impl.clock import Clock
from reference_impl.context import dumps
from reference_impl.objects import Delivery, WebhookEndpoint
from reference_impl.signing import signature_header
from reference_impl.store import Store
from reference_impl.tuning import Tuning

__all__ = ["WebhookWorker", "backoff_delay"]

log = logging.getLogger("reference_impl.webhooks")


def backoff_delay(attempts: int, tuning: Tuning, rng: random.Random) -> float:
    """Delay before the next try after `attempts` failures: base * 2^(n-1), capped, with ±25 %
    jitter so that many failing deliveries do not retry in lockstep."""
    delay = min(tuning.webhook_backoff * 2 ** (attempts - 1), tuning.webhook_backoff_cap)
    return float(delay * rng.uniform(0.75, 1.25))


class WebhookWorker:
    def __init__(self, store: Store, clock: Clock, tuning: Tuning, *, behaviour: Behaviour | None = None) -> None:
        self._store, self._clock, self._tuning = store, clock, tuning
        self._rules = behaviour or Behaviour()  # a fault's or a variant's way of delivering
        self._wake, self._stop = threading.Event(), threading.Event()
        self._busy: set[str] = set()  # endpoints with a batch in flight
        self._lock = threading.Lock()
        self._rng = random.Random()
        self._client = httpx.Client(timeout=tuning.webhook_timeout, follow_redirects=False)
        self._pool = ThreadPoolExecutor(tuning.webhook_concurrency, thread_name_prefix="spt-webhook-send")
        self._thread = threading.Thread(target=self._loop, name="spt-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self._dispatch()
                with self._store.read() as tx:
                    next_at = tx.next_delivery_at()
            except Exception:  # the worker must outlive any one bad row; the row stays pending
                log.exception("webhook dispatch failed")
                next_at = None
            # Whatever is due now was just dispatched or is in flight, and a finished batch or a
            # commit sets the event; so only a future retry shortens the wait.
            now = self._clock.real()
            self._wake.wait(1.0 if next_at is None or next_at <= now else min(1.0, next_at - now))

    def _dispatch(self) -> None:
        with self._store.read() as tx:
            due = tx.deliveries_due(self._clock.real(), 500)
            endpoints = {d.endpoint: tx.get(WebhookEndpoint, d.endpoint) for d in due}
        batches: dict[str, list[Delivery]] = defaultdict(list)
        for delivery in reversed(due) if self._rules.delivery_order == "reversed" else due:
            # In parallel, each delivery is a batch of its own: one endpoint gets several at once.
            batches[str(delivery.id) if self._rules.deliveries_in_parallel else delivery.endpoint].append(delivery)
        for endpoint_id, batch in batches.items():
            endpoint = endpoints[batch[0].endpoint]
            with self._lock:
                if endpoint_id in self._busy:
                    continue
                self._busy.add(endpoint_id)
            if endpoint is None or self._stop.is_set():
                self._release(endpoint_id)
                continue
            self._pool.submit(self._send_batch, endpoint, batch)

    def _release(self, endpoint_id: str) -> None:
        with self._lock:
            self._busy.discard(endpoint_id)

    def _send_batch(self, endpoint: WebhookEndpoint, batch: list[Delivery]) -> None:
        try:
            for delivery in batch:
                if self._stop.is_set():
                    return
                self._send(endpoint, delivery)
        except Exception:
            log.exception("webhook delivery to %s failed unexpectedly", endpoint.id)
        finally:
            self._release(endpoint.id)
            self._wake.set()  # later deliveries to this endpoint may be due already

    def _send(self, endpoint: WebhookEndpoint, delivery: Delivery) -> None:
        with self._store.read() as tx:
            current = tx.get(Delivery, str(delivery.id))
            live = tx.get(WebhookEndpoint, endpoint.id)
            stored = tx.event(delivery.event)
            pending = tx.pending_count(delivery.event)
        if current is None or current.state != "pending" or live is None or live.deleted or stored is None:
            return
        payload = dumps(views.event(stored, pending))
        sent_at = self._clock.real()
        signature = signature_header(payload, endpoint.secret, int(sent_at))
        if self._rules.signature_over_body_only:
            digest = hmac.new(endpoint.secret.encode(), payload, hashlib.sha256).hexdigest()
            signature = f"t={int(sent_at)},v1={digest}"
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signature,
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        status: int | None = None
        try:
            for _ in range(self._rules.delivery_copies):  # more than once: at-least-once delivery
                status = self._client.post(endpoint.url, content=payload, headers=headers).status_code
        except httpx.HTTPError as exc:
            log.info("webhook %s to %s failed: %s", delivery.event, endpoint.id, type(exc).__name__)
        first = current.first_attempt_at or sent_at
        attempts = current.attempts + 1
        if status is not None and 200 <= status < 300:
            result = current.replace(state="delivered", attempts=attempts, first_attempt_at=first, last_status=status)
        else:
            retry_at = self._clock.real() + backoff_delay(attempts, self._tuning, self._rng)
            gave_up = retry_at - first > self._tuning.webhook_give_up
            result = current.replace(
                state="failed" if gave_up else "pending",
                attempts=attempts,
                next_attempt_at=retry_at,
                first_attempt_at=first,
                last_status=status,
            )
        with self._store.write() as tx:
            latest = tx.get(Delivery, str(delivery.id))
            if latest is not None and latest.state == "pending":  # not dropped meanwhile
                tx.put(result)
