"""A broken requirement, told in four parts: received, expected, the requirement, a tip.

`Violation` is an AssertionError, so pytest reports it as a failure; it carries the one
requirement it proves broken, which is how a failing test turns into a per-requirement verdict.
The small `expect_*` functions below are the vocabulary tests use to raise it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from conformance.catalog import Catalogue
from conformance.client import Exchange

__all__ = [
    "STRIPE_ERROR_TYPES",
    "Violation",
    "ViolationGroup",
    "expect",
    "expect_equal",
    "expect_error",
    "expect_ok",
    "expect_refused",
]

STRIPE_ERROR_TYPES = ("api_error", "card_error", "idempotency_error", "invalid_request_error")


class Violation(AssertionError):
    def __init__(
        self,
        requirement: str,
        *,
        received: str,
        expected: str,
        tip: str = "",
        exchanges: Sequence[Exchange] = (),
    ) -> None:
        self.requirement = requirement
        self.received = received
        self.expected = expected
        self.tip = tip
        self.exchanges = tuple(exchanges)
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
) -> None:
    """Raise a Violation of `requirement` unless `condition` holds."""
    if not condition:
        raise Violation(requirement, received=received, expected=expected, tip=tip, exchanges=list(exchanges))


def expect_equal(
    received: Any, expected: Any, requirement: str, *, what: str, tip: str = "", exchanges: Iterable[Exchange] = ()
) -> None:
    expect(
        received == expected,
        requirement,
        received=f"{what} = {received!r}",
        expected=f"{what} = {expected!r}",
        tip=tip,
        exchanges=exchanges,
    )


def expect_ok(exchange: Exchange, requirement: str, *, object_type: str | None = None, tip: str = "") -> dict[str, Any]:
    """A 200 with a JSON object body (of `object_type`, if given); returns the body."""
    body = exchange.body
    expect(
        exchange.status == 200 and isinstance(body, dict),
        requirement,
        received=_summary(exchange),
        expected=f"200 with a JSON {object_type or 'object'}",
        tip=tip,
        exchanges=[exchange],
    )
    assert isinstance(body, dict)
    if object_type is not None:
        expect_equal(body.get("object"), object_type, requirement, what="object", tip=tip, exchanges=[exchange])
    return body


def expect_refused(
    exchange: Exchange, requirement: str, *, statuses: Collection[int] | None = None, tip: str = ""
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
) -> Mapping[str, Any]:
    """An exact Stripe error: status, type and, when given, code and param."""
    error = expect_refused(exchange, requirement, statuses=(status,), tip=tip)
    wanted = {"type": type, "code": code, "param": param}
    for name, value in wanted.items():
        if value is not None:
            expect_equal(error.get(name), value, requirement, what=f"error.{name}", tip=tip, exchanges=[exchange])
    return error


def _statuses(allowed: Collection[int]) -> str:
    if isinstance(allowed, range):
        return f"{allowed.start}–{allowed.stop - 1}"
    return " or ".join(str(s) for s in sorted(allowed))
