"""Each provider's units, from Hazina's minor units (ISO 4217) and back, for every currency."""

import pytest

from hazina.domain.currencies import ISO_4217, UnknownCurrency
from hazina.domain.providers import ProviderFailure
from hazina.providers.clickpesa import _amount as clickpesa_amount
from hazina.providers.clickpesa import _major_amount as clickpesa_major
from hazina.providers.stripe_amounts import from_stripe_amount, to_stripe_amount

# --- Stripe (docs.stripe.com/currencies) --------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "minor", "units"),
    [
        ("USD", 2500, 2500),  # two decimals at both ends
        ("INR", 50000, 50000),
        ("EUR", 1, 1),
        ("JPY", 500, 500),  # zero-decimal at both ends
        ("KRW", 10000, 10000),
        ("UGX", 5000, 5000),
        ("XOF", 5000, 5000),
        ("ISK", 5, 500),  # zero-decimal in ISO, two decimals (always 00) at Stripe
        ("MGA", 10000, 100),  # two decimals in ISO, zero-decimal at Stripe
        ("HUF", 12345, 12345),  # zero-decimal at Stripe for payouts only: charges keep two
        ("TWD", 12345, 12345),
        ("KWD", 1230, 1230),  # three decimals, the last one 0
        ("BHD", 10, 10),
        ("JOD", 5120, 5120),
        ("OMR", 100000, 100000),
        ("TND", 990, 990),
        ("usd", 2500, 2500),  # as Stripe writes codes
    ],
)
def test_stripe_units(currency: str, minor: int, units: int) -> None:
    assert to_stripe_amount(minor, currency) == units
    assert from_stripe_amount(units, currency) == minor


@pytest.mark.parametrize(
    ("currency", "minor", "description"),
    [
        ("KWD", 5124, "Stripe cannot take 5.124 KWD: it takes KWD amounts in steps of 0.010."),
        ("BHD", 1, "Stripe cannot take 0.001 BHD: it takes BHD amounts in steps of 0.010."),
        ("MGA", 10050, "Stripe cannot take 100.50 MGA: it takes MGA amounts in steps of 1.00."),
        ("IQD", 1001, "Stripe cannot take 1.001 IQD: it takes IQD amounts in steps of 0.010."),
        ("CLF", 12345, "Stripe cannot take 1.2345 CLF: it takes CLF amounts in steps of 0.0100."),
    ],
)
def test_what_stripe_cannot_represent_is_refused_never_rounded(
    currency: str, minor: int, description: str
) -> None:
    with pytest.raises(ProviderFailure) as refused:
        to_stripe_amount(minor, currency)
    assert refused.value.description == description
    assert not refused.value.retryable  # asking again cannot help


def test_a_stripe_figure_finer_than_the_minor_unit_is_a_malformed_report() -> None:
    with pytest.raises(ValueError, match="finer than its minor unit"):
        from_stripe_amount(550, "isk")


@pytest.mark.parametrize("currency", sorted(ISO_4217))
def test_every_currency_round_trips_through_stripes_units(currency: str) -> None:
    ten_major_units = 10 * 10 ** ISO_4217[currency]
    assert from_stripe_amount(to_stripe_amount(ten_major_units, currency), currency) == (
        ten_major_units
    )


def test_an_unknown_currency_has_no_stripe_units() -> None:
    with pytest.raises(UnknownCurrency):
        to_stripe_amount(100, "XXY")
    with pytest.raises(UnknownCurrency):
        from_stripe_amount(100, "xxy")


# --- ClickPesa: decimal strings (providers.md section 3) ----------------------------------------


@pytest.mark.parametrize(
    ("currency", "minor", "sent", "reported"),
    [
        ("UGX", 5000, "5000", "5000"),  # zero decimals
        ("JPY", 500, "500", "500.00"),  # a zero-decimal amount written with two decimals
        ("TZS", 100000, "1000", "1000.00"),  # two decimals, a whole amount
        ("TZS", 100050, "1000.50", "1000.50"),
        ("USD", 5, "0.05", "0.05"),
        ("KWD", 1234, "1.234", "1.234"),  # three decimals
        ("BHD", 1000, "1", "1.000"),
    ],
)
def test_clickpesa_amounts(currency: str, minor: int, sent: str, reported: str) -> None:
    assert clickpesa_major(minor, currency) == sent
    assert clickpesa_amount(sent, currency) == minor
    assert clickpesa_amount(reported, currency) == minor


def test_clickpesa_refuses_a_fraction_finer_than_the_currency() -> None:
    with pytest.raises(ValueError, match="not an amount in JPY"):
        clickpesa_amount("500.5", "JPY")
    with pytest.raises(UnknownCurrency):
        clickpesa_amount("1", "XXY")
