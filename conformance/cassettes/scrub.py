"""What a cassette may hold: every secret and card number replaced before anything is written.

Theory of operation. `conformance.scrub` finds secrets and card data; this module applies it to
recorded traffic, with three properties the recordings need:

- Stable and idempotent. The same value always becomes the same placeholder, and a placeholder
  is left as it is, so a replay (whose target holds the placeholders as its keys) scrubs its own
  requests into exactly what was recorded, and request matching still works.
- Shaped. A placeholder keeps the kind of what it replaced (`sk_test_SCRUBBED…`,
  `whsec_SCRUBBED…`, `CARD_SCRUBBED…`), so what the suite checks about a value's kind (a webhook
  secret starts with `whsec_`) still holds on replay.
- Evidence-preserving. A placeholder for a card number is turned back into a card-like number
  when a recorded response is replayed (`rearm`), so a server that leaked one still fails the
  no-card-data checks offline; and a webhook delivery whose live signature verified is re-signed
  with the placeholder secret (`resign`), so a replay can still verify it, and a delivery body
  edited afterwards no longer verifies.

Authorization headers are rewritten whole: the key of a Bearer header, and the username of a
Basic one (decoded, scrubbed, encoded again).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping

from conformance.receiver import sign, verify_signature
from conformance.scrub import CVC_FIELD, SECRET, find_card_numbers

__all__ = [
    "CARD_PLACEHOLDER",
    "REARMED_CARD",
    "SECRET_PLACEHOLDER",
    "Scrubber",
    "is_placeholder",
    "placeholder",
    "rearm",
    "resign",
]

SECRET_PLACEHOLDER = re.compile(r"\b(?:(?:sk|rk)_(?:test|live)|whsec|secret)_SCRUBBED[0-9a-f]{10}\b")
CARD_PLACEHOLDER = re.compile(r"\bCARD_SCRUBBED[0-9a-f]{10}\b")
# What a card placeholder reads as on replay when the replay itself never sent the number: a
# Luhn-valid test card, so a check that looks for card numbers finds one where the server sent one.
REARMED_CARD = "4242424242424242"
_KEY_PREFIX = re.compile(r"^((?:sk|rk)_(?:test|live)|whsec)_")
_CVC_PLACEHOLDER = "000"


def is_placeholder(value: str) -> bool:
    return bool(SECRET_PLACEHOLDER.fullmatch(value) or CARD_PLACEHOLDER.fullmatch(value))


def placeholder(kind: str, value: str) -> str:
    """The stand-in for `value`: same value, same placeholder; its kind shows, its value never."""
    if is_placeholder(value):
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:10]
    if kind == "card number":
        return f"CARD_SCRUBBED{digest}"
    prefix = _KEY_PREFIX.match(value)
    return f"{prefix.group(1) if prefix else 'secret'}_SCRUBBED{digest}"


class Scrubber:
    """Scrubs text, headers and Authorization values, knowing the run's own secrets."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        self.known: list[str] = []
        self.learn(known)

    def learn(self, secrets: Iterable[str]) -> None:
        """Add exact values to hide (target keys, webhook secrets), longest first."""
        fresh = {s for s in secrets if s and not is_placeholder(s)} - set(self.known)
        if fresh:
            self.known = sorted({*self.known, *fresh}, key=len, reverse=True)

    def text(self, text: str) -> str:
        for value in self.known:
            if value in text:
                text = text.replace(value, placeholder("secret", value))
        text = SECRET.sub(lambda m: placeholder("secret", m.group()), text)
        cards = [f for f in find_card_numbers(text) if f.kind == "card number"]
        for finding in sorted(cards, key=lambda f: f.start, reverse=True):
            text = (
                text[: finding.start]
                + placeholder("card number", text[finding.start : finding.end])
                + text[finding.end :]
            )
        return CVC_FIELD.sub(lambda m: m.group(1) + _CVC_PLACEHOLDER, text)

    def data(self, body: bytes) -> bytes:
        """Bytes scrubbed as text; bytes that are not UTF-8 pass through latin-1 unchanged."""
        try:
            return self.text(body.decode("utf-8")).encode("utf-8")
        except UnicodeDecodeError:
            return self.text(body.decode("latin-1")).encode("latin-1")

    def credential(self, value: str) -> str:
        """A key as sent: a placeholder if it is (or looks like) a secret, else unchanged."""
        prefix = _KEY_PREFIX.match(value)
        if value in self.known or SECRET.fullmatch(value) or (prefix and len(value) > prefix.end()):
            return placeholder("secret", value)
        return self.text(value)

    def authorization(self, value: str) -> str:
        scheme, _, credential = value.partition(" ")
        if scheme.lower() == "bearer" and credential:
            return f"{scheme} {self.credential(credential)}"
        if scheme.lower() == "basic" and credential:
            try:
                decoded = base64.b64decode(credential, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return self.text(value)
            user, colon, password = decoded.partition(":")
            scrubbed = f"{self.credential(user)}{colon}{self.credential(password) if password else ''}"
            return f"{scheme} {base64.b64encode(scrubbed.encode()).decode()}"
        return self.text(value)

    def headers(self, headers: Mapping[str, list[str]]) -> dict[str, list[str]]:
        return {
            name: [self.authorization(v) if name.lower() == "authorization" else self.text(v) for v in values]
            for name, values in headers.items()
        }


def rearm(text: str, known_cards: Mapping[str, str]) -> str:
    """A recorded body as the server sent it, as far as checks can tell: each card placeholder
    becomes the number it stands for when the replay knows it, else a Luhn-valid test card."""
    if "CARD_SCRUBBED" not in text:
        return text
    return CARD_PLACEHOLDER.sub(lambda m: known_cards.get(m.group(), REARMED_CARD), text)


def resign(body: bytes, scrubbed_body: bytes, header: str | None, secret: str | None, scrubber: Scrubber) -> str | None:
    """The Stripe-Signature header to keep with a scrubbed delivery.

    If the live header carried a valid HMAC of the live body under the endpoint's secret, sign
    the scrubbed body with the secret's placeholder and the same `t`, so a replay verifies it as
    the live run did (a stale timestamp stays stale). Otherwise keep the header as it came: a
    signature that did not verify must not verify on replay either.
    """
    if header is None:
        return None
    if secret is not None:
        verdict = verify_signature(body, header, secret, tolerance=0)
        if verdict.valid and verdict.timestamp is not None:
            return sign(scrubbed_body, placeholder("secret", secret), verdict.timestamp)
    return scrubber.text(header)
