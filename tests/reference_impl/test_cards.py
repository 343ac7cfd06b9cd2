"""Test cards: the card-number scan (D-36, D-37) and deterministic risk insights (D-14)."""

from __future__ import annotations

import pytest

from reference_impl.cards import REDACTED, SHORTCUTS, contains_card_number, find_card_number, redact, risk_details


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424242",
        "xx 4000056655665556 yy",
        "card:4000056655665556.",
        "378282246310005",
        "3782 822463 10005",
        "3622-720627-1667",
        "4242 4242 4242 4242",
        "4242-4242-4242-4242",
        "6205 5000 0000 0000 004",
        "order_4242424242424242",
    ],
)
def test_contains_card_number_finds_card_numbers_as_written(text: str) -> None:
    assert contains_card_number(text)
    assert REDACTED in redact(text)
    assert not contains_card_number(redact(text))


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424241",  # fails Luhn
        "123456789012",  # too short
        "1795840291 1795840291",  # not a card grouping
        "1234567890123452",  # passes Luhn, but no card network starts with 1
        "spt_1RgaZcFPC5QUO6ZCDVZuVA8q",
        "94e72082-6297-4816-8248-3a2ec48ecc6b",  # a UUID whose inner digits pass Luhn
        "x4000056655665556y",  # glued to letters: an identifier, not a card number
        "12345678904242424242424242",  # glued to other digits: a longer number
        "1" * 41,
    ],
)
def test_contains_card_number_ignores_identifiers_and_other_digits(text: str) -> None:
    assert not contains_card_number(text)
    assert redact(text) == text


def test_find_card_number_looks_at_names_too_and_never_returns_the_number() -> None:
    assert find_card_number({"metadata": {"4242424242424242": "x"}}) == "metadata"
    assert find_card_number({"a": {"b": {"note 4242 4242 4242 4242": "x"}}}) == "a[b]"
    found = find_card_number({"4242424242424242": "1"})
    assert found is not None
    assert "4242" not in found


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
