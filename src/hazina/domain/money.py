"""Money at the edges: minor units inside Hazina; decimal strings where a provider or a person
speaks them, and the currency's symbol where people read them. No float touches an amount.

How many decimals a currency has comes from `hazina.domain.currencies` (ISO 4217) alone: every
function here raises UnknownCurrency (a ValueError) for a code that is not in it."""

from decimal import Decimal, InvalidOperation

from hazina.domain.currencies import UnknownCurrency, exponent, is_currency
from hazina.domain.errors import BadRequest

__all__ = [
    "UnknownCurrency",
    "exponent",
    "format_money",
    "is_currency",
    "parse_major_units",
    "to_major",
    "to_minor",
]


_SYMBOLS = {"INR": "₹", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "NGN": "₦", "ZAR": "R",
            "KES": "KSh ", "TZS": "TSh ", "UGX": "USh ", "ZWG": "ZiG "}  # fmt: skip


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


def _group_indian(digits: str) -> str:
    """12345678 → 1,23,45,678: the last three digits, then pairs (lakh and crore)."""
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    pairs: list[str] = []
    while len(head) > 2:
        head, pair = head[:-2], head[-2:]
        pairs.insert(0, pair)
    return ",".join([head, *pairs, tail])


def _group_thousands(digits: str) -> str:
    return f"{int(digits):,}"


def format_money(minor: int, currency: str, *, drop_zero_fraction: bool = False) -> str:
    """`format_money(50000, "INR")` → `₹500.00`; INR is grouped the Indian way (`₹5,00,000`).

    A currency without a known symbol is written with its code (`CHF 12.50`). With
    `drop_zero_fraction`, a whole amount loses its `.00` (the dashboard's totals).
    """
    places = exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**places)
    grouped = (_group_indian if currency == "INR" else _group_thousands)(str(whole))
    text = grouped
    if places and not (drop_zero_fraction and fraction == 0):
        text += "." + str(fraction).zfill(places)
    return f"{sign}{_SYMBOLS.get(currency, currency + ' ')}{text}"


def parse_major_units(text: str, currency: str) -> int:
    """A typed amount: `"500.5"` INR → 50050 paise; refuses more decimals than the currency has."""
    places = exponent(currency)
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise BadRequest("amount must be a number, such as 500.00") from None
    if not value.is_finite() or value <= 0:
        raise BadRequest("amount must be a positive number")
    minor = value.scaleb(places)
    if minor != minor.to_integral_value():
        raise BadRequest(f"amount must have at most {places} decimals for {currency}")
    return int(minor)
