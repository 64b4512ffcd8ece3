from decimal import Decimal

import pytest

from tasks.creatives.money import PriceError, check_currency, format_price, parse_amount


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("1299", "EUR", "€1.299,00"),
        ("1299", "USD", "$1,299.00"),
        ("1299", "JPY", "¥1,299"),
        ("1299.5", "GBP", "£1,299.50"),
        ("0.5", "EUR", "€0,50"),
        ("1234567.891", "USD", "$1,234,567.89"),
        ("19.6", "JPY", "¥20"),  # no minor unit: rounded to whole yen
        ("1299", "SEK", "kr 1 299,00"),
        ("1299", "CHF", "CHF 1'299.00"),
    ],
)
def test_prices_are_written_the_way_the_currency_is(amount, currency, shown) -> None:
    assert format_price(parse_amount(amount), currency).replace("\xa0", " ") == shown


def test_a_locale_changes_the_separators_not_the_sign_first() -> None:
    assert format_price(Decimal("1299"), "EUR", "en_IE") == "€1,299.00"


@pytest.mark.parametrize("bad", ["", "abc", "-1", "NaN", "Infinity", "1,299"])
def test_bad_amounts_are_refused(bad) -> None:
    with pytest.raises(PriceError):
        parse_amount(bad)


def test_unknown_currency_and_locale_are_refused() -> None:
    with pytest.raises(PriceError, match="ISO 4217"):
        check_currency("EURO")
    with pytest.raises(PriceError, match="locale"):
        format_price(Decimal(1), "EUR", "xx_YY")
    assert check_currency(" eur ") == "EUR"
