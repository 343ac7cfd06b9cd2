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

__all__ = [
    "REDACTED",
    "SHORTCUTS",
    "RiskInsight",
    "TestCard",
    "contains_card_number",
    "find_card_number",
    "redact",
    "risk_details",
]


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


# A card number as people write it (D-37): 13-19 digits standing alone, or printed in the groups
# card networks use (4-4-4-4, 4-4-4-4-3, 4-4-4-1, Amex 4-6-5, Diners 4-6-4), separated by one
# space or dash, with a card network's prefix and length (`_NETWORKS`) and passing Luhn.
# "Standing alone" means no letter or digit on either side: digits inside a UUID, a hex id or a
# longer number are not a card number, so honest identifiers are not refused
# (bench/card_detector.py measures both rates).
_CARD = re.compile(
    r"(?<![0-9A-Za-z])"
    r"(?:[2-6][0-9]{12,18}"
    r"|[2-6][0-9]{3}(?:[ -][0-9]{4}){3}[ -][0-9]{1,3}"  # longest grouping first: the first that fits wins
    r"|[2-6][0-9]{3}(?:[ -][0-9]{4}){2}[ -][0-9]{1,4}"
    r"|[2-6][0-9]{3}[ -][0-9]{6}[ -][0-9]{4,5})"
    r"(?![0-9A-Za-z])",
    re.ASCII,
)
REDACTED: Final = "(card number removed)"

_ANY = range(13, 20)
# (lowest prefix, highest prefix, lengths) of the card networks' number ranges.
_NETWORKS: Final = (
    ("4", "4", (13, 16, 19)),  # Visa
    ("51", "55", (16,)),  # Mastercard
    ("2221", "2720", (16,)),  # Mastercard 2-series
    ("34", "34", (15,)),  # American Express
    ("37", "37", (15,)),
    ("6011", "6011", _ANY),  # Discover
    ("644", "649", _ANY),
    ("65", "65", _ANY),  # Discover, BC card, RuPay
    ("300", "305", _ANY),  # Diners Club
    ("36", "36", _ANY),
    ("38", "39", _ANY),
    ("3528", "3589", _ANY),  # JCB
    ("62", "62", _ANY),  # UnionPay
    ("2200", "2204", _ANY),  # Mir
    ("50", "50", _ANY),  # Maestro
    ("56", "58", _ANY),
    ("60", "60", _ANY),  # RuPay, Maestro
    ("63", "63", _ANY),
    ("67", "67", _ANY),
)


def _network_number(digits: str) -> bool:
    return any(low <= digits[: len(low)] <= high and len(digits) in lengths for low, high, lengths in _NETWORKS)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card_spans(text: str) -> Iterator[tuple[int, int]]:
    for match in _CARD.finditer(text):
        digits = match.group().replace(" ", "").replace("-", "")
        if _network_number(digits) and _luhn_ok(digits):
            yield match.span()


def contains_card_number(text: str) -> bool:
    """True if `text` holds a card number written as people write one (D-37)."""
    return next(_card_spans(text), None) is not None


def redact(text: str) -> str:
    """`text` with every card number in it replaced, so that it can be shown or logged."""
    spans = list(_card_spans(text))
    for begin, end in reversed(spans):
        text = text[:begin] + REDACTED + text[end:]
    return text


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(bracket name, text) for every key and every string value; a key is yielded as its own
    text, with the name of its parent, so a card number used as a name is found too."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, child in value.items():
            yield path, key
            yield from _walk(child, f"{path}[{key}]" if path else str(key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _walk(child, f"{path}[{index}]")


def find_card_number(params: Mapping[str, Any]) -> str | None:
    """The bracket name of the first parameter whose name or value holds a card number (D-37),
    with any card number in the name itself removed, or None. The value is never returned, so
    it cannot be echoed."""
    for path, text in _walk(params, ""):
        if len(text) >= 13 and contains_card_number(text):
            return redact(path) or "(a parameter name)"
    return None
