"""Test cards: the card-number scan (D-36) and deterministic risk insights (D-14)."""

from __future__ import annotations

import pytest

from reference_impl.cards import SHORTCUTS, contains_card_number, find_card_number, risk_details


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424242",
        "xx4000056655665556yy",
        "378282246310005",
        "4242 4242 4242 4242",
        "4242-4242-4242-4242",
        "12345678904242424242424242",
        "1" * 41,
    ],
)
def test_contains_card_number_finds_luhn_runs(text: str) -> None:
    assert contains_card_number(text)


@pytest.mark.parametrize(
    "text", ["4242424242424241", "123456789012", "1795840291 1795840291", "spt_1RgaZcFPC5QUO6ZCDVZuVA8q"]
)
def test_contains_card_number_ignores_other_digits(text: str) -> None:
    assert not contains_card_number(text)


def test_find_card_number_names_the_parameter_not_the_value() -> None:
    params = {"a": "ok", "m": {"note": "pay 4242424242424242"}, "l": ["x"]}
    assert find_card_number(params) == "m[note]"
    assert find_card_number({"l": ["x", "5555555555554444"]}) == "l[1]"
    assert find_card_number({"a": "fine"}) is None


def test_risk_details_are_deterministic_per_card() -> None:
    for card in SHORTCUTS.values():
        first, second = risk_details(card.kind), risk_details(card.kind)
        assert first == second
        insights = first["insights"]
        assert isinstance(insights["fraudulent_dispute"]["score"], int)
        assert isinstance(insights["stolen_card"]["score"], int)
        assert all(isinstance(insights[k]["score"], float) for k in ("bot", "card_testing", "card_issuer_decline"))
    assert risk_details("chargeDeclined")["insights"]["card_issuer_decline"]["recommended_action"] == "block"
    assert risk_details("visa")["insights"]["card_issuer_decline"]["recommended_action"] == "continue"


def test_shortcuts_keep_no_card_number() -> None:
    for card in SHORTCUTS.values():
        assert len(card.last4) == 4
        assert not contains_card_number(repr(card))
