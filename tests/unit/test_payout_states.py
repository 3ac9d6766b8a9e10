"""The payout state machine: forward only, every report's implied steps, each step's ledger move."""

import pytest

from hazina.domain.payouts import (
    LedgerMove,
    PayoutStatus,
    paid_after_release,
    sendable,
    steps_to,
)

P = PayoutStatus


def path(current: PayoutStatus, reported: PayoutStatus) -> list[tuple[str, str]]:
    return [(step.target.value, step.ledger.value) for step in steps_to(current, reported)]


def test_the_happy_path_reserves_nothing_new_until_paid_posts() -> None:
    assert path(P.PENDING, P.PROCESSING) == [("processing", "none")]
    assert path(P.PROCESSING, P.PAID) == [("paid", "post")]


def test_a_report_of_a_later_state_walks_the_steps_in_between() -> None:
    # A status query answering SUCCESS (or REVERSED) for a payout Hazina never saw accepted.
    assert path(P.PENDING, P.PAID) == [("processing", "none"), ("paid", "post")]
    assert path(P.PROCESSING, P.REVERSED) == [("paid", "post"), ("reversed", "return")]
    assert path(P.PENDING, P.REFUNDED) == [
        ("processing", "none"),
        ("paid", "post"),
        ("refunded", "return"),
    ]


@pytest.mark.parametrize("current", [P.PENDING, P.PROCESSING])
def test_a_failure_before_the_money_left_voids_the_hold(current: PayoutStatus) -> None:
    assert path(current, P.FAILED) == [("failed", "void")]


def test_only_a_pending_payout_can_be_canceled() -> None:
    assert path(P.PENDING, P.CANCELED) == [("canceled", "void")]
    assert path(P.PROCESSING, P.CANCELED) == []


@pytest.mark.parametrize(
    ("current", "reported"),
    [
        (P.PROCESSING, P.PENDING),
        (P.PAID, P.PROCESSING),
        (P.PAID, P.FAILED),  # money that left is never released by a late failure
        (P.PAID, P.PAID),
        (P.FAILED, P.PAID),
        (P.CANCELED, P.PROCESSING),
        (P.REVERSED, P.REFUNDED),
        (P.REFUNDED, P.REFUNDED),
    ],
)
def test_nothing_moves_backwards_or_twice(current: PayoutStatus, reported: PayoutStatus) -> None:
    assert steps_to(current, reported) == []


def test_every_path_moves_the_hold_at_most_once_and_returns_only_what_was_posted() -> None:
    for current in P:
        for reported in P:
            moves = [step.ledger for step in steps_to(current, reported)]
            assert moves.count(LedgerMove.POST) + moves.count(LedgerMove.VOID) <= 1
            if LedgerMove.RETURN in moves:
                assert current == P.PAID or LedgerMove.POST in moves


def test_only_money_paid_after_it_was_released_needs_a_human() -> None:
    flagged = {(c, r) for c in P for r in P if paid_after_release(c, r)}
    assert flagged == {(P.CANCELED, P.PAID), (P.FAILED, P.PAID)}
    # Each of those is a step the state machine refuses: without the flag it would vanish.
    assert all(steps_to(current, reported) == [] for current, reported in flagged)


def test_a_whole_units_provider_is_sent_the_amount_rounded_down() -> None:
    assert sendable(100_050, "TZS", whole_units=True) == 100_000
    assert sendable(100_000, "TZS", whole_units=True) == 100_000
    assert sendable(99, "USD", whole_units=True) == 0
    assert sendable(500, "JPY", whole_units=True) == 500  # no minor unit to drop
    assert sendable(100_050, "TZS", whole_units=False) == 100_050
