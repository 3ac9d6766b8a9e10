"""Event types and the webhook payload envelope `{"event", "timestamp", "data"}`."""

from datetime import datetime
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    PAYMENT_CREATED = "payment.created"
    PAYMENT_PENDING = "payment.pending"
    PAYMENT_SUCCESS = "payment.success"
    PAYMENT_FAILED = "payment.failed"
    # A provider reported money that must not be fulfilled automatically (domain.settlement).
    PAYMENT_REVIEW_REQUIRED = "payment.review_required"
    # A manual-capture payment's authorisation expired before the merchant captured it.
    PAYMENT_AUTHORIZATION_EXPIRED = "payment.authorization_expired"
    # Money that arrived is sent back in full instead of fulfilled (a duplicate on a paid
    # order, or a review resolved by refunding); its refund.* events follow.
    PAYMENT_REFUNDED = "payment.refunded"
    REFUND_CREATED = "refund.created"
    REFUND_PROCESSED = "refund.processed"
    REFUND_FAILED = "refund.failed"
    # #14 ledger: a sub-account was created; pending money became available (a charge's
    # settlement delay passed).
    ACCOUNT_CREATED = "account.created"
    BALANCE_AVAILABLE = "balance.available"
    # #15 payouts: one event per step of domain.payouts (canceled: withdrawn while pending).
    PAYOUT_CREATED = "payout.created"
    PAYOUT_PROCESSING = "payout.processing"
    PAYOUT_PAID = "payout.paid"
    PAYOUT_FAILED = "payout.failed"
    PAYOUT_CANCELED = "payout.canceled"
    PAYOUT_REFUNDED = "payout.refunded"
    PAYOUT_REVERSED = "payout.reversed"
    # A provider reports paid a payout Hazina had canceled or failed (its money released to the
    # account): nothing moves, a human must recover the money (domain.payouts.paid_after_release).
    PAYOUT_REVIEW_REQUIRED = "payout.review_required"
    WEBHOOK_TEST = "webhook.test"


def event_payload(
    event_type: EventType, at: datetime, data: dict[str, Any], *, livemode: bool
) -> dict[str, Any]:
    """The contract's payload: `timestamp` is integer Unix seconds; `livemode` is Hazina's
    addition, so a receiver can tell test events from real money."""
    return {
        "event": event_type.value,
        "timestamp": int(at.timestamp()),
        "livemode": livemode,
        "data": data,
    }
