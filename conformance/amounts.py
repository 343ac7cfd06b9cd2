"""What the suite may pay: never below a currency's minimum charge, in its minor units.

Stripe refuses a charge below the minimum of its currency with 400 `amount_too_small`
(https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts). A test that pays less
would be refused for that reason instead of the one it means to check, and a payment it expects
to succeed would fail against Stripe. Every amount the suite pays, and every token cap it draws
for payments, is at least `minimum_charge` of every currency involved.
"""

from __future__ import annotations

__all__ = ["MINIMUM_CHARGE", "minimum_charge", "payable"]

# Minor units (cents, pence; yen have none), from Stripe's table of minimum charge amounts.
MINIMUM_CHARGE: dict[str, int] = {
    "usd": 50,
    "aed": 200,
    "aud": 50,
    "bgn": 100,
    "brl": 50,
    "cad": 50,
    "chf": 50,
    "czk": 1500,
    "dkk": 250,
    "eur": 50,
    "gbp": 30,
    "hkd": 400,
    "huf": 17500,
    "inr": 50,
    "jpy": 50,
    "mxn": 1000,
    "myr": 200,
    "nok": 300,
    "nzd": 50,
    "pln": 200,
    "ron": 200,
    "sek": 300,
    "sgd": 50,
    "thb": 1000,
}
# For a currency the table does not list: the largest minimum of a common currency, so that an
# amount is never too small by mistake.
_UNLISTED = 50


def minimum_charge(*currencies: str) -> int:
    """The smallest amount payable in every one of `currencies` (case-insensitive)."""
    return max((MINIMUM_CHARGE.get(c.lower(), _UNLISTED) for c in currencies), default=_UNLISTED)


def payable(amount: int, *currencies: str) -> bool:
    """Whether Stripe would take `amount` as a charge in each of `currencies`."""
    return amount >= minimum_charge(*currencies)
