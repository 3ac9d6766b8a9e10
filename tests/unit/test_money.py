"""Amounts as people read and type them."""

import pytest

from hazina.domain.errors import BadRequest
from hazina.domain.money import format_money, parse_major_units, to_major, to_minor


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
