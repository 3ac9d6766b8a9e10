"""Statuses of orders, payments and jobs, and which transitions are allowed."""

from enum import StrEnum


class OrderStatus(StrEnum):
    CREATED = "created"
    ATTEMPTED = "attempted"
    PAID = "paid"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"
    # Money arrived that must not be fulfilled until the merchant decides (`review_reason`):
    # never reads as success anywhere.
    REVIEW = "review"
    # Money arrived and is being (or was) sent back in full instead of fulfilled: a duplicate
    # payment on a paid order, or a review resolved by refunding.
    REFUNDED = "refunded"


class RefundStatus(StrEnum):
    """Pending and processed refunds count against the payment: money promised back is no longer
    refundable."""

    PENDING = "pending"
    PROCESSED = "processed"
    # The provider refused it; its amount is refundable again. Not counted against the payment.
    FAILED = "failed"


class JobStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


def order_status_after_payment_created(current: OrderStatus) -> OrderStatus:
    """A new attempt moves `created` to `attempted`; a paid order stays paid."""
    return OrderStatus.ATTEMPTED if current == OrderStatus.CREATED else current
