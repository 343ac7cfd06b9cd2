"""No test pays below Stripe's minimum charge: the table, and every amount the suite's source pays."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.amounts import MINIMUM_CHARGE, minimum_charge, payable

SUITE = Path(__file__).resolve().parents[2] / "conformance" / "suite"
# Helpers that pay: the amount is their second positional argument.
PAYERS = {"pay", "pay_ok", "pay_params", "paid", "_pay", "create_intent"}


def test_minimum_charge_of_common_currencies_in_minor_units() -> None:
    assert (minimum_charge("usd"), minimum_charge("eur"), minimum_charge("gbp"), minimum_charge("jpy")) == (
        50,
        50,
        30,
        50,
    )
    assert minimum_charge("USD") == 50
    assert minimum_charge("gbp", "usd") == 50  # payable in both
    assert minimum_charge("xyz") == 50  # unlisted: never too small by mistake
    assert all(value > 0 for value in MINIMUM_CHARGE.values())


def test_payable_is_at_least_the_minimum() -> None:
    assert payable(50, "usd")
    assert not payable(49, "usd")
    assert payable(30, "gbp")
    assert not payable(30, "gbp", "eur")


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _ints(node: ast.expr) -> Iterator[int]:
    """Literal amounts in an argument: a number, a list or tuple of them, or a list times n."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        yield node.value
    elif isinstance(node, ast.List | ast.Tuple):
        for element in node.elts:
            yield from _ints(element)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        yield from _ints(node.left)


def _paid_amounts() -> Iterator[tuple[str, int, int, str]]:
    """(file, line, amount, currency) of every literal amount a suite test pays."""
    for path in sorted(SUITE.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            currency = next(
                (
                    str(k.value.value)
                    for k in node.keywords
                    if k.arg == "currency" and isinstance(k.value, ast.Constant)
                ),
                "usd",
            )
            name = _name(node)
            if name in PAYERS and len(node.args) >= 2:
                amounts = list(_ints(node.args[1]))
            elif name == "race" and len(node.args) >= 3:
                amounts = list(_ints(node.args[2]))
            else:
                continue
            for amount in amounts:
                yield path.name, node.lineno, amount, currency


def test_suite_finds_the_amounts_it_pays() -> None:
    # The scan must see the suite's payments, or the next test would pass for want of any.
    assert len(list(_paid_amounts())) > 50


@pytest.mark.parametrize(("where", "line", "amount", "currency"), list(_paid_amounts()))
def test_suite_never_pays_below_the_minimum_charge(where: str, line: int, amount: int, currency: str) -> None:
    assert payable(amount, currency, "usd"), (
        f"{where}:{line} pays {amount} {currency}, below Stripe's minimum charge of "
        f"{minimum_charge(currency, 'usd')}; Stripe would refuse it with amount_too_small for that reason alone"
    )
