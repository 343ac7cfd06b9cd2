"""The lifecycle as a Hypothesis state machine, generated from `spec/lifecycle.yaml` alone.

Theory of operation. `conformance.lifecycle.plan.plan()` lists the moves the suite can drive on
the target, from the lifecycle data alone. `build_machine()` turns the plan into a
`RuleBasedStateMachine`; each rule sends one request, asks `conformance.lifecycle.model` what
should have happened, and judges the answer (`conformance.lifecycle.judging`) and the token as the
answer shows it. Both views of each token are read, and judged with the invariants, at the end of
the example (and sooner when the model cannot otherwise tell which of two moments applies, or
when the `observe` rule asks): reading them after every step was most of the machine's traffic.
A wrong view is then blamed on the latest step that decided that part of the state; shrinking
makes that step the last of the sequence.

Time is shared with other tests, which may move the target's clock. The machine therefore knows
the server's time only between two readings, and a token whose expiry falls between them may be
either side of it: each judgement accepts the outcome of either moment, and nothing else.

A failure is a `Violation` of the requirement the move proves (the trigger's, the guard's, the
forbidden rule's or the invariant's), its tip listing the shrunk sequence as numbered HTTP calls
that a person can replay.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from conformance.clock import CLOCK
from conformance.lifecycle import invariants as judge
from conformance.lifecycle import model as oracle
from conformance.lifecycle.judging import call_list, parts, response_violation
from conformance.lifecycle.model import Limits, Request, Step, TokenModel
from conformance.lifecycle.plan import Move
from conformance.lifecycle.spec import Trigger
from conformance.lifecycle.world import CURRENCIES, FLOOR, OTHER_CURRENCIES, Tracked, World, senders
from conformance.violation import LEDGER, Violation

__all__ = ["LifecycleMachine", "build_machine"]

MAX_TOKENS = 4


class LifecycleMachine(RuleBasedStateMachine):
    """The base of generated machines; `build_machine` adds one rule per move of the plan."""

    world: World

    def __init__(self) -> None:
        super().__init__()
        self.tokens: dict[str, Tracked] = {}
        self.failed = False  # a step raised: the end-of-example reading would only hide it
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
        *,
        read: bool = False,
    ) -> None:
        """Judge the token against the model at either end of [lo, now]: the response's own view
        of it (`extra`) at once, both views read from the server when the model cannot tell
        which end applies, when `read` asks, and at the end of the example (`teardown`)."""
        # Only a token that may still expire, read now, needs the time of the reading; unread, the
        # next step's own [lo, hi] covers an expiry that falls after this one. The clock is read
        # after the views, so that the reading lies within [lo, hi] even if another test (or
        # worker) moves the shared clock meanwhile. If it does, the two views can straddle the
        # expiry (one live, one expired) and fit no single moment: they are read again, once,
        # since an expired token stays expired.
        may_expire = read and chosen.expires_at is not None and chosen.deactivated_at is None
        pending = {**token.unread, **(parts or {})}  # the latest step that decided each part
        first: list[Violation] = []
        for _ in range(2 if may_expire else 1):
            views = self._read(token) if read else ()
            hi = self._clock() if may_expire else lo
            options = [oracle.elapse(self.world.plan.lifecycle, chosen, lo)]
            late = oracle.elapse(self.world.plan.lifecycle, chosen, hi)
            if late.model != options[0].model:
                options.append(late)
            for option in options:
                found: list[Violation] = []
                for view in (*extra, *views):
                    if pending:
                        found += judge.state_violations(
                            self.world.plan.lifecycle, option.model, view, pending, slack=self.world.slack
                        )
                if views:
                    found += judge.invariant_violations(
                        option.model, *views, token.readings, lifecycle=self.world.plan.lifecycle
                    )
                if not found:
                    self._adopt(token, option, views, pending)
                    return
                first = first or found
            if len(options) == 1:
                break  # no expiry fell within [lo, hi]: reading again would show the same
        raise first[0]

    def _adopt(self, token: Tracked, option: Step, views: judge.Views | tuple[()], pending: Mapping[str, str]) -> None:
        """The token's state is `option`'s: what held is evidence, and the views are its readings."""
        if views:
            # What held: the parts of the state judged, and every invariant of the lifecycle.
            lifecycle = self.world.plan.lifecycle
            for requirement in {*pending.values(), *(r for i in lifecycle.invariants for r in i.requirements)}:
                LEDGER.hold(requirement)
        token.model = option.model
        token.expected.extend(option.emitted)
        if views:
            token.readings.append(views)
            token.unread = {}
        else:
            token.unread = dict(pending)

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
        if (problem := response_violation(step, exchange)) is not None or not isinstance(body, dict):
            raise problem or Violation(step.requirement, received=exchange.response_text[:200], expected="a JSON token")
        token = Tracked(
            f"t{len(self.tokens) + 1}", str(body.get("id")), step.model, declining, expected=list(step.emitted)
        )
        world.tally.update(step.applied)
        self.tokens[token.name] = token
        self._settle(token, step.model, lo, parts(world.plan, step), extra=[body])

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
            # One over is the sharpest probe of the cap; a consumed token's headroom of 0 still
            # gets a payable amount.
            amount = max(FLOOR, model.headroom + data.draw(st.integers(1, 500), label="over by"))
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
        send = senders(self.world, move.actor, token, request).get(move.trigger.operation or "")
        if send is None:
            raise oracle.ModelError(f"the machine cannot send operation {move.trigger.operation!r} ({move.name})")
        exchange = send()
        # The moment after matters when the token may expire meanwhile, or the move may stamp a
        # deactivation; a forbidden move on a token that cannot expire changes nothing at any time.
        expiring = model.expires_at is not None and model.deactivated_at is None
        hi = self._clock() if expiring or move.forbidden is None else lo
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
        chosen = next(((b, s) for b, s in steps if response_violation(s, exchange) is None), None)
        if chosen is None:
            # The model's tokens are multi-use (D-10): on a single-use server it cannot go on.
            self.world.scenario.unless_single_use(token.id, exchange, move.name)
            problem = response_violation(steps[0][1], exchange)
            assert problem is not None
            raise problem
        before, step = chosen
        self.world.tally.update(
            [" + ".join(step.applied) if step.accepted else f"{move.name} refused by {step.refused_by}"]
        )
        token.expected.extend((*before.emitted, *step.emitted))
        extra = [exchange.body] if isinstance(exchange.body, dict) and exchange.body.get("id") == token.id else []
        self._settle(token, step.model, hi, parts(self.world.plan, step), extra=extra)
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
        self._settle(token, token.model, self.now, None, read=True)

    def read_all(self) -> None:
        """The end of an example: every token's views, judged by the steps not yet read."""
        for token in self.tokens.values():
            if token.unread:
                self._settle(token, token.model, self.now, None, read=True)

    def teardown(self) -> None:
        if not self.failed:
            try:
                self.read_all()
            except Violation as violation:
                self.failed = True
                raise self._fail(violation) from None
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
            self.failed = True
            raise self._fail(violation) from None
        except BaseException:
            self.failed = True
            raise

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
