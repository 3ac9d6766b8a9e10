"""Payment links: what state a link is in, and the rules for what one may ask."""

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
