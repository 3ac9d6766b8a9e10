"""The rules every provider's reports go through (domain.settlement)."""

import pytest

from hazina.domain.events import EventType
from hazina.domain.providers import ProviderEventKind
from hazina.domain.settlement import Report, ReviewReason, decide
from hazina.domain.states import PaymentStatus

SUCCEEDED = ProviderEventKind.PAYMENT_SUCCEEDED
FAILED = ProviderEventKind.PAYMENT_FAILED
EXPIRED = ProviderEventKind.PAYMENT_EXPIRED


def report(
    kind: ProviderEventKind,
    status: PaymentStatus = PaymentStatus.PENDING,
    *,
    amount: int | None = 5000,
    currency: str | None = "TZS",
    paid_by_other: bool = False,
) -> Report:
    return Report(
        kind=kind,
        status=status,
        amount=5000,
        currency="TZS",
        reported_amount=amount,
        reported_currency=currency,
        order_paid_by_other=paid_by_other,
    )


def test_a_success_for_a_pending_payment_pays_the_order():
    decision = decide(report(SUCCEEDED))
    assert decision.status == PaymentStatus.SUCCESS
    assert decision.event == EventType.PAYMENT_SUCCESS
    assert decision.pays_order
    assert decision.review is None


def test_a_success_without_a_reported_amount_trusts_the_payment_amount():
    assert decide(report(SUCCEEDED, amount=None, currency=None)).pays_order


@pytest.mark.parametrize("kind", [FAILED, EXPIRED])
def test_a_failure_after_success_is_recorded_and_ignored(kind):
    decision = decide(report(kind, PaymentStatus.SUCCESS))
    assert decision.status is None
    assert decision.event is None


@pytest.mark.parametrize(
    ("kind", "code"), [(FAILED, "PAYMENT_FAILED"), (EXPIRED, "PAYMENT_EXPIRED")]
)
def test_a_failure_of_a_pending_payment_fails_it(kind, code):
    decision = decide(report(kind))
    assert decision.status == PaymentStatus.FAILED
    assert decision.event == EventType.PAYMENT_FAILED
    assert decision.error_code == code


def test_a_repeated_failure_changes_nothing():
    assert decide(report(FAILED, PaymentStatus.FAILED)).status is None


def test_a_late_success_after_a_failure_is_applied_and_flagged():
    decision = decide(report(SUCCEEDED, PaymentStatus.FAILED))
    assert decision.status == PaymentStatus.SUCCESS
    assert decision.event == EventType.PAYMENT_SUCCESS
    assert decision.review == ReviewReason.LATE_SUCCESS
    assert decision.pays_order


def test_a_repeated_success_changes_nothing():
    assert decide(report(SUCCEEDED, PaymentStatus.SUCCESS)).status is None


@pytest.mark.parametrize(
    ("amount", "currency", "reason"),
    [
        (4000, "TZS", ReviewReason.AMOUNT_MISMATCH),
        (6000, "TZS", ReviewReason.AMOUNT_MISMATCH),
        (5000, "USD", ReviewReason.CURRENCY_MISMATCH),
    ],
)
def test_a_mismatched_success_is_sent_for_review_not_fulfilment(amount, currency, reason):
    decision = decide(report(SUCCEEDED, amount=amount, currency=currency))
    assert decision.status == PaymentStatus.REVIEW
    assert decision.event == EventType.PAYMENT_REVIEW_REQUIRED
    assert decision.review == reason
    assert not decision.pays_order


def test_a_second_payment_for_a_paid_order_is_sent_for_review():
    decision = decide(report(SUCCEEDED, paid_by_other=True))
    assert decision.status == PaymentStatus.REVIEW
    assert decision.event == EventType.PAYMENT_REVIEW_REQUIRED
    assert decision.review == ReviewReason.ORDER_ALREADY_PAID
    assert not decision.pays_order
    assert not decision.refund_in_full


def test_a_second_refundable_payment_for_a_paid_order_is_refunded_in_full():
    decision = decide(
        Report(
            kind=SUCCEEDED,
            status=PaymentStatus.PENDING,
            amount=5000,
            currency="TZS",
            reported_amount=5000,
            reported_currency="TZS",
            order_paid_by_other=True,
            refundable=True,
        )
    )
    assert decision.status == PaymentStatus.REFUNDED
    assert decision.event == EventType.PAYMENT_REFUNDED
    assert decision.review == ReviewReason.ORDER_ALREADY_PAID
    assert decision.refund_in_full
    assert not decision.pays_order


def test_pending_and_ignored_reports_change_nothing():
    for kind in (ProviderEventKind.PAYMENT_PENDING, ProviderEventKind.IGNORED):
        assert decide(report(kind)).status is None


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        (ProviderEventKind.PAYMENT_RETURNED, ReviewReason.RETURNED_AT_PROVIDER),
        (ProviderEventKind.PAYMENT_DISPUTED, ReviewReason.DISPUTED),
    ],
)
def test_money_returned_or_disputed_at_the_provider_sends_the_payment_to_review(kind, reason):
    # Also when Hazina never saw the money arrive: nothing would settle it otherwise.
    for status in (PaymentStatus.SUCCESS, PaymentStatus.PENDING, PaymentStatus.FAILED):
        decision = decide(report(kind, status))
        assert decision.status == PaymentStatus.REVIEW
        assert decision.event == EventType.PAYMENT_REVIEW_REQUIRED
        assert decision.review == reason
        assert not decision.pays_order
    for status in (PaymentStatus.REVIEW, PaymentStatus.REFUNDED):
        assert decide(report(kind, status)).status is None
