"""Validation of the sandbox instruments, UPI addresses and cards (contract section 1.6)."""

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from hazina.domain.errors import ExpiredCard, InvalidCard, InvalidVpa

_VPA = re.compile(r"^[a-zA-Z0-9._-]+@[a-zA-Z0-9]+$")
_SEPARATORS = re.compile(r"[ -]")


def mask_phone(phone: str) -> str:
    """`•••• 5678`: enough for customers to recognise their number, too little to reach them."""
    digits = "".join(char for char in phone if char.isdigit())
    return f"•••• {digits[-4:]}" if len(digits) > 4 else "••••"


def masked_action(action: dict[str, Any] | None) -> dict[str, Any] | None:
    """A provider's `next_action` as any response shows it: the customer's phone masked, an
    email dropped. Anyone holding a payment id can poll its public view."""
    if action is None:
        return None
    shown = {key: value for key, value in action.items() if key != "email"}
    if isinstance(shown.get("phone"), str):
        shown["phone"] = mask_phone(shown["phone"])
    return shown


def validate_vpa(vpa: str) -> str:
    if not _VPA.fullmatch(vpa):
        raise InvalidVpa("VPA format invalid")
    return vpa


def clean_card_number(number: str) -> str:
    """Strip spaces and dashes; what remains must be 13-19 digits."""
    cleaned = _SEPARATORS.sub("", number)
    if not (cleaned.isascii() and cleaned.isdigit() and 13 <= len(cleaned) <= 19):
        raise InvalidCard("Card validation failed")
    return cleaned


def passes_luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def card_network(digits: str) -> str:
    """The contract's literal prefixes: 2-series Mastercard is `unknown`, Discover `rupay`."""
    two = int(digits[:2])
    if digits.startswith("4"):
        return "visa"
    if 51 <= two <= 55:
        return "mastercard"
    if two in (34, 37):
        return "amex"
    if two in (60, 65) or 81 <= two <= 89:
        return "rupay"
    return "unknown"


def parse_expiry(month: str | int, year: str | int, today: date) -> tuple[int, int]:
    """Return (year, month) if the card has not expired; the current month still counts as valid."""
    try:
        month_number = int(str(month).strip())
        year_text = str(year).strip()
        year_number = int(year_text)
    except ValueError:
        raise ExpiredCard("Card expiry date invalid") from None
    if len(year_text) == 2:
        year_number += 2000
    elif len(year_text) != 4:
        raise ExpiredCard("Card expiry date invalid")
    if not 1 <= month_number <= 12 or (year_number, month_number) < (today.year, today.month):
        raise ExpiredCard("Card expiry date invalid")
    return year_number, month_number


@dataclass(frozen=True, slots=True)
class CardSummary:
    """All Hazina ever keeps of a card: never the full number, never the CVV."""

    network: str
    last4: str


def validate_card(
    number: str, expiry_month: str | int, expiry_year: str | int, today: date
) -> CardSummary:
    digits = clean_card_number(number)
    if not passes_luhn(digits):
        raise InvalidCard("Card validation failed")
    parse_expiry(expiry_month, expiry_year, today)
    return CardSummary(network=card_network(digits), last4=digits[-4:])
