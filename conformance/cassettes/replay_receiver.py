"""The receiver of a replay: what the recording's receiver got, handed over without a port.

It stands in for `conformance.receiver.Receiver`. The deliveries a test's cassette holds are
injected when the test starts (`inject`); each recorded endpoint name is mapped to the endpoint
this run made in its place (`alias`, learnt when the run's webhook URL met the recorded one);
and waiting never blocks, since nothing more will come.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from conformance.deliveries import Delivery, DeliveryLog
from conformance.violation import Violation

__all__ = ["REPLAY_BASE_URL", "ReplayReceiver"]

REPLAY_BASE_URL = "http://127.0.0.1:9"  # the address a replaying receiver gives: nothing listens there


class ReplayReceiver(DeliveryLog):
    """A `DeliveryLog` fed from cassettes; see the module docstring."""

    public_url = None

    def __init__(self, *, inspect: Callable[[Delivery], Sequence[Violation]] | None = None) -> None:
        super().__init__(inspect=inspect)
        self._aliases: dict[str, str] = {}  # recorded endpoint name -> this run's
        self._floor = 0  # where the running test's injected deliveries begin

    @property
    def base_url(self) -> str:
        return REPLAY_BASE_URL

    def inject(self, deliveries: Sequence[Delivery]) -> None:
        """Deliveries the recording got, as if they had just arrived; the running test's
        deliveries begin here (`floor`)."""
        with self._changed:
            self._floor = len(self._deliveries)
        for delivery in deliveries:
            self._keep(self._renamed(delivery))

    def alias(self, recorded: str, local: str) -> None:
        """Deliveries to the recorded endpoint `recorded` are deliveries to `local`."""
        with self._changed:
            self._aliases[recorded] = local
        self._readopt(lambda d: d.endpoint == recorded)

    def learn_secret(self, name: str, secret: str) -> None:
        """The secret of an endpoint the recording made, which this run may never make (a part
        of a recording replayed alone), so that its deliveries are still verified."""
        with self._changed:
            self._secrets.setdefault(name, secret)
        self._readopt(lambda d: d.endpoint == name and d.signature is None)

    def floor(self) -> int:
        with self._changed:
            return self._floor

    def wait(self, predicate: Callable[[list[Delivery]], bool], timeout: float) -> bool:
        """Everything the recording got is here already: the answer is now or never."""
        with self._changed:
            return predicate(list(self._deliveries))

    def changes(self, timeout: float) -> bool:
        return False

    def _renamed(self, delivery: Delivery) -> Delivery:
        with self._changed:
            name = self._aliases.get(delivery.endpoint, delivery.endpoint)
        return dataclasses.replace(delivery, endpoint=name, signature=None)

    def _readopt(self, which: Callable[[Delivery], bool]) -> None:
        with self._changed:
            stored, self._deliveries = list(self._deliveries), []
        for delivery in stored:
            if which(delivery):
                self._keep(self._renamed(delivery))
            else:
                with self._changed:
                    self._deliveries.append(delivery)
