"""What the generated lifecycle machine acts through and believes: the world, and each token it made."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from conformance.amounts import minimum_charge
from conformance.client import Exchange, StripeClient
from conformance.lifecycle import invariants as judge
from conformance.lifecycle.model import Emitted, Request, TokenModel
from conformance.lifecycle.plan import Plan
from conformance.scenario import Scenario

__all__ = ["CURRENCIES", "FLOOR", "OTHER_CURRENCIES", "Tracked", "World", "senders"]

CURRENCIES = ("usd", "eur", "gbp")
OTHER_CURRENCIES = ("usd", "eur", "gbp", "cad", "jpy")
# Every amount paid, in any currency a payment may use, is at least this (Stripe's minimum charge).
FLOOR = minimum_charge(*CURRENCIES, *OTHER_CURRENCIES)


@dataclass
class Tracked:
    """A token the machine made, and what it believes of it."""

    name: str  # t1, t2…: stable when Hypothesis replays a sequence, unlike the server's id
    id: str
    model: TokenModel
    declining: bool
    readings: list[judge.Views] = field(default_factory=list)
    unread: dict[str, str] = field(default_factory=dict)  # aspect -> requirement, since the last reading
    expected: list[Emitted] = field(default_factory=list)


@dataclass
class World:
    """Everything the generated machine acts through; shared by all its examples."""

    plan: Plan
    scenario: Scenario
    clients: Mapping[str, StripeClient]
    exchanges: Callable[[], Sequence[Exchange]]
    extension: bool  # the clock extension: exact server time, and the machine may move it
    lifetime: int
    seed: int
    made: list[Tracked] = field(default_factory=list)  # every token of every passing example
    tally: Counter[str] = field(default_factory=Counter)  # what happened, for the summary

    @property
    def slack(self) -> int:
        return 0 if self.extension else 2


def senders(world: World, move_actor: str, token: Tracked, request: Request) -> dict[str, Callable[[], Exchange]]:
    """How each operation a move can name is sent: written per operation, never per trigger."""
    spt, client = world.scenario, world.clients[move_actor]
    # A move that names no amount (a payment the token refuses anyway) still pays a payable one.
    amount, currency = request.amount or FLOOR, request.currency or "usd"
    return {
        "PostPaymentIntents": lambda: spt.pay(token.id, amount, currency=currency, as_=client),
        "PostSharedPaymentIssuedTokensSharedPaymentIssuedTokenRevoke": lambda: spt.revoke(token.id, as_=client),
        "PostTestHelpersSharedPaymentGrantedTokensSharedPaymentGrantedTokenRevoke": lambda: spt.test_helper_revoke(
            token.id, as_=client
        ),
    }
