"""Stripe's units for each currency, and Hazina's minor units (ISO 4217) to and from them.

Kept apart from the adapter because its calls and its event reader both convert.
"""

from typing import Any

from hazina.domain.money import exponent, to_major
from hazina.domain.providers import ProviderFailure

# Stripe's units differ from ISO 4217's for some currencies (docs.stripe.com/currencies):
# these it counts in whole units, MGA included (ISO gives it two decimals)…
_STRIPE_ZERO_DECIMAL = frozenset({
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
})  # fmt: skip
# …these in thousandths, with a last digit of 0 (its partners settle to the hundredth)…
_STRIPE_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
# …and ISK, zero-decimal in ISO, keeps two decimals in Stripe's API that must always be 00.
# Every other currency (HUF and TWD too, which are zero-decimal only for payouts) has two.
_STRIPE_STEPS = {"ISK": 100} | dict.fromkeys(_STRIPE_THREE_DECIMAL, 10)


def _stripe_exponent(currency: str) -> int:
    code = currency.upper()
    if code in _STRIPE_ZERO_DECIMAL:
        return 0
    return 3 if code in _STRIPE_THREE_DECIMAL else 2


def to_stripe_amount(minor: int, currency: str) -> int:
    """Hazina's minor units (ISO 4217) → the integer Stripe's API takes: 500 JPY → 500,
    5 ISK → 500, 10000 MGA (100.00) → 100, 1230 KWD → 1230.

    An amount Stripe cannot represent (1.234 KWD, 100.50 MGA) is refused, never rounded: it
    would charge or refund a different sum than the one asked for.
    """
    shift = _stripe_exponent(currency) - exponent(currency)
    factor: int = 10 ** abs(shift)
    units, rest = (minor * factor, 0) if shift >= 0 else divmod(minor, factor)
    step = _STRIPE_STEPS.get(currency.upper(), 1)
    if rest or units % step:
        raise ProviderFailure(
            f"Stripe cannot take {to_major(minor, currency)} {currency.upper()}: "
            f"it takes {currency.upper()} amounts in steps of "
            f"{to_major(_hazina_step(currency), currency)}."
        )
    return units


def from_stripe_amount(units: int, currency: str) -> int:
    """Stripe's integer for `currency` → Hazina's minor units; the inverse of to_stripe_amount.
    A ValueError (a malformed report) when Stripe's figure is finer than ISO's minor unit."""
    shift = _stripe_exponent(currency) - exponent(currency)
    factor: int = 10 ** abs(shift)
    if shift <= 0:
        return units * factor
    minor, rest = divmod(units, factor)
    if rest:
        raise ValueError(f"Stripe reported {units} {currency}, finer than its minor unit")
    return minor


def _hazina_step(currency: str) -> int:
    """The smallest amount Stripe takes in `currency`, in Hazina's minor units."""
    shift = _stripe_exponent(currency) - exponent(currency)
    factor: int = 10 ** abs(shift)
    step = _STRIPE_STEPS.get(currency.upper(), 1)
    return max(step // factor, 1) if shift >= 0 else step * factor


def reported_amount(units: Any, currency: Any) -> int | None:
    """An amount in a Stripe object, in Hazina's minor units; None when it names no amount or
    no currency to read it in."""
    if not isinstance(units, int) or isinstance(units, bool) or not isinstance(currency, str):
        return None
    return from_stripe_amount(units, currency)
