"""SPT-SEC-008's scan finds card numbers and CVCs where they could be written, and ignores ids."""

from __future__ import annotations

import json

import pytest

from conformance.cardscan import card_like, find_card_data
from conformance.checks import CheckContext, no_card_data
from conformance.client import Exchange
from conformance.scrub import luhn_valid

# Luhn-valid and with the leading digits and length of a Visa card: a card number by any measure.
VISA = "4242424242424242"
# Luhn-valid 15 digits in the shape of the network transaction ids Stripe puts on card charges.
NETWORK_TRANSACTION_ID = "585103256771002"


def test_fixtures_are_what_they_claim() -> None:
    assert luhn_valid(VISA)
    assert luhn_valid(NETWORK_TRANSACTION_ID)
    assert card_like(VISA)
    assert not card_like(NETWORK_TRANSACTION_ID)  # a 15-digit number starting 5 is no network's card


@pytest.mark.parametrize(
    ("digits", "card"),
    [
        ("4242424242424242", True),
        ("4000056655665556", True),
        ("5555555555554444", True),
        ("2223003122003222", True),
        ("378282246310005", True),
        ("6011111111111117", True),
        ("3566002020360505", True),
        ("36227206271667", True),
        ("6200000000000005", True),
        ("424242424242424", False),  # Visa numbers are 13, 16 or 19 digits
        ("5555555555554", False),
        ("1234567812345670", False),  # no network starts with 1
        ("9999999999999995", False),
    ],
)
def test_card_like_by_network_prefix_and_length(digits: str, card: bool) -> None:
    assert card_like(digits) is card


def _body(**card: object) -> str:
    return json.dumps({"object": "charge", "payment_method_details": {"card": card, "type": "card"}})


@pytest.mark.parametrize(
    "text",
    [
        _body(number=VISA),
        _body(description=f"card {VISA[:4]} {VISA[4:8]} {VISA[8:12]} {VISA[12:]}"),
        json.dumps({"metadata": {"note": f"paid with {VISA}"}}),
        json.dumps({"amounts": [int(VISA)]}),
        f"<html>card {VISA}</html>",
        # Behind JSON escapes the raw text shows no digit run; the decoded value does.
        json.dumps({"note": f"card:\n{VISA}"}),
        '{"note": "card ' + "".join(f"\\u{ord(c):04x}" for c in VISA) + '"}',  # \u0034\u0032…
    ],
)
def test_find_card_data_a_card_number_written_as_a_value_is_found(text: str) -> None:
    found = find_card_data(text)
    assert [f.kind for f in found] == ["card number"]
    assert found[0].hint == "…4242"


@pytest.mark.parametrize(
    "text",
    [
        _body(network_transaction_id=NETWORK_TRANSACTION_ID, last4="4242"),
        _body(network_transaction_id=VISA),  # an id field is no place for a card number to leak
        json.dumps({"id": VISA, "fingerprint": VISA, "charge_id": VISA, "idempotency_key": VISA}),
        json.dumps({"reference": "585103256771002", "created": 1_800_000_000, "amount": 4_999_999_999}),
        json.dumps({"request": {"id": "req_1", "idempotency_key": "spt-4242424242424242"}}),
    ],
)
def test_find_card_data_ids_and_other_numbers_are_not_card_numbers(text: str) -> None:
    assert find_card_data(text) == []


def test_find_card_data_cvc_fields_are_found_anywhere() -> None:
    assert [f.kind for f in find_card_data(json.dumps({"card": {"cvc": "123"}}))] == ["cvc"]
    assert find_card_data(json.dumps({"card": {"checks": {"cvc_check": "pass"}}})) == []


def _exchange(response: str, request: str = "") -> Exchange:
    return Exchange(
        "seller", "GET", "http://target.test/v1/charges/ch_1", {}, request, 200,
        {"Content-Type": "application/json"}, response, 1.0,
    )  # fmt: skip


def test_check_reports_a_card_number_and_says_when_it_is_an_echo() -> None:
    leak = list(no_card_data(_exchange(_body(number=VISA)), CheckContext()))
    echo = list(no_card_data(_exchange(_body(number=VISA), request=f"metadata[note]={VISA}"), CheckContext()))
    assert [v.requirement for v in leak] == ["SPT-SEC-008"]
    assert "echo" not in leak[0].received
    assert "an echo of a value the request carried" in echo[0].received


def test_check_passes_a_charge_with_a_network_transaction_id() -> None:
    charge = _body(network_transaction_id=NETWORK_TRANSACTION_ID, last4="4242", brand="visa")
    assert list(no_card_data(_exchange(charge), CheckContext())) == []
