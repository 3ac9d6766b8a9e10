"""How a provider's report moves a payment: the rules shared by every provider and the sandbox.

A payment never moves backwards: a failure reported after a success is recorded and ignored.
Money that arrived is never ignored: a success reported after a failure or an expiry is applied
and flagged. A success whose amount or currency differs from the payment's goes to `review`
and never reads as success. A success on an order another payment already paid is a duplicate:
refunded automatically where its provider can refund, otherwise sent to review.
"""

from dataclasses import dataclass
from enum import StrEnum

from hazina.domain.events import EventType
from hazina.domain.providers import ProviderEventKind
from hazina.domain.states import PaymentStatus


class ReviewReason(StrEnum):
    AMOUNT_MISMATCH = "amount_mismatch"
    CURRENCY_MISMATCH = "currency_mismatch"
    LATE_SUCCESS = "late_success"
    ORDER_ALREADY_PAID = "order_already_paid"
    # An automatic refund of a duplicate failed at the provider: a human must return it.
    REFUND_FAILED = "refund_failed"
    # More went back than the payment received (a refund Hazina gave up on was paid after all
    # while another replaced it): a human must recover the difference.
    OVER_REFUNDED = "over_refunded"
    # The provider reports the money of a successful payment sent back, or contested, outside
    # Hazina (Paynow's `Refunded`, `Disputed`): the merchant must see what happened.
    RETURNED_AT_PROVIDER = "returned_at_provider"
    DISPUTED = "disputed"
    # A refund's outcome is unknown at a provider that cannot be asked about refunds (EcoCash
    # direct: its answer was pending or lost): the money may have gone back, so its amount stays
    # reserved until the merchant checks at the provider and says (`accept`: it went back).
    REFUND_UNCONFIRMED = "refund_unconfirmed"


FAILURE_CODES = {
    ProviderEventKind.PAYMENT_FAILED: ("PAYMENT_FAILED", "Payment processing failed"),
    ProviderEventKind.PAYMENT_EXPIRED: (
        "PAYMENT_EXPIRED",
        "The payment expired before it was paid",
    ),
}

REVERSALS = {
    ProviderEventKind.PAYMENT_RETURNED: ReviewReason.RETURNED_AT_PROVIDER,
    ProviderEventKind.PAYMENT_DISPUTED: ReviewReason.DISPUTED,
}


@dataclass(frozen=True, slots=True)
class Report:
    """What the provider said about one payment, next to what Hazina knows of it."""

    kind: ProviderEventKind
    status: PaymentStatus
    amount: int
    currency: str
    reported_amount: int | None
    reported_currency: str | None
    # Another payment of the same order already succeeded.
    order_paid_by_other: bool
    # The payment's provider can send money back by API (so a duplicate need not be reviewed).
    refundable: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """`status` None: nothing changes (the report is recorded and ignored)."""

    status: PaymentStatus | None = None
    event: EventType | None = None
    review: ReviewReason | None = None
    # Counts toward the order being paid.
    pays_order: bool = False
    # Everything received goes back at once, by a refund created with this decision.
    refund_in_full: bool = False
    error_code: str | None = None
    error_description: str | None = None


def decide(report: Report) -> Decision:
    if report.kind == ProviderEventKind.PAYMENT_SUCCEEDED:
        return _decide_success(report)
    if report.kind in FAILURE_CODES:
        if report.status != PaymentStatus.PENDING:
            return Decision()  # never backwards; a repeated failure changes nothing
        code, description = FAILURE_CODES[report.kind]
        return Decision(
            status=PaymentStatus.FAILED,
            event=EventType.PAYMENT_FAILED,
            error_code=code,
            error_description=description,
        )
    if report.kind in REVERSALS:
        # Money arrived and went back (or is contested): a human must look, also when Hazina
        # never saw it arrive, or the payment would stay pending with nothing left to ask.
        if report.status in (PaymentStatus.REVIEW, PaymentStatus.REFUNDED):
            return Decision()  # already with a human, or already returned through Hazina
        return _review(REVERSALS[report.kind])
    return Decision()


def _decide_success(report: Report) -> Decision:
    if report.status not in (PaymentStatus.PENDING, PaymentStatus.FAILED):
        return Decision()  # success, review and refunded are settled: a repeat changes nothing
    review = _mismatch(report)
    if review is not None:
        return _review(review)
    late = report.status == PaymentStatus.FAILED
    if report.order_paid_by_other:
        if not report.refundable:
            return _review(ReviewReason.ORDER_ALREADY_PAID)
        return Decision(
            status=PaymentStatus.REFUNDED,
            event=EventType.PAYMENT_REFUNDED,
            review=ReviewReason.ORDER_ALREADY_PAID,
            refund_in_full=True,
        )
    return Decision(
        status=PaymentStatus.SUCCESS,
        event=EventType.PAYMENT_SUCCESS,
        review=ReviewReason.LATE_SUCCESS if late else None,
        pays_order=True,
    )


def _review(reason: ReviewReason) -> Decision:
    return Decision(
        status=PaymentStatus.REVIEW, event=EventType.PAYMENT_REVIEW_REQUIRED, review=reason
    )


def _mismatch(report: Report) -> ReviewReason | None:
    if report.reported_currency is not None and report.reported_currency != report.currency:
        return ReviewReason.CURRENCY_MISMATCH
    if report.reported_amount is not None and report.reported_amount != report.amount:
        return ReviewReason.AMOUNT_MISMATCH
    return None
