"""The ISO 4217 currency codes the server accepts, lowercase as Stripe writes them."""

from __future__ import annotations

from typing import Final

__all__ = ["CURRENCIES", "MINIMUM_CHARGE"]

# Active ISO 4217 codes (funds and precious metals excluded). A well-formed code that is not
# here ("abc") is refused like a malformed one.
CURRENCIES: Final[frozenset[str]] = frozenset(
    """
    aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd btn bwp
    byn bzd cad cdf chf clp cny cop crc cup cve czk djf dkk dop dzd egp ern etb eur fjd fkp gbp
    gel ghs gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr iqd irr isk jmd jod jpy kes kgs khr
    kmf kpw krw kwd kyd kzt lak lbp lkr lrd lsl lyd mad mdl mga mkd mmk mnt mop mru mur mvr mwk
    mxn myr mzn nad ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar
    sbd scr sdg sek sgd shp sle sll sos srd ssp stn svc syp szl thb tjs tmt tnd top try ttd twd
    tzs uah ugx usd uyu uzs ves vnd vuv wst xaf xcd xof xpf yer zar zmw zwl
    """.split()  # noqa: SIM905 - a table of codes reads better than 160 quoted strings
)

# Stripe's minimum charge amounts, in the currency's smallest unit, for the currencies that differ
# from the usual 50 (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
MINIMUM_CHARGE: Final[dict[str, int]] = {
    "usd": 50, "aud": 50, "brl": 50, "cad": 50, "chf": 50, "eur": 50, "inr": 50, "jpy": 50, "nzd": 50,
    "sgd": 50, "gbp": 30, "dkk": 250, "hkd": 400, "mxn": 1000, "myr": 200, "nok": 300, "pln": 200,
    "sek": 300, "thb": 1000, "czk": 1500, "huf": 17500, "ron": 200, "aed": 200, "bgn": 100,
}  # fmt: skip
