"""Finding and removing secrets and card data from anything the suite writes down.

Evidence in reports, recordings in cassettes and lines on the terminal all pass through here.
Replacements are stable placeholders (the same secret always becomes the same placeholder), so
recorded requests still match on replay.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["Finding", "find_card_numbers", "find_secrets", "luhn_valid", "scrub_text"]

# Stripe secrets: API keys (secret and restricted, test and live) and webhook signing secrets.
SECRET = re.compile(r"\b(?:sk|rk)_(?:test|live)_[A-Za-z0-9]{8,}|\bwhsec_[A-Za-z0-9+/=]{8,}")
# A run of 13 to 19 digits, optionally grouped by single spaces or dashes as people write them,
# standing on its own: digits inside a longer alphanumeric or dashed token (an id, a UUID's last
# groups) are not a card number someone wrote down.
DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z-])(?:[0-9][ -]?){12,18}[0-9](?![0-9A-Za-z-])")
# A JSON or form field that carries a CVC, whatever its value.
CVC_FIELD = re.compile(r"""(["']?\bcvc["']?\s*[:=]\s*["']?)([0-9]{3,4})\b""", re.IGNORECASE)


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


@dataclass(frozen=True)
class Finding:
    kind: str  # "secret", "card number", "cvc"
    start: int
    end: int
    hint: str  # what may be shown: never the value itself


def _card_numbers(text: str) -> Iterator[tuple[int, int]]:
    for match in DIGIT_RUN.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            yield match.start(), match.end()


def find_card_numbers(text: str) -> list[Finding]:
    """Luhn-valid 13–19 digit runs, and values of `cvc` fields."""
    found = [Finding("card number", s, e, f"…{re.sub(r'[ -]', '', text[s:e])[-4:]}") for s, e in _card_numbers(text)]
    found += [Finding("cvc", m.start(2), m.end(2), "cvc value") for m in CVC_FIELD.finditer(text)]
    return found


def find_secrets(text: str, known: Iterable[str] = ()) -> list[Finding]:
    """Stripe-shaped secrets, plus any exact value in `known` (keys of the target)."""
    found = [Finding("secret", m.start(), m.end(), m.group()[:8] + "…") for m in SECRET.finditer(text)]
    for value in known:
        if len(value) >= 8:
            start = text.find(value)
            while start != -1:
                found.append(Finding("secret", start, start + len(value), value[:8] + "…"))
                start = text.find(value, start + 1)
    return found


def placeholder(kind: str, value: str) -> str:
    """A stable stand-in: same value, same placeholder; never reversible."""
    digest = hashlib.sha256(value.encode()).hexdigest()[:10]
    if kind == "secret":
        prefix = value.split("_", 2)
        shape = "_".join(prefix[:2]) if len(prefix) == 3 else "secret"
        return f"{shape}_SCRUBBED{digest}"
    if kind == "card number":
        return f"CARD_SCRUBBED{digest}"
    return "000"


def scrub_text(text: str, known: Iterable[str] = ()) -> str:
    """Replace every secret, card number and CVC value in `text`.

    Webhook signatures are left alone: an HMAC reveals nothing of its key, and cassettes re-sign
    deliveries with the placeholder secret so that replays can still verify them.
    """
    known = [k for k in known if k]
    for value in sorted(known, key=len, reverse=True):
        if len(value) >= 8:
            text = text.replace(value, placeholder("secret", value))
    text = SECRET.sub(lambda m: placeholder("secret", m.group()), text)
    pieces, last = [], 0
    for start, end in _card_numbers(text):
        pieces += [text[last:start], placeholder("card number", text[start:end])]
        last = end
    text = "".join([*pieces, text[last:]])
    return CVC_FIELD.sub(lambda m: m.group(1) + "000", text)
