"""The lifecycle as a Hypothesis state machine, generated from `spec/lifecycle.yaml` alone.

Theory of operation. `conformance.lifecycle.plan.plan()` lists the moves the suite can drive on
the target, from the lifecycle data alone. `build_machine()` turns the plan into a
`RuleBasedStateMachine`; each rule sends one request, asks `conformance.lifecycle.model` what should have
happened, and judges the answer, then both views of the token, then the invariants.

Time is shared with other tests, which may move the target's clock. The machine therefore knows
the server's time only between two readings, and a token whose expiry falls between them may be
either side of it: each judgement accepts the outcome of either moment, and nothing else.

A failure is a `Violation` of the requirement the move proves (the trigger's, the guard's, the
forbidden rule's or the invariant's), its tip listing the shrunk sequence as numbered HTTP calls
that a person can replay. `run_lifecycle()` runs the machine with the run's seed and budget.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import hypothesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, get_state_machine_test, initialize, precondition, rule

from conformance.amounts import minimum_charge
from conformance.client import Exchange, StripeClient
from conformance.clock import CLOCK
from conformance.lifecycle import invariants as judge
from conformance.lifecycle import model as oracle
from conformance.lifecycle.model import Emitted, Limits, Request, Step, TokenModel
from conformance.lifecycle.plan import Move, Plan, plan
from conformance.lifecycle.spec import Lifecycle, Trigger
from conformance.scenario import Scenario
from conformance.spec import Operation
from conformance.violation import LEDGER, STRIPE_ERROR_TYPES, Violation

__all__ = ["EventSource", "RunSummary", "build_machine", "call_list", "run_lifecycle"]

CURRENCIES = ("usd", "eur", "gbp")
OTHER_CURRENCIES = ("usd", "eur", "gbp", "cad", "jpy")
MAX_TOKENS = 4
# Every amount paid, in any currency a payment may use, is at least this (Stripe's minimum charge).
FLOOR = minimum_charge(*CURRENCIES, *OTHER_CURRENCIES)
FULL, QUICK = (20, 12), (3, 6)  # (examples, steps per example)


class EventSource(Protocol):
    """What the machine needs of `conformance.events.EventLog`."""

    @property
    def available(self) -> bool: ...

    def wait_for(self, role: str, event_type: str, object_id: str, *, count: int = 1) -> Sequence[Any]: ...

    def settle(self, role: str, object_id: str, *, quiet: float | None = None) -> Sequence[Any]: ...

    def observed(self, role: str) -> Sequence[Any]: ...


# ---------------------------------------------------------------------------------- the world
@dataclass
class Tracked:
    """A token the machine made, and what it believes of it."""

    name: str  # t1, t2…: stable when Hypothesis replays a sequence, unlike the server's id
    id: str
    model: TokenModel
    declining: bool
    readings: list[judge.Views] = field(default_factory=list)
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


def _senders(world: World, move_actor: str, token: Tracked, request: Request) -> dict[str, Callable[[], Exchange]]:
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


# ---------------------------------------------------------------------------------- judging
def _response_violation(step: Step, exchange: Exchange) -> Violation | None:
    error = exchange.error
    if step.accepted and step.status is not None and step.status < 300:
        good = 200 <= exchange.status < 300 and isinstance(exchange.body, dict)
        expected = f"{step.status}: the model accepts {step.trigger} here"
    elif step.accepted:
        good = exchange.status == step.status and error is not None and error.get("type") == step.error_type
        expected = f"{step.status} {step.error_type}: the model says the {step.trigger} is answered that way"
    else:
        good = 400 <= exchange.status < 500 and error is not None and error.get("type") in STRIPE_ERROR_TYPES
        expected = f"a refusal (4xx with a Stripe error body): {step.trigger} is refused by {step.refused_by}"
    if good:
        return None
    return Violation(
        step.requirement,
        received=f"{exchange.status} {exchange.response_text[:200]}",
        expected=expected,
        tip="the token was in state "
        + step.before.state
        + (f" ({step.before.reason})" if step.before.reason else "")
        + f" with {step.before.captured} of {step.before.max_amount} {step.before.currency} captured",
        exchanges=[exchange],
    )


def _parts(plan: Plan, step: Step) -> dict[str, str]:
    """The requirement each part of the token's state after `step` is judged by."""
    if not step.accepted:
        return dict.fromkeys(("state", "captured", "deactivated_at"), step.requirement)
    triggers = plan.lifecycle.triggers
    first, last = triggers[step.applied[0]], triggers[step.applied[-1]]
    return {
        "state": oracle.aspect(last, "state"),
        "deactivated_at": oracle.aspect(last, "deactivated_at"),
        "captured": oracle.aspect(first, "captured"),
    }


