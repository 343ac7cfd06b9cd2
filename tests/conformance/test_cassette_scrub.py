"""Scrubbing recorded traffic: stable, idempotent, shaped placeholders, and deliveries re-signed."""

from __future__ import annotations

import base64

from conformance.cassettes.scrub import REARMED_CARD, Scrubber, is_placeholder, placeholder, rearm, resign
from conformance.receiver import sign, verify_signature
from conformance.scrub import find_card_numbers

KEY = "sk_test_51AbCdEfGhIjKlMnOp"
WHSEC = "whsec_AbCdEfGh12345678"
CARD = "4000056655665556"


def test_scrubber_text_same_secret_same_placeholder_and_idempotent() -> None:
    scrubber = Scrubber([KEY])
    once = scrubber.text(f"key {KEY} and again {KEY}")
    assert KEY not in once
    assert once.count(placeholder("secret", KEY)) == 2
    assert scrubber.text(once) == once


def test_scrubber_placeholders_keep_their_kind() -> None:
    assert placeholder("secret", KEY).startswith("sk_test_SCRUBBED")
    assert placeholder("secret", WHSEC).startswith("whsec_SCRUBBED")
    assert is_placeholder(placeholder("secret", WHSEC))
    assert Scrubber().text(f'"secret": "{WHSEC}"') == f'"secret": "{placeholder("secret", WHSEC)}"'


def test_scrubber_card_number_and_cvc_are_replaced() -> None:
    scrubbed = Scrubber().text(f'{{"number": "{CARD}", "cvc": "123"}}')
    assert CARD not in scrubbed
    assert '"cvc": "000"' in scrubbed
    assert not [f for f in find_card_numbers(scrubbed) if f.kind == "card number"]


def test_rearm_card_placeholder_reads_as_a_card_again() -> None:
    scrubbed = Scrubber().text(f"leaked {CARD}")
    known = {placeholder("card number", CARD): CARD}
    assert rearm(scrubbed, known) == f"leaked {CARD}"
    assert rearm(scrubbed, {}) == f"leaked {REARMED_CARD}"


def test_scrubber_basic_authorization_key_is_scrubbed_inside_base64() -> None:
    header = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    scrubbed = Scrubber().authorization(header)
    decoded = base64.b64decode(scrubbed.split(" ", 1)[1]).decode()
    assert decoded == f"{placeholder('secret', KEY)}:"
    assert Scrubber().authorization(f"Bearer {KEY}") == f"Bearer {placeholder('secret', KEY)}"
    assert Scrubber().authorization("Bearer sk_test_") == "Bearer sk_test_"  # a malformed key stays as sent


def test_resign_valid_signature_verifies_with_the_placeholder_secret() -> None:
    body = f'{{"id": "evt_1", "key": "{KEY}"}}'.encode()
    header = sign(body, WHSEC, 1_700_000_000)
    scrubber = Scrubber([KEY])
    scrubbed = scrubber.data(body)
    kept = resign(body, scrubbed, header, WHSEC, scrubber)
    assert kept is not None
    secret = placeholder("secret", WHSEC)
    assert verify_signature(scrubbed, kept, secret, now=1_700_000_000).valid
    assert not verify_signature(scrubbed.replace(b"evt_1", b"evt_2"), kept, secret, now=1_700_000_000).valid


def test_resign_invalid_signature_stays_invalid() -> None:
    body = b'{"id": "evt_1"}'
    forged = sign(body, "whsec_SomeOtherSecret99", 1_700_000_000)
    kept = resign(body, body, forged, WHSEC, Scrubber())
    assert kept == forged
    assert not verify_signature(body, kept, placeholder("secret", WHSEC), now=1_700_000_000).valid
