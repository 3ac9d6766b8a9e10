"""Paynow's SHA-512 message hash: the two published vectors (providers.md 4.3) and a round trip
against the hash the `paynow` package on PyPI computes where its quirks do not apply."""

from urllib.parse import parse_qsl

import pytest
from paynow import Paynow  # type: ignore[import-untyped]  # ships no type hints

from hazina.domain.paynow_hash import hash_matches, paynow_hash

KEY = "3e9fed89-60e1-4ce5-ab6e-6b1eb2d4f977"
OUTBOUND = [
    ("id", "1201"),
    ("reference", "TEST REF"),
    ("amount", "99.99"),
    ("additionalinfo", "A test ticket transaction"),
    ("returnurl", "http://www.google.com/search?q=returnurl"),
    ("resulturl", "http://www.google.com/search?q=resulturl"),
    ("status", "Message"),
]
OUTBOUND_HASH = (
    "2A033FC38798D913D42ECB786B9B19645ADEDBDE788862032F1BD82CF3B92DEF"
    "84F316385D5B40DBB35F1A4FD7D5BFE73835174136463CDD48C9366B0749C689"
)
INBOUND_HASH = (
    "750DD0B0DF374678707BB5AF915AF81C228B9058AD57BB7120569EC68BBB9C2E"
    "FC1B26C6375D2BC562AC909B3CD6B2AF1D42E1A5E479FFAC8F4FB3FDCE71DF4D"
)
INBOUND = (
    "status=Ok&browserurl=https%3a%2f%2fstaging.paynow.co.zw%2fPayment%2fConfirmPayment%2f9510"
    "&pollurl=https%3a%2f%2fstaging.paynow.co.zw%2fInterface%2fCheckPayment%2f%3fguid%3d"
    "c7ed41da-0159-46da-b428-69549f770413&paynowreference=9510&hash=" + INBOUND_HASH
)


def test_the_published_outbound_vector() -> None:
    assert paynow_hash(OUTBOUND, KEY) == OUTBOUND_HASH


def test_the_published_inbound_vector_verifies_over_decoded_values_in_order() -> None:
    pairs = parse_qsl(INBOUND, keep_blank_values=True)
    assert paynow_hash(pairs, KEY) == INBOUND_HASH
    assert hash_matches(pairs, KEY)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda pairs: [(k, "9511" if k == "paynowreference" else v) for k, v in pairs],
        lambda pairs: list(reversed(pairs)),  # order is part of the hash
        lambda pairs: [(k, v) for k, v in pairs if k != "hash"],
    ],
)
def test_a_changed_message_does_not_verify(tamper: object) -> None:
    pairs = parse_qsl(INBOUND, keep_blank_values=True)
    assert callable(tamper)
    assert not hash_matches(tamper(pairs), KEY)
    assert not hash_matches(pairs, KEY.upper())


def test_the_hash_field_is_left_out_whatever_its_case() -> None:
    assert paynow_hash([*OUTBOUND, ("HASH", "anything")], KEY) == OUTBOUND_HASH


def test_round_trip_with_the_paynow_package() -> None:
    """The SDK lowercases the key and quote_plus-es values before hashing: with a lowercase key
    and values quote_plus leaves alone, its hash and ours must agree, both ways."""
    sdk = Paynow("1201", KEY, "http://shop.test/return", "http://shop.test/result")
    fields = {
        "resulturl": "http://shop.test/result",
        "returnurl": "http://shop.test/return",
        "reference": "pay_abc123",
        "amount": "10.50",
        "id": "1201",
        "additionalinfo": "Order",
        "authemail": "",
        "status": "Message",
    }
    sdk_hash = sdk._Paynow__hash(fields, KEY)
    assert paynow_hash(fields.items(), KEY) == sdk_hash
    assert sdk._Paynow__verify_hash({**fields, "hash": paynow_hash(fields.items(), KEY)}, KEY)