def _form(exchange: Exchange) -> str:
    return exchange.request_body or (exchange.url.split("?", 1)[1] if "?" in exchange.url else "")


def call_list(exchanges: Iterable[Exchange]) -> str:
    """The HTTP calls of one example, numbered, without the clock readings between them."""
    lines = []
    shown = [e for e in exchanges if not (e.method == "GET" and e.path.split("?")[0] == CLOCK)]
    for number, exchange in enumerate(shown, 1):
        body = _form(exchange)
        lines.append(
            f"  {number:>2}. {exchange.actor:<12} {exchange.method} {exchange.path.split('?')[0]}"
            f"{'  ' + body if body else ''}  -> {exchange.describe().rsplit('-> ', 1)[1]}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- the machine
class LifecycleMachine(RuleBasedStateMachine):
    """The base of generated machines; `build_machine` adds one rule per move of the plan."""

    world: World

    def __init__(self) -> None:
        super().__init__()
        self.tokens: dict[str, Tracked] = {}
        self.tried: Counter[str] = Counter()
        self.first_exchange = len(self.world.exchanges())
        self.now = self.world.scenario.clock.now()

    # -- reading time and views
    def _clock(self) -> int:
        self.now = max(self.now, self.world.scenario.clock.now())
        return self.now

    def _read(self, token: Tracked) -> judge.Views:
        views: dict[str, Mapping[str, Any]] = {}
        for observation in self.world.plan.lifecycle.observations:
            client = self.world.clients[observation.actor]
            path = {"agent": "issued", "seller": "granted"}[observation.actor]
            exchange = getattr(self.world.scenario, path)(token.id, as_=client)
            body = exchange.body
            if exchange.status != 200 or not isinstance(body, dict) or body.get("id") != token.id:
                raise Violation(
                    observation.requirements[0],
                    received=f"{exchange.status} {exchange.response_text[:200]}",
                    expected=f"200 with {token.id} ({observation.name}, as the {observation.actor})",
                    tip=f"the token is {token.model.state}; a token stays readable by both parties whatever its state",
                    exchanges=[exchange],
                )
            views[str(body.get("object"))] = body
        return views["shared_payment.issued_token"], views["shared_payment.granted_token"]

    def _settle(
        self,
        token: Tracked,
        chosen: TokenModel,
        lo: int,
        parts: Mapping[str, str] | None,
        extra: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Read both views and judge them against the model at either end of [lo, the read]."""
        views = self._read(token)
        # Only a token that may still expire needs the time of the reading.
        hi = self._clock() if chosen.expires_at is not None and chosen.deactivated_at is None else lo
        options = [oracle.elapse(self.world.plan.lifecycle, chosen, lo)]
        late = oracle.elapse(self.world.plan.lifecycle, chosen, hi)
        if late.model != options[0].model:
            options.append(late)
        first: list[Violation] = []
        for option in options:
            found: list[Violation] = []
            for view in (*extra, *views):
                if parts is not None:
                    found += judge.state_violations(
                        self.world.plan.lifecycle, option.model, view, parts, slack=self.world.slack
                    )
            found += judge.invariant_violations(
                option.model, *views, token.readings, lifecycle=self.world.plan.lifecycle
            )
            if not found:
                # What held: the parts of the state judged, and every invariant of the lifecycle.
                judged = {
                    *(parts or {}).values(),
                    *(r for i in self.world.plan.lifecycle.invariants for r in i.requirements),
                }
                for requirement in judged:
                    LEDGER.hold(requirement)
                token.model = option.model
                token.expected.extend(option.emitted)
                token.readings.append(views)
                return
            first = first or found
        raise first[0]

    def _fail(self, violation: Violation) -> Violation:
        calls = call_list(self.world.exchanges()[self.first_exchange :])
        return Violation(
            violation.requirement,
            received=violation.received,
            expected=violation.expected,
            tip=(violation.tip + "\n" if violation.tip else "")
            + f"Replay (seed {self.world.seed}; run again with --spt-seed {self.world.seed}):\n{calls}",
            exchanges=violation.exchanges,
        )

    # -- the moves
    def _candidates(self, move: Move) -> list[str]:
        sources = move.forbidden.sources if move.forbidden and move.forbidden.sources else move.trigger.sources
        return sorted(
            name
            for name, t in self.tokens.items()
            if t.model.state in sources and (move.declining is None or t.declining == move.declining)
        )

    def issue(self, data: st.DataObject) -> None:
        if len(self.tokens) >= MAX_TOKENS:
            return
        world = self.world
        max_amount = data.draw(st.integers(FLOOR, 5000), label="max_amount")
        currency = data.draw(st.sampled_from(CURRENCIES), label="currency")
        # One token in four gets the declining card; the plain card is what a sequence shrinks to.
        declining = world.plan.declining and data.draw(st.integers(0, 3), label="declining card") == 3
        expires = world.plan.expiring and data.draw(st.booleans(), label="expires")
        account = world.scenario.target.agent
        payment_method = account.declined_payment_method if declining else account.payment_method
        for _ in range(3):
            # An expiry must be in the future when it reaches the server (D-24): read the time
            # afresh, and if another test moved the clock past it meanwhile, ask again.
            lo = self._clock() if expires else self.now
            expires_at = lo + world.lifetime if expires else None
            exchange = world.scenario.issue_exchange(
                max_amount=max_amount, currency=currency, expires_at=expires_at, payment_method=payment_method
            )
            if expires_at is None or exchange.status < 400 or self._clock() < expires_at:
                break
        step = oracle.issue(world.plan.lifecycle, Limits(currency, max_amount, expires_at), lo)
        body = exchange.body
        if (problem := _response_violation(step, exchange)) is not None or not isinstance(body, dict):
            raise problem or Violation(step.requirement, received=exchange.response_text[:200], expected="a JSON token")
        token = Tracked(
            f"t{len(self.tokens) + 1}", str(body.get("id")), step.model, declining, expected=list(step.emitted)
        )
        world.tally.update(step.applied)
        self.tokens[token.name] = token
        self._settle(token, step.model, lo, _parts(world.plan, step), extra=[body])

    def attempt(self, move: Move, data: st.DataObject) -> None:
        candidates = self._candidates(move)
        if not candidates:
            return
        token = self.tokens[data.draw(st.sampled_from(candidates), label="token")]
        lo = self.now  # the server's time is at least the last reading
        model = token.model
        amount: int | None = None
        currency: str | None = None
        if move.amount == "above_headroom":
            amount = model.headroom + data.draw(st.integers(FLOOR, 500), label="over by")
        elif "fits_headroom" in move.trigger.guards:
            # The whole headroom (what a sequence shrinks to), or a part that leaves at least FLOOR,
            # so that the headroom is always 0 or payable and no payment is below the minimum
            # charge. The same draws whatever the headroom, so a replay draws alike.
            partial = data.draw(st.booleans(), label="partial payment")
            share = data.draw(st.integers(0, 10_000), label="share")
            room = model.headroom - 2 * FLOOR
            amount = FLOOR + share % (room + 1) if partial and room >= 0 else max(FLOOR, model.headroom)
        if "currency_matches" in move.trigger.guards:
            currency = model.currency
            if move.currency == "other_currency":
                others = [c for c in OTHER_CURRENCIES if c != model.currency]
                currency = data.draw(st.sampled_from(others), label="currency")
        request = Request(move.actor, lo, amount=amount, currency=currency)
        send = _senders(self.world, move.actor, token, request).get(move.trigger.operation or "")
        if send is None:
            raise oracle.ModelError(f"the machine cannot send operation {move.trigger.operation!r} ({move.name})")
        exchange = send()
        hi = self._clock()
        lifecycle = self.world.plan.lifecycle
        steps: list[tuple[Step, Step]] = []
        for moment in dict.fromkeys((lo, hi)):
            before = oracle.elapse(lifecycle, model, moment)
            steps.append(
                (
                    before,
                    oracle.step(
                        lifecycle, before.model, move.trigger.name, Request(move.actor, lo, hi, amount, currency)
                    ),
                )
            )
        chosen = next(((b, s) for b, s in steps if _response_violation(s, exchange) is None), None)
        if chosen is None:
            problem = _response_violation(steps[0][1], exchange)
            assert problem is not None
            raise problem
        before, step = chosen
        self.world.tally.update(
            [" + ".join(step.applied) if step.accepted else f"{move.name} refused by {step.refused_by}"]
        )
        token.expected.extend((*before.emitted, *step.emitted))
        extra = [exchange.body] if isinstance(exchange.body, dict) and exchange.body.get("id") == token.id else []
        self._settle(token, step.model, hi, _parts(self.world.plan, step), extra=extra)
        for requirement in step.requirements:  # the answer and the state it left agree with the model
            LEDGER.hold(requirement)

    def advance(self, trigger: Trigger, data: st.DataObject) -> None:
        lifecycle = self.world.plan.lifecycle
        candidates = sorted(
            n for n, t in self.tokens.items() if t.model.state in trigger.sources and t.model.expires_at
        )
        if not candidates:
            return
        token = self.tokens[data.draw(st.sampled_from(candidates), label="token")]
        lo = self._clock()
        assert token.model.expires_at is not None
        # Never further than this machine's own token needs: other tests share the clock.
        seconds = max(1, token.model.expires_at - lo)
        exchange = self.world.clients["agent"].post(f"{CLOCK}/advance", {"seconds": seconds})
        body = exchange.body
        if exchange.status != 200 or not isinstance(body, dict) or not isinstance(body.get("now"), int):
            raise Violation(
                oracle.aspect(trigger, "response"),
                received=f"{exchange.status} {exchange.response_text[:200]}",
                expected="200 with the clock object and its new now",
                exchanges=[exchange],
            )
        self.now = max(self.now, int(body["now"]))
        for other in self.tokens.values():
            due = oracle.elapse(lifecycle, other.model, self.now)
            if due.applied:
                self.world.tally.update(due.applied)
                parts = {
                    "state": oracle.aspect(trigger, "state"),
                    "captured": oracle.aspect(trigger, "captured"),
                    "deactivated_at": oracle.aspect(trigger, "deactivated_at"),
                }
                self._settle(other, other.model, self.now, parts)

    def observe(self, data: st.DataObject) -> None:
        if not self.tokens:
            return
        token = self.tokens[data.draw(st.sampled_from(sorted(self.tokens)), label="token")]
        self._settle(token, token.model, self.now, None)

    def teardown(self) -> None:
        self.world.made.extend(self.tokens.values())


@dataclass(frozen=True)
class _Named:
    """A move as Hypothesis prints it in a falsifying sequence: by its name."""

    move: Move

    def __repr__(self) -> str:
        return self.move.name


def _wrap(function: Callable[..., None], name: str) -> Callable[..., None]:
    def run(self: LifecycleMachine, data: st.DataObject) -> None:
        try:
            function(self, data)
        except Violation as violation:
            raise self._fail(violation) from None

    run.__name__ = run.__qualname__ = name
    return run


def _can(*moves: Move) -> Callable[[LifecycleMachine], bool]:
    def precondition(machine: LifecycleMachine) -> bool:
        return any(machine._candidates(move) for move in moves)

    return precondition


def _can_expire(trigger: Trigger) -> Callable[[LifecycleMachine], bool]:
    def precondition(machine: LifecycleMachine) -> bool:
        return any(t.model.state in trigger.sources and t.model.expires_at for t in machine.tokens.values())

    return precondition


def build_machine(world: World) -> type[LifecycleMachine]:
    """A machine class with one rule per move of the world's plan."""
    namespace: dict[str, Any] = {"world": world}
    # Every example starts with a token, so that its steps act on one.
    namespace["first_token"] = initialize(data=st.data())(_wrap(LifecycleMachine.issue, "first_token"))
    namespace["issue"] = rule(data=st.data())(
        precondition(lambda self: len(self.tokens) < MAX_TOKENS)(_wrap(LifecycleMachine.issue, "issue"))
    )
    # One rule per trigger; the forbidden moves share one rule that draws which to attempt, so
    # that refusals (eight kinds) do not crowd out the triggers that move the token on.
    for move in world.plan.moves:
        if move.forbidden is not None:
            continue

        def fire(self: LifecycleMachine, data: st.DataObject, move: Move = move) -> None:
            self.attempt(move, data)

        namespace[move.name] = rule(data=st.data())(precondition(_can(move))(_wrap(fire, move.name)))
    forbidden = [m for m in world.plan.moves if m.forbidden is not None]
    if forbidden:

        def attempt_forbidden(self: LifecycleMachine, data: st.DataObject) -> None:
            possible = [m for m in forbidden if self._candidates(m)]
            if possible:
                # The least tried first, so that one example meets many kinds of refusal.
                fewest = min(self.tried[m.name] for m in possible)
                pool = [m for m in possible if self.tried[m.name] == fewest]
                move = data.draw(st.sampled_from(pool).map(_Named), label="forbidden move").move
                self.tried[move.name] += 1
                self.attempt(move, data)

        namespace["attempt_forbidden"] = rule(data=st.data())(
            precondition(_can(*forbidden))(_wrap(attempt_forbidden, "attempt_forbidden"))
        )
    for trigger in world.plan.clock_moves:

        def advance(self: LifecycleMachine, data: st.DataObject, trigger: Trigger = trigger) -> None:
            self.advance(trigger, data)

        name = f"advance_to_{trigger.name}"
        namespace[name] = rule(data=st.data())(precondition(_can_expire(trigger))(_wrap(advance, name)))
    namespace["observe"] = rule(data=st.data())(
        precondition(lambda self: bool(self.tokens))(_wrap(LifecycleMachine.observe, "observe"))
    )
    return type("SPTLifecycle", (LifecycleMachine,), namespace)


# ---------------------------------------------------------------------------------- events
def event_violations(plan: Plan, tokens: Sequence[Tracked], events: EventSource) -> list[Violation]:
    """Each token's events, per party, against what the model says it emitted: exactly once."""
    if not tokens:
        return []
    by_type: dict[str, str] = {}
    for trigger in plan.lifecycle.triggers.values():
        for emit in trigger.emits:
            if emit.requirement:
                by_type.setdefault(emit.event, emit.requirement)
    roles = sorted({e.to for t in plan.lifecycle.triggers.values() for e in t.emits})
    # Deliveries may lag behind the run: wait for every expected event first (each returns as
    # soon as it is there), then for quiet, so that an extra one has its chance to show.
    for token in tokens:
        for (role, event_type), count in Counter((e.to, e.event) for e in token.expected).items():
            events.wait_for(role, event_type, token.id, count=count)
    for role in roles:
        events.settle(role, tokens[-1].id)
    found: list[Violation] = []
    for role in roles:
        observed = Counter((e.object_id, e.type) for e in events.observed(role))
        for token in tokens:
            wanted = Counter(e.event for e in token.expected if e.to == role)
            # A live token that may expire while the suite waits may add its deactivation.
            open_ended = token.model.state != "deactivated" and token.model.expires_at is not None
            for event_type in sorted(set(wanted) | {t for (i, t) in observed if i == token.id}):
                got, want = observed[(token.id, event_type)], wanted[event_type]
                if got == want or (open_ended and event_type.endswith(".deactivated") and got == 1 and want == 0):
                    continue
                requirement = by_type.get(event_type)
                if requirement is None:
                    continue
                moves = " → ".join(dict.fromkeys(e.trigger for e in token.expected)) or "none"
                found.append(
                    Violation(
                        requirement,
                        received=f"{got} {event_type} event(s) about {token.id} for the {role}",
                        expected=f"exactly {want}, from what happened to it: {moves}",
                        tip="each succeeded payment sends one used event to each party, each deactivation one "
                        "deactivated event; events are matched by data.object.id",
                    )
                )
    return found


# ---------------------------------------------------------------------------------- running
@dataclass(frozen=True)
class RunSummary:
    seed: int
    examples: int
    steps: int
    tokens: int
    exchanges: int
    tally: Mapping[str, int]

    def describe(self) -> str:
        moves = ", ".join(f"{name} ×{count}" for name, count in sorted(self.tally.items()))
        return (
            f"lifecycle machine: {self.examples} examples × {self.steps} steps, {self.tokens} tokens, "
            f"{self.exchanges} exchanges (seed {self.seed}); moves: {moves or 'none'}"
        )


@contextlib.contextmanager
def _shrink_budget(seconds: int) -> Iterator[None]:
    """Bound Hypothesis's shrinking (five minutes by default): each replay here is HTTP traffic."""
    from hypothesis.internal.conjecture import engine

    old = getattr(engine, "MAX_SHRINKING_SECONDS", None)
    if not isinstance(old, int):
        yield
        return
    engine.MAX_SHRINKING_SECONDS = seconds
    try:
        yield
    finally:
        engine.MAX_SHRINKING_SECONDS = old


def run_lifecycle(
    scenario: Scenario,
    exchanges: Callable[[], Sequence[Exchange]],
    *,
    lifecycle: Lifecycle,
    operations: Mapping[str, Operation],
    seed: int | None = None,
    max_examples: int | None = None,
    quick: bool = False,
    events: EventSource | None = None,
    report: Callable[[str], None] = print,
) -> RunSummary:
    """Run the generated machine; raise the first Violation found (shrunk), else summarise."""
    target = scenario.target
    the_plan = plan(lifecycle, operations, target.has)
    clients = {"agent": scenario.agent, "seller": scenario.seller}
    if scenario.other_seller is not None:
        clients["other_seller"] = scenario.other_seller
    seed = random.randrange(2**32) if seed is None else seed
    report(f"lifecycle machine: seed {seed} (rerun with --spt-seed {seed})")
    extension = target.has("clock")
    world = World(the_plan, scenario, clients, exchanges, extension, min(scenario.clock.lead_time(), 120), seed)
    examples, steps = QUICK if quick else FULL
    examples = max_examples or examples
    machine = build_machine(world)
    before = len(exchanges())
    test = get_state_machine_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            database=None,
            deadline=None,
            derandomize=False,
            print_blob=False,
            report_multiple_bugs=False,
            suppress_health_check=list(HealthCheck),
            # The explain phase replays the failure many more times to say which lines ran.
            phases=[p for p in Phase if p is not Phase.explain],
        ),
    )
    with _shrink_budget(15 if quick else 60):
        hypothesis.seed(seed)(test)()
    if events is not None and events.available and the_plan.event_requirements():
        found = event_violations(the_plan, world.made, events)
        if found:
            raise found[0]
    return RunSummary(seed, examples, steps, len(world.made), len(exchanges()) - before, dict(world.tally))
