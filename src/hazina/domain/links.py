"""Payment links: what state a link is in, and the rules for what one may ask."""

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum


class LinkStatus(StrEnum):
    ACTIVE = "active"
    PAID = "paid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


# A link's code is the only secret a buyer holds: 16 characters of [A-Za-z0-9] (95 bits).
CODE_LENGTH = 16
# Longest a link may stay open, and how long one without an expiry lasts.
MAX_LIFETIME_DAYS = 90
DEFAULT_LIFETIME_DAYS = 30


def link_status(
    order_status: str, cancelled_at: datetime | None, expires_at: datetime | None, now: datetime
) -> LinkStatus:
    """Paid wins: money that arrived after a cancel or expiry still paid the link's order."""
    if order_status == "paid":
        return LinkStatus.PAID
    if cancelled_at is not None:
        return LinkStatus.CANCELLED
    if expires_at is not None and expires_at <= now:
        return LinkStatus.EXPIRED
    return LinkStatus.ACTIVE


def closed_reason(
    cancelled_at: datetime | None, expires_at: datetime | None, now: datetime
) -> str | None:
    """Why a link's order takes no new payment attempt (its link cancelled or past its expiry),
    or None while it does. Attempts started before still settle: money that arrived is never
    ignored, and the link then shows as paid."""
    if cancelled_at is not None:
        return "Payment link cancelled: it takes no new payments"
    if expires_at is not None and expires_at <= now:
        return "Payment link expired: it takes no new payments"
    return None


def method_refusal(allowed: Sequence[str] | None, method: str) -> str | None:
    """Why a link's order refuses `method` (the link narrowed its methods), or None."""
    if allowed is None or method in allowed:
        return None
    return f"Method {method} is not allowed by this payment link: use {', '.join(allowed)}"
