"""Amounts as people read and type them."""

import pytest

from hazina.domain.currencies import ISO_4217
from hazina.domain.errors import BadRequest
from hazina.domain.money import (
    UnknownCurrency,
    exponent,
    format_money,
    is_currency,
    parse_major_units,
    to_major,
    to_minor,
)


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (50000, "INR", "₹500.00"),
        (50_000_000, "INR", "₹5,00,000.00"),
        (1_234_567_890, "INR", "₹1,23,45,678.90"),
        (5, "INR", "₹0.05"),
        (123456, "USD", "$1,234.56"),
        (1000, "JPY", "¥1,000"),
        (1234, "KWD", "KWD 1.234"),
        (250000, "KES", "KSh 2,500.00"),
        (1250, "CHF", "CHF 12.50"),
        (-50000, "INR", "-₹500.00"),
    ],
)
def test_amounts_are_written_with_the_currencys_symbol_and_grouping(
    minor: int, currency: str, text: str
) -> None:
    assert format_money(minor, currency) == text


def test_totals_drop_a_zero_fraction() -> None:
    assert format_money(50_000_000, "INR", drop_zero_fraction=True) == "₹5,00,000"
    assert format_money(50_000_050, "INR", drop_zero_fraction=True) == "₹5,00,000.50"
    assert format_money(0, "INR", drop_zero_fraction=True) == "₹0"


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [("500", "INR", 50000), ("100.5", "INR", 10050), ("1,234.56", "INR", 123456), ("7", "JPY", 7)],
)
def test_typed_amounts_become_minor_units(text: str, currency: str, minor: int) -> None:
    assert parse_major_units(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "description"),
    [
        ("abc", "INR", "amount must be a number, such as 500.00"),
        ("", "INR", "amount must be a number, such as 500.00"),
        ("0", "INR", "amount must be a positive number"),
        ("-1", "INR", "amount must be a positive number"),
        ("NaN", "INR", "amount must be a positive number"),
        ("1.001", "INR", "amount must have at most 2 decimals for INR"),
        ("1.5", "JPY", "amount must have at most 0 decimals for JPY"),
    ],
)
def test_bad_amounts_are_refused(text: str, currency: str, description: str) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_major_units(text, currency)
    assert refused.value.description == description


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("1000", "TZS", 100000),
        ("10000.00", "TZS", 1000000),
        (1000, "TZS", 100000),
        ("20.5", "USD", 2050),
        ("500", "JPY", 500),
        ("1.234", "KWD", 1234),
    ],
)
def test_to_minor(amount, currency, minor):
    assert to_minor(amount, currency) == minor


@pytest.mark.parametrize("amount", ["1.001", "abc", "", "NaN", "Infinity"])
def test_to_minor_refuses_what_is_not_an_amount(amount):
    with pytest.raises(ValueError, match="amount"):
        to_minor(amount, "USD")


@pytest.mark.parametrize(
    ("minor", "currency", "major"),
    [(100050, "TZS", "1000.50"), (5, "USD", "0.05"), (500, "JPY", "500"), (1234, "KWD", "1.234")],
)
def test_to_major_round_trips(minor, currency, major):
    assert to_major(minor, currency) == major
    assert to_minor(major, currency) == minor


# --- The ISO 4217 table -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "places"),
    [
        ("USD", 2), ("EUR", 2), ("INR", 2), ("TZS", 2), ("KES", 2), ("ZMW", 2), ("ZWG", 2),
        ("XCG", 2), ("SLE", 2), ("VED", 2), ("MGA", 2), ("HUF", 2), ("TWD", 2),
        ("JPY", 0), ("KRW", 0), ("UGX", 0), ("ISK", 0), ("XOF", 0), ("XAF", 0), ("UYI", 0),
        ("BHD", 3), ("IQD", 3), ("JOD", 3), ("KWD", 3), ("LYD", 3), ("OMR", 3), ("TND", 3),
        ("CLF", 4), ("UYW", 4),
    ],
)  # fmt: skip
def test_each_currency_has_its_iso_4217_exponent(currency: str, places: int) -> None:
    assert exponent(currency) == places
    assert exponent(currency.lower()) == places  # as Stripe writes codes


def test_the_table_is_the_active_list_and_nothing_else() -> None:
    assert len(ISO_4217) == 165
    assert all(len(code) == 3 and code.isascii() and code.isupper() for code in ISO_4217)
    assert set(ISO_4217.values()) == {0, 2, 3, 4}
    # Withdrawn codes, and those without a minor unit (metals, test and "no currency").
    for code in ("ZWL", "HRK", "SLL", "ANG", "BGN", "VEF", "MRO", "XAU", "XDR", "XTS", "XXX"):
        assert not is_currency(code)
    with pytest.raises(TypeError):
        ISO_4217["ABC"] = 2  # type: ignore[index]


@pytest.mark.parametrize("code", ["XXY", "ABC", "usd", "US", "", "USDX", "ZWL"])
def test_only_active_upper_case_codes_are_currencies(code: str) -> None:
    assert not is_currency(code)


@pytest.mark.parametrize("code", ["XXY", "ZWL", "", "US"])
def test_an_unknown_code_has_no_exponent(code: str) -> None:
    """No default of 2: an amount in an unknown currency cannot be read, written or shown."""
    with pytest.raises(UnknownCurrency, match="not an active ISO 4217 currency code"):
        exponent(code)
    for use in (to_major, format_money):
        with pytest.raises(UnknownCurrency):
            use(100, code)
    # UnknownCurrency is a ValueError, so parsers refuse it as any malformed input.
    with pytest.raises(ValueError, match="ISO 4217"):
        to_minor("1", code)


@pytest.mark.parametrize(
    ("minor", "currency", "major", "text"),
    [
        (500, "JPY", "500", "¥500"),
        (1_000_000, "UGX", "1000000", "USh 1,000,000"),
        (5, "ISK", "5", "ISK 5"),
        (100050, "TZS", "1000.50", "TSh 1,000.50"),
        (123456, "ZWG", "1234.56", "ZiG 1,234.56"),
        (250075, "ZMW", "2500.75", "ZMW 2,500.75"),
        (1230, "BHD", "1.230", "BHD 1.230"),
        (1_234_567, "KWD", "1234.567", "KWD 1,234.567"),
        (12345, "CLF", "1.2345", "CLF 1.2345"),
        (1, "UYW", "0.0001", "UYW 0.0001"),
    ],
)
def test_zero_two_three_and_four_decimal_currencies(
    minor: int, currency: str, major: str, text: str
) -> None:
    assert to_major(minor, currency) == major
    assert to_minor(major, currency) == minor
    assert format_money(minor, currency) == text


def test_typed_amounts_follow_the_currencys_decimals() -> None:
    assert parse_major_units("1.234", "KWD") == 1234
    assert parse_major_units("1.2345", "CLF") == 12345
    with pytest.raises(BadRequest, match="at most 3 decimals for KWD"):
        parse_major_units("1.2345", "KWD")
