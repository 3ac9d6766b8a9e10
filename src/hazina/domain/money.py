"""Money at the edges: minor units inside Hazina, decimal strings where a provider speaks them."""

from decimal import Decimal, InvalidOperation

# ISO 4217 minor-unit exponents that differ from the usual 2.
_EXPONENTS: dict[str, int] = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def to_minor(amount: str | int, currency: str) -> int:
    """`"1000.50"` TZS → 100050. Refuses fractions finer than the currency's minor unit."""
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {amount!r}") from exc
    scaled = value.scaleb(exponent(currency))
    if not value.is_finite() or scaled != scaled.to_integral_value():
        raise ValueError(f"not an amount in {currency}: {amount!r}")
    return int(scaled)


def to_major(minor: int, currency: str) -> str:
    """100050 TZS → `"1000.50"`; 500 JPY → `"500"`."""
    places = exponent(currency)
    return str(Decimal(minor).scaleb(-places).quantize(Decimal(1).scaleb(-places)))
