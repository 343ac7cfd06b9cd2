"""Stripe's test payment-method shortcuts, what a stored card keeps, and the card-number scan.

A shortcut (`pm_card_visa`, …) resolves to a new concrete `pm_` PaymentMethod in the account
that names it. The server never sees, stores, echoes or logs a card number: a `TestCard` keeps
only brand, last4, expiry, funding, country, display brand and networks. Risk insights
(D-14) and declines are deterministic per test card; docs/reference-server.md has the table.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["SHORTCUTS", "RiskInsight", "TestCard", "contains_card_number", "find_card_number", "risk_details"]


@dataclass(frozen=True)
class RiskInsight:
    score: float | int
    recommended_action: str  # "block" or "continue"


@dataclass(frozen=True)
class TestCard:
    kind: str
    brand: str
    last4: str
    funding: str = "credit"
    country: str = "US"
    exp_month: int = 12
    exp_year: int = 2034
    decline_code: str | None = None  # None: the card pays
    # fraudulent_dispute, stolen_card (integers); card_testing, card_issuer_decline, bot (floats)
    risk: tuple[int, int, float, float, float] = (8, 3, 0.02, 0.05, 0.01)


SHORTCUTS: Final[Mapping[str, TestCard]] = {
    "pm_card_visa": TestCard("visa", "visa", "4242"),
    "pm_card_mastercard": TestCard("mastercard", "mastercard", "4444", risk=(11, 4, 0.03, 0.06, 0.02)),
    "pm_card_amex": TestCard("amex", "amex", "0005", risk=(6, 2, 0.01, 0.04, 0.01)),
    "pm_card_chargeDeclined": TestCard(
        "chargeDeclined", "visa", "0002", decline_code="generic_decline", risk=(22, 9, 0.08, 0.93, 0.03)
    ),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "chargeDeclinedInsufficientFunds",
        "visa",
        "9995",
        funding="debit",
        decline_code="insufficient_funds",
        risk=(18, 5, 0.04, 0.88, 0.02),
    ),
    "pm_card_chargeDeclinedFraudulent": TestCard(
        "chargeDeclinedFraudulent", "visa", "0019", decline_code="fraudulent", risk=(91, 87, 0.71, 0.64, 0.58)
    ),
}
BY_KIND: Final[Mapping[str, TestCard]] = {card.kind: card for card in SHORTCUTS.values()}

DECLINE_MESSAGES: Final[Mapping[str, str]] = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "fraudulent": "Your card was declined.",
}

# Thresholds above which an insight recommends blocking: integer scores are 0-100, floats 0-1.
_BLOCK_INT, _BLOCK_FLOAT = 75, 0.75


def _insight(score: float | int) -> dict[str, Any]:
    block = score >= (_BLOCK_INT if isinstance(score, int) else _BLOCK_FLOAT)
    return {"score": score, "recommended_action": "block" if block else "continue"}


def risk_details(card_kind: str) -> dict[str, Any]:
    """All five insights for a stored card (D-14), a pure function of its test card."""
    dispute, stolen, testing, issuer, bot = BY_KIND[card_kind].risk
    return {
        "insights": {
            "bot": _insight(bot),
            "card_issuer_decline": _insight(issuer),
            "card_testing": _insight(testing),
            "fraudulent_dispute": _insight(dispute),
            "stolen_card": _insight(stolen),
        }
    }


# A run of 13+ digits, or digits written in groups the way card numbers are printed
# ("4242 4242 4242 4242", "3782-822463-10005").
_DIGIT_RUN = re.compile(r"\d{13,}|\d{3,6}(?:[ -]\d{3,6}){2,5}")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def contains_card_number(text: str) -> bool:
    """True if `text` holds a run of 13 to 19 digits that passes Luhn (D-36).

    A run of 13-19 digits is tested whole, so a 16-digit order number is refused only when it
    happens to pass Luhn. A longer run might hide a card number glued to other digits, so every
    13-19 digit window of it is tested.
    """
    for match in _DIGIT_RUN.finditer(text):
        run = match.group().replace(" ", "").replace("-", "")
        if len(run) < 13:
            continue
        if len(run) <= 19:
            if _luhn_ok(run):
                return True
            continue
        if len(run) > 40:
            # Among a run this long some window passes Luhn almost surely; deciding without the
            # scan keeps a megabyte of digits from costing seconds.
            return True
        for size in range(13, 20):
            for begin in range(len(run) - size + 1):
                if _luhn_ok(run[begin : begin + size]):
                    return True
    return False


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, child in value.items():
            yield from _walk(child, f"{path}[{key}]" if path else str(key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _walk(child, f"{path}[{index}]")


def find_card_number(params: Mapping[str, Any]) -> str | None:
    """The bracket name of the first parameter whose value holds a Luhn-valid run of 13 to 19
    digits (D-36), or None. The value itself is never returned, so it cannot be echoed."""
    for path, text in _walk(params, ""):
        if len(text) >= 13 and contains_card_number(text):
            return path
    return None
