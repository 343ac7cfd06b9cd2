"""Object and request identifiers: Stripe's prefixes followed by random alphanumerics."""

from __future__ import annotations

import secrets
import string

__all__ = ["new_id", "new_secret"]

_ALPHABET = (string.ascii_letters + string.digits).encode()
# One random byte -> one of 62 characters. The modulo bias (256 = 4*62 + 8) costs under 0.1 bit
# per character; a 32-character secret still carries more than 188 bits. One urandom call per id
# instead of one per character: id generation was the largest cost of a payment.
_TABLE = bytes(_ALPHABET[b % len(_ALPHABET)] for b in range(256))


def _random(length: int) -> str:
    return secrets.token_bytes(length).translate(_TABLE).decode()


def new_id(prefix: str, length: int = 24) -> str:
    """`prefix_` + `length` random alphanumerics, e.g. new_id("spt") -> "spt_Ab3…"."""
    return f"{prefix}_{_random(length)}"


def new_secret(prefix: str, length: int = 32) -> str:
    """A credential (API key, webhook secret, profile id); random per database, never a constant."""
    return f"{prefix}{_random(length)}"
