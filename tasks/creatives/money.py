"""Prices as an ad shows them: the currency's sign first, the digits grouped the way the
currency's home market writes them (`€1.299,00`, `$1,299.00`, `¥1,299`), through babel's CLDR
data, so minor units (none for yen) and separators come from one maintained source."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.core import UnknownLocaleError
from babel.numbers import format_currency, get_currency_symbol, is_currency

# Where each currency is mostly spent: its separators are the ones its shoppers read.
HOME_LOCALES = {
    "EUR": "de_DE",
    "USD": "en_US",
    "GBP": "en_GB",
    "JPY": "ja_JP",
    "CNY": "zh_CN",
    "CHF": "de_CH",
    "SEK": "sv_SE",
    "NOK": "nb_NO",
    "DKK": "da_DK",
    "PLN": "pl_PL",
    "CAD": "en_CA",
    "AUD": "en_AU",
    "INR": "en_IN",
    "KRW": "ko_KR",
    "BRL": "pt_BR",
}
# CLDR writes the yen and yuan signs full-width in CJK locales; the ad's fonts have both, but
# one sign for one currency reads better next to Latin digits.
_NARROW = str.maketrans({"￥": "¥", "＄": "$"})


class PriceError(ValueError):
    """A price or currency the manifest gave cannot be shown."""


def parse_amount(text: str | float | int | Decimal) -> Decimal:
    """A manifest's price as a Decimal: `1299`, `1299.5`, `"1299.00"`; never negative."""
    try:
        amount = Decimal(str(text).strip())
    except InvalidOperation:
        raise PriceError(f"price {text!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise PriceError(f"price {text!r} must be a finite, non-negative number")
    return amount


def check_currency(code: str) -> str:
    """The ISO 4217 code upper-cased, or PriceError."""
    upper = code.strip().upper()
    if not is_currency(upper):
        raise PriceError(f"currency {code!r} is not an ISO 4217 code")
    return upper


def format_price(amount: Decimal, currency: str, locale: str | None = None) -> str:
    """`amount` in `currency`, sign first, grouped for `locale` (default: the home market)."""
    currency = check_currency(currency)
    where = locale or HOME_LOCALES.get(currency, "en_US")
    try:
        digits = format_currency(
            amount, currency, format="#,##0.00", locale=where, currency_digits=True
        )
        symbol = get_currency_symbol(currency, where).translate(_NARROW)
    except UnknownLocaleError:
        raise PriceError(f"locale {locale!r} is unknown") from None
    gap = " " if symbol[-1].isalpha() else ""  # `CHF 1'299.00`, but `€1.299,00`
    return f"{symbol}{gap}{digits}"
