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


class RefundStatus(StrEnum):
    """Both statuses count against the payment: money promised back is no longer refundable."""

    PENDING = "pending"
    PROCESSED = "processed"


class JobStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


def order_status_after_payment_created(current: OrderStatus) -> OrderStatus:
    """A new attempt moves `created` to `attempted`; a paid order stays paid."""
    return OrderStatus.ATTEMPTED if current == OrderStatus.CREATED else current
