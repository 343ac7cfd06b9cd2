"""Assertions about requirements: the `expect_*` vocabulary, the `Violation` it raises, and its ledger.

`Violation` is an AssertionError, so pytest reports it as a failure; it carries the one
requirement it proves broken, which is how a failing test turns into a per-requirement verdict.
Every `expect_*` that holds is counted in the process's `LEDGER`, so the evidence pipeline
(`conformance.evidence`) can tell a requirement that was checked and held from one a passing test
never looked at. Three flags say what an assertion is about:

- `setup=True`: a step the test relies on (issuing a token, paying), checked under the requirement
  that covers that step; its failure is filed there and leaves the test's own requirements
  unverified rather than failed;
- `rests_on="D-NN"`: what is checked is the reference server's decision, not Stripe's documented
  behaviour; its failure is filed under that decision's requirement;
- `expect_decision` checks such a decision without stopping the test, so that it can go on to
  check the documented invariant on what the target did instead.

`inconclusive(reason)` stops a test whose precondition could not be set up: not a violation.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, NoReturn, TypeVar

from _pytest.outcomes import Skipped  # pytest.skip.Exception, named for type checkers

from conformance.catalog import Catalogue
from conformance.client import Exchange

__all__ = [
    "LEDGER",
    "STRIPE_ERROR_TYPES",
    "Inconclusive",
    "Ledger",
    "Violation",
    "ViolationGroup",
    "expect",
    "expect_decision",
    "expect_equal",
    "expect_error",
    "expect_ok",
    "expect_refused",
    "find_exception",
    "inconclusive",
]

STRIPE_ERROR_TYPES = ("api_error", "card_error", "idempotency_error", "invalid_request_error")

_Found = TypeVar("_Found", bound=BaseException)


def find_exception(error: BaseException | None, kind: type[_Found]) -> _Found | None:
    """The first exception of `kind` in `error`, its exception groups and their causes, however
    deep (Hypothesis wraps what a test raised, pytest groups it)."""
    queue, seen = [error], set()
    while queue:
        current = queue.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return current
        if isinstance(current, BaseExceptionGroup):
            queue.extend(current.exceptions)
        queue.extend((current.__cause__, current.__context__))
    return None


class Violation(AssertionError):
    def __init__(
        self,
        requirement: str,
        *,
        received: str,
        expected: str,
        tip: str = "",
        exchanges: Sequence[Exchange] = (),
        setup: bool = False,
        rests_on: str | None = None,
    ) -> None:
        self.requirement = requirement
        self.received = received
        self.expected = expected
        self.tip = tip
        self.exchanges = tuple(exchanges)
        self.setup = setup  # a step the test relies on, not what it proves
        self.rests_on = rests_on  # the D-NN whose choice this assertion checks
        super().__init__(self.render())

    def render(self, catalogue: Catalogue | None = None) -> str:
        """The four-part message; with the catalogue, the requirement's statement too."""
        title = self.requirement
        if catalogue is not None and self.requirement in catalogue:
            requirement = catalogue[self.requirement]
            title += f" ({requirement.level}): {requirement.statement}"
        lines = [
            f"Requirement: {title}",
            f"Received:    {self.received}",
            f"Expected:    {self.expected}",
        ]
        if self.tip:
            lines.append(f"Tip:         {self.tip}")
        for number, exchange in enumerate(self.exchanges, 1):
            lines.append(f"Evidence {number}:  {exchange.describe()}")
        return "\n".join(lines)


class ViolationGroup(AssertionError):
    """Several requirements broken at once (one test that checks many things, or a generated
    test whose checks found more than one problem)."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        if not violations:
            raise ValueError("a ViolationGroup needs at least one violation")
        self.violations = tuple(violations)
        super().__init__(self.render())

    def render(self, catalogue: Catalogue | None = None) -> str:
        return "\n\n".join(v.render(catalogue) for v in self.violations)


class Inconclusive(Skipped):
    """The test could not set up what its check needs (a fixture, a probe, a read the check
    depends on): its requirements are INCONCLUSIVE with the reason, never FAILED."""


def inconclusive(reason: str) -> NoReturn:
    """Stop the test: its precondition could not be set up (say what was tried and what came back)."""
    raise Inconclusive(f"inconclusive: {reason}")


class Ledger:
    """What held in the running test: the requirements of assertions that held, and the decision
    violations recorded without stopping it. One per process; tests of a process run one at a time,
    but a test may assert from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.held: Counter[str] = Counter()
        self.soft: list[Violation] = []

    def reset(self) -> None:
        with self._lock:
            self.held = Counter()
            self.soft = []

    def hold(self, requirement: str) -> None:
        with self._lock:
            self.held[requirement] += 1

    def record(self, violation: Violation) -> None:
        with self._lock:
            self.soft.append(violation)

    def take(self) -> tuple[Counter[str], list[Violation]]:
        with self._lock:
            held, soft = self.held, self.soft
            self.held, self.soft = Counter(), []
        return held, soft


