"""Sandbox instruments: UPI addresses, Luhn, card networks, expiry (contract section 1.6)."""

from datetime import date

import pytest

from hazina.domain.errors import ExpiredCard, InvalidCard, InvalidVpa
from hazina.domain.instruments import (
    CardSummary,
    card_network,
    clean_card_number,
    parse_expiry,
    passes_luhn,
    validate_card,
    validate_vpa,
)

TODAY = date(2026, 6, 15)


@pytest.mark.parametrize(
    "vpa", ["user@paytm", "john.doe@okhdfcbank", "user_123@phonepe", "a-b@x1", "A.B_C-9@BANK"]
)
def test_valid_vpas_are_returned_unchanged(vpa: str) -> None:
    assert validate_vpa(vpa) == vpa


@pytest.mark.parametrize(
    "vpa",
    [
        "user @paytm",
        "@paytm",
        "user@@bank",
        "user@",
        "",
        "userpaytm",
        "user@pay.tm",
        "user@pay_tm",
        "user@paytm ",
        "user@paytm\n",
        "üser@paytm",
        "user@a@b",
    ],
)
def test_invalid_vpas_raise_invalid_vpa(vpa: str) -> None:
    with pytest.raises(InvalidVpa) as caught:
        validate_vpa(vpa)
    assert caught.value.code == "INVALID_VPA"
    assert caught.value.status == 400
    assert caught.value.description == "VPA format invalid"


@pytest.mark.parametrize(
    ("number", "network", "last4"),
    [
        ("4111111111111111", "visa", "1111"),
        ("5555555555554444", "mastercard", "4444"),
        ("378282246310005", "amex", "0005"),
    ],
)
def test_the_contract_test_cards_pass_luhn(number: str, network: str, last4: str) -> None:
    assert passes_luhn(number)
    assert validate_card(number, "12", "2030", TODAY) == CardSummary(network=network, last4=last4)


@pytest.mark.parametrize(
    "number", ["4111111111111112", "5555555555554445", "378282246310006", "1234567890123"]
)
def test_numbers_failing_luhn(number: str) -> None:
    assert not passes_luhn(number)
    with pytest.raises(InvalidCard) as caught:
        validate_card(number, "12", "2030", TODAY)
    assert caught.value.code == "INVALID_CARD"
    assert caught.value.description == "Card validation failed"


def test_luhn_doubles_every_second_digit_from_the_right() -> None:
    # 18: 8 + 1·2 = 10.  59: 9 + (5·2 - 9) = 10.  91: 1 + (9·2 - 9) = 10.  19: 9 + 2 = 11.
    assert passes_luhn("18")
    assert passes_luhn("59")
    assert passes_luhn("91")
    assert not passes_luhn("19")
    assert passes_luhn("0000000000000")


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("4111 1111 1111 1111", "4111111111111111"),
        ("4111-1111-1111-1111", "4111111111111111"),
        (" 4111-1111 1111-1111 ", "4111111111111111"),
        ("3782-822463-10005", "378282246310005"),
    ],
)
def test_spaces_and_dashes_are_stripped(raw: str, cleaned: str) -> None:
    assert clean_card_number(raw) == cleaned
    summary = validate_card(raw, "12", "2030", TODAY)
    assert summary.last4 == cleaned[-4:]


@pytest.mark.parametrize("length", [13, 16, 19])
def test_lengths_13_to_19_are_accepted(length: int) -> None:
    assert clean_card_number("4" * length) == "4" * length


@pytest.mark.parametrize(
    "number",
    [
        "4" * 12,
        "4" * 20,
        "",
        "4111x11111111111",
        "4111.1111.1111.1111",
        "4111_1111_1111_1111",
        "４１１１１１１１１１１１１１１１",  # full-width digits are not ASCII digits
        "+4111111111111111",
    ],
)
def test_malformed_numbers_are_invalid_cards(number: str) -> None:
    with pytest.raises(InvalidCard, match="Card validation failed"):
        clean_card_number(number)
    with pytest.raises(InvalidCard):
        validate_card(number, "12", "2030", TODAY)


