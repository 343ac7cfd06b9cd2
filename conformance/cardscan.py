"""Card data in what a target sends: full card numbers where one could be written, and CVCs.

A Luhn check alone is a coin toss with nine-to-one odds: one digit string in ten passes it, and
Stripe objects carry long numeric identifiers (a card's `network_transaction_id`, references,
fingerprints) that are no card number. So a run of digits counts here only when it stands where a
value, not an identifier, is written (a JSON field whose name is not an id's, or free text), and
when it has the shape of a card: a network's leading digits with that network's lengths, and a
valid Luhn digit. Scrubbing for cassettes and reports (conformance.scrub) stays blunter on
purpose: hiding a harmless id costs nothing there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from conformance.scrub import CVC_FIELD, DIGIT_RUN, find_card_numbers

__all__ = ["CardFinding", "card_like", "find_card_data"]

# Field names that hold identifiers, whatever their digits look like.
_ID_FIELDS = frozenset({"id", "fingerprint", "network_transaction_id", "reference", "idempotency_key", "url"})


def _range(first: int, last: int) -> tuple[str, ...]:
    return tuple(str(n) for n in range(first, last + 1))


# (leading digits, lengths) of the card networks; a number outside them is not a card's.
_NETWORKS: tuple[tuple[tuple[str, ...], frozenset[int]], ...] = (
    (("4",), frozenset({13, 16, 19})),  # Visa
    ((*_range(51, 55), *_range(2221, 2720)), frozenset({16})),  # Mastercard
    (("34", "37"), frozenset({15})),  # American Express
    (("6011", "65", *_range(644, 649)), frozenset(range(16, 20))),  # Discover
    (_range(3528, 3589), frozenset(range(16, 20))),  # JCB
    (("36", "38", "39", *_range(300, 305)), frozenset(range(14, 20))),  # Diners
    (("62", "81"), frozenset(range(16, 20))),  # UnionPay
    (_range(2200, 2204), frozenset(range(16, 20))),  # Mir
)


@dataclass(frozen=True)
class CardFinding:
    kind: str  # "card number" or "cvc"
    hint: str  # what may be shown: never the value itself
    value: str  # the text found, to tell an echo of the request from a leak


def card_like(digits: str) -> bool:
    """Whether a digit string has the leading digits and length of a card network."""
    return any(digits.startswith(prefixes) and len(digits) in lengths for prefixes, lengths in _NETWORKS)


def _is_id_field(name: str) -> bool:
    return name in _ID_FIELDS or name.endswith(("_id", "_key"))


def _values(node: Any, field: str = "") -> Iterator[str]:
    """Every scalar of a JSON document written where a value, not an identifier, belongs."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _values(value, str(key))
    elif isinstance(node, list):
        for value in node:
            yield from _values(value, field)
    elif isinstance(node, str | int) and not isinstance(node, bool) and not _is_id_field(field):
        yield str(node)


def _numbers_in(text: str) -> Iterator[CardFinding]:
    for finding in find_card_numbers(text):
        if finding.kind != "card number":
            continue
        found = text[finding.start : finding.end]
        if card_like(re.sub(r"[ -]", "", found)):
            yield CardFinding("card number", finding.hint, found)


def find_card_data(text: str) -> list[CardFinding]:
    """Card numbers (in values of a JSON body, or anywhere in other text) and `cvc` values."""
    if not DIGIT_RUN.search(text) and "\\" not in text and "cvc" not in text.lower():
        return []  # most answers: no digit run, and no JSON escape that could hide one (\n4242…)
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    places = list(_values(document)) if isinstance(document, dict | list) else [text]
    found = [finding for place in places for finding in _numbers_in(place)]
    found += [CardFinding("cvc", "cvc value", m.group(2)) for m in CVC_FIELD.finditer(text)]
    return found