LEDGER = Ledger()


def _summary(exchange: Exchange) -> str:
    text = exchange.response_text.strip().replace("\n", " ")
    return f"{exchange.status} {text[:300]}{'…' if len(text) > 300 else ''}"


def expect(
    condition: bool,
    requirement: str,
    *,
    received: str,
    expected: str,
    tip: str = "",
    exchanges: Iterable[Exchange] = (),
    setup: bool = False,
    rests_on: str | None = None,
) -> None:
    """Raise a Violation of `requirement` unless `condition` holds; count it in the ledger if it does."""
    if not condition:
        raise Violation(
            requirement,
            received=received,
            expected=expected,
            tip=tip,
            exchanges=list(exchanges),
            setup=setup,
            rests_on=rests_on,
        )
    LEDGER.hold(requirement)


def expect_decision(
    condition: bool,
    requirement: str,
    *,
    received: str,
    expected: str,
    tip: str = "",
    exchanges: Iterable[Exchange] = (),
) -> bool:
    """Check a decision requirement without stopping the test; returns whether it held.

    A target may choose differently where Stripe documents nothing: the difference is recorded
    (INFO against such a target) and the test goes on to check what Stripe does document about
    what the target did instead."""
    if condition:
        LEDGER.hold(requirement)
    else:
        LEDGER.record(Violation(requirement, received=received, expected=expected, tip=tip, exchanges=list(exchanges)))
    return condition


def expect_equal(
    received: Any,
    expected: Any,
    requirement: str,
    *,
    what: str,
    tip: str = "",
    exchanges: Iterable[Exchange] = (),
    setup: bool = False,
    rests_on: str | None = None,
) -> None:
    expect(
        received == expected,
        requirement,
        received=f"{what} = {received!r}",
        expected=f"{what} = {expected!r}",
        tip=tip,
        exchanges=exchanges,
        setup=setup,
        rests_on=rests_on,
    )


def expect_ok(
    exchange: Exchange, requirement: str, *, object_type: str | None = None, tip: str = "", setup: bool = False
) -> dict[str, Any]:
    """A 200 with a JSON object body (of `object_type`, if given); returns the body."""
    body = exchange.body
    expect(
        exchange.status == 200 and isinstance(body, dict),
        requirement,
        received=_summary(exchange),
        expected=f"200 with a JSON {object_type or 'object'}",
        tip=tip,
        exchanges=[exchange],
        setup=setup,
    )
    assert isinstance(body, dict)
    if object_type is not None:
        expect_equal(
            body.get("object"), object_type, requirement, what="object", tip=tip, exchanges=[exchange], setup=setup
        )
    return body


def expect_refused(
    exchange: Exchange,
    requirement: str,
    *,
    statuses: Collection[int] | None = None,
    tip: str = "",
    rests_on: str | None = None,
) -> Mapping[str, Any]:
    """Refused the way Stripe refuses: a 4xx (or one of `statuses`) with a Stripe error body.

    This is the invariant the suite checks where Stripe documents no exact code.
    """
    allowed = statuses if statuses is not None else range(400, 500)
    error = exchange.error
    expect(
        exchange.status in allowed and error is not None and error.get("type") in STRIPE_ERROR_TYPES,
        requirement,
        received=_summary(exchange),
        expected=(
            f"a refusal: status {_statuses(allowed)} with a Stripe error body "
            f'{{"error": {{"type": one of {", ".join(STRIPE_ERROR_TYPES)}, ...}}}}'
        ),
        tip=tip,
        exchanges=[exchange],
        rests_on=rests_on,
    )
    assert error is not None
    return error


def expect_error(
    exchange: Exchange,
    requirement: str,
    *,
    status: int,
    type: str,
    code: str | None = None,
    param: str | None = None,
    tip: str = "",
    rests_on: str | None = None,
) -> Mapping[str, Any]:
    """An exact Stripe error: status, type and, when given, code and param."""
    error = expect_refused(exchange, requirement, statuses=(status,), tip=tip, rests_on=rests_on)
    wanted = {"type": type, "code": code, "param": param}
    for name, value in wanted.items():
        if value is not None:
            expect_equal(
                error.get(name),
                value,
                requirement,
                what=f"error.{name}",
                tip=tip,
                exchanges=[exchange],
                rests_on=rests_on,
            )
    return error


def _statuses(allowed: Collection[int]) -> str:
    if isinstance(allowed, range):
        return f"{allowed.start}–{allowed.stop - 1}"
    return " or ".join(str(s) for s in sorted(allowed))