@pytest.mark.parametrize(
    ("digits", "network"),
    [
        ("4111111111111111", "visa"),
        ("4000000000000002", "visa"),
        ("5105105105105100", "mastercard"),
        ("5555555555554444", "mastercard"),
        ("5000000000000000", "unknown"),
        ("5600000000000000", "unknown"),
        ("2221000000000009", "unknown"),  # 2-series Mastercard: unknown, literally
        ("2720990000000000", "unknown"),
        ("340000000000009", "amex"),
        ("378282246310005", "amex"),
        ("350000000000000", "unknown"),
        ("6011111111111117", "rupay"),  # Discover's 6011 starts with 60: rupay, literally
        ("6500000000000000", "rupay"),
        ("6100000000000000", "unknown"),
        ("6200000000000000", "unknown"),
        ("8000000000000000", "unknown"),
        ("8100000000000000", "rupay"),
        ("8500000000000000", "rupay"),
        ("8900000000000000", "rupay"),
        ("9000000000000000", "unknown"),
        ("3000000000000000", "unknown"),
        ("1000000000000000", "unknown"),
    ],
)
def test_card_network_follows_the_literal_prefix_rules(digits: str, network: str) -> None:
    assert card_network(digits) == network


def test_validate_card_reports_the_network_after_stripping() -> None:
    assert validate_card("6011 1111 1111 1117", 12, 30, TODAY) == CardSummary("rupay", "1117")


@pytest.mark.parametrize(
    ("month", "year", "expected"),
    [
        ("12", "2030", (2030, 12)),
        ("6", "2026", (2026, 6)),  # the current month is still valid
        ("06", "26", (2026, 6)),  # 2-digit years are 20YY
        ("7", "26", (2026, 7)),
        ("1", "27", (2027, 1)),
        (12, 2030, (2030, 12)),  # ints are accepted too
        (6, 26, (2026, 6)),
        (" 6 ", " 2026 ", (2026, 6)),
        ("1", "99", (2099, 1)),
    ],
)
def test_valid_expiries(month: str | int, year: str | int, expected: tuple[int, int]) -> None:
    assert parse_expiry(month, year, TODAY) == expected


@pytest.mark.parametrize(
    ("month", "year"),
    [
        ("5", "2026"),  # last month
        ("05", "26"),
        ("12", "2025"),  # last year
        ("12", "25"),
        ("0", "2030"),
        ("13", "2030"),
        ("-1", "2030"),
        (0, 2030),
        (13, 30),
        ("ab", "2030"),
        ("12", "20x0"),
        ("", "2030"),
        ("12", ""),
        ("12", "5"),  # 1-digit year
        ("12", "203"),  # 3-digit year
        ("12", "20300"),  # 5-digit year
        ("1.5", "2030"),
    ],
)
def test_invalid_expiries_raise_expired_card(month: str | int, year: str | int) -> None:
    with pytest.raises(ExpiredCard) as caught:
        parse_expiry(month, year, TODAY)
    assert caught.value.code == "EXPIRED_CARD"
    assert caught.value.status == 400
    assert caught.value.description == "Card expiry date invalid"


def test_expiry_is_judged_against_the_given_day() -> None:
    assert parse_expiry("1", "2027", date(2027, 1, 31)) == (2027, 1)
    with pytest.raises(ExpiredCard):
        parse_expiry("1", "2027", date(2027, 2, 1))
    with pytest.raises(ExpiredCard):
        parse_expiry("12", "26", date(2027, 1, 1))


def test_validate_card_checks_luhn_before_expiry() -> None:
    with pytest.raises(InvalidCard):
        validate_card("4111111111111112", "1", "2000", TODAY)
    with pytest.raises(ExpiredCard):
        validate_card("4111111111111111", "1", "2000", TODAY)


def test_card_summary_keeps_only_network_and_last4() -> None:
    summary = validate_card("4111 1111 1111 1111", "12", "30", TODAY)
    assert set(summary.__slots__) == {"network", "last4"}
    assert "4111111111111111" not in repr(summary)
