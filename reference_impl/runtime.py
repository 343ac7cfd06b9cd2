"""One running reference server's state and background work: store, service, webhook worker,
sweeper. `app.create_app` wraps a Runtime in HTTP; the Runtime knows nothing of HTTP itself
except through the webhook worker's client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from reference_impl.accounts import DEFAULT_ACCOUNTS, AccountSpec
from reference_impl.service import Service
from reference_impl.store import Store
from reference_impl.sweeper import Sweeper
from reference_impl.tuning import Tuning
from reference_impl.webhooks import WebhookWorker

__all__ = ["Runtime"]


class Runtime:
    def __init__(
        self,
        db: str = ":memory:",
        *,
        accounts: Iterable[AccountSpec] | None = None,
        faults: Iterable[str] = frozenset(),
        variants: Iterable[str] = frozenset(),
        tuning: Tuning | None = None,
        time_source: Callable[[], float] | None = None,
    ) -> None:
        self.tuning = tuning or Tuning()
        self.store = Store(db)
        try:
            self.service = Service(
                self.store,
                accounts=accounts or DEFAULT_ACCOUNTS,
                faults=faults,
                variants=variants,
                time_source=time_source,
            )
        except BaseException:
            self.store.close()
            raise
        self.webhooks = WebhookWorker(self.store, self.service.clock, self.tuning, behaviour=self.service.env.behaviour)
        self.service.set_webhook_waker(self.webhooks.wake)
        self.sweeper = Sweeper(self.service.sweep, self.tuning.sweep_interval)
        self._started = self._closed = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            self.webhooks.start()
            self.sweeper.start()
            self.webhooks.wake()  # deliveries left pending by a previous process

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.sweeper.stop()
        self.webhooks.stop()
        self.store.close()
