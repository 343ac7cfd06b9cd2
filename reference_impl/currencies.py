"""The ISO 4217 currency codes the server accepts, lowercase as Stripe writes them."""

from __future__ import annotations

from typing import Final

__all__ = ["CURRENCIES"]

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
