"""Decimal strings at the provider edge, minor units inside (domain.money)."""

import pytest

from hazina.domain.money import to_major, to_minor


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
