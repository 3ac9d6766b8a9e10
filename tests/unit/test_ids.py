"""Resource ids: a prefix and exactly 16 characters of [A-Za-z0-9]."""

import re
import string

import pytest

from hazina.domain import ids

SHAPE = re.compile(r"[A-Za-z0-9]{16}")


@pytest.mark.parametrize("prefix", [ids.ORDER, ids.PAYMENT, ids.REFUND, ids.EVENT])
def test_new_id_is_the_prefix_and_16_alphanumerics(prefix: str) -> None:
    for _ in range(200):
        value = ids.new_id(prefix)
        assert value.startswith(prefix)
        assert len(value) == len(prefix) + 16
        assert SHAPE.fullmatch(value.removeprefix(prefix))
        assert ids.is_valid_id(value, prefix)


def test_prefixes_are_the_contracts() -> None:
    assert (ids.ORDER, ids.PAYMENT, ids.REFUND, ids.EVENT) == ("order_", "pay_", "rfnd_", "evt_")


def test_the_alphabet_is_exactly_ascii_letters_and_digits() -> None:
    assert set(ids.ALPHABET) == set(string.ascii_letters + string.digits)
    assert len(ids.ALPHABET) == 62


def test_ids_are_random_and_use_the_whole_alphabet() -> None:
    values = [ids.new_id(ids.PAYMENT) for _ in range(2000)]
    assert len(set(values)) == len(values)
    used = {char for value in values for char in value.removeprefix(ids.PAYMENT)}
    # 32 000 draws over 62 symbols: missing one has a probability below 1e-200.
    assert used == set(ids.ALPHABET)


@pytest.mark.parametrize(
    ("value", "prefix"),
    [
        ("pay_ABCDEFGHabcdef12", ids.ORDER),  # another resource's prefix
        ("order_ABCDEFGHabcdef1", ids.ORDER),  # 15
        ("order_ABCDEFGHabcdef123", ids.ORDER),  # 17
        ("order_ABCDEFGH_bcdef12", ids.ORDER),
        ("order_ABCDEFGH-bcdef12", ids.ORDER),
        ("order_ABCDEFGHébcdef12", ids.ORDER),
        ("order_", ids.ORDER),
        ("ABCDEFGHabcdef12", ids.ORDER),
        ("xorder_ABCDEFGHabcdef12", ids.ORDER),
        ("", ids.PAYMENT),
    ],
)
def test_is_valid_id_rejects_other_shapes(value: str, prefix: str) -> None:
    assert not ids.is_valid_id(value, prefix)


def test_is_valid_id_accepts_a_well_formed_id() -> None:
    assert ids.is_valid_id("order_ABCDEFGHabcdef12", ids.ORDER)
    assert ids.is_valid_id("rfnd_0000000000000000", ids.REFUND)


def test_an_alphanumeric_reference_maps_back_to_its_payment_id():
    payment_id = ids.new_id(ids.PAYMENT)
    reference = ids.alphanumeric_reference(payment_id)
    assert reference.isalnum()
    assert ids.from_alphanumeric_reference(reference, ids.PAYMENT) == payment_id


@pytest.mark.parametrize("reference", ["ORD123", "pay123", "order" + "a" * 16, ""])
def test_a_foreign_reference_maps_to_no_payment(reference):
    assert ids.from_alphanumeric_reference(reference, ids.PAYMENT) is None
