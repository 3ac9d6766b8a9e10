"""Notifications: channels, kinds, statuses, and how a recipient is shown."""

from enum import StrEnum
from typing import Any

from hazina.domain.instruments import mask_phone


class Channel(StrEnum):
    WHATSAPP = "whatsapp"
    EMAIL = "email"


class NotificationKind(StrEnum):
    PAYMENT_LINK = "payment_link"  # a link sent to its buyer
    ORDER_PAID = "order_paid"  # the merchant told an order (or its link) was paid
    RECEIPT = "receipt"  # the buyer's receipt
    CREATOR_EARNED = "creator_earned"  # a creator told what a payment earned it
    CREATOR_PAYOUT = "creator_payout"  # a creator told a payout of its money ended


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


# A channel's status reports may arrive out of order (WhatsApp may skip `delivered` once `read`
# arrives): a status only ever moves forward along this rank.
_RANK = {
    NotificationStatus.PENDING: 0,
    NotificationStatus.SENT: 1,
    NotificationStatus.DELIVERED: 2,
    NotificationStatus.READ: 3,
    NotificationStatus.FAILED: 4,
}


def advances(current: str, reported: str) -> bool:
    """Whether a reported status moves a message forward (a failure after `read` does not:
    the buyer read it)."""
    if current == NotificationStatus.READ and reported == NotificationStatus.FAILED:
        return False
    return _RANK[NotificationStatus(reported)] > _RANK[NotificationStatus(current)]


def mask_recipient(recipient: str) -> str:
    """`•••• 5678` or `j•••@example.com`: recognisable, not reusable."""
    if "@" in recipient:
        local, _, domain = recipient.partition("@")
        return f"{local[:1]}•••@{domain}"
    return mask_phone(recipient)


def compose(kind: str, content: dict[str, Any]) -> tuple[str, str]:
    """A message's subject and text, from what was fixed when it was caused."""
    amount = content.get("amount", "")
    if kind == NotificationKind.PAYMENT_LINK:
        what = f" for {content['description']}" if content.get("description") else ""
        return (
            f"Payment request: {amount}",
            f"You are asked to pay {amount}{what}. Pay here: {content['url']}",
        )
    if kind == NotificationKind.ORDER_PAID:
        link = f" (payment link {content['link_id']})" if content.get("link_id") else ""
        return (
            f"Paid: {amount} for order {content['order_id']}",
            f"Order {content['order_id']}{link} was paid: {amount}, payment "
            f"{content['payment_id']}.",
        )
    if kind == NotificationKind.CREATOR_EARNED:
        settles = " It becomes available once the payment settles." if content["pending"] else ""
        return (
            f"You earned {amount}",
            f"{_greeting(content)}you earned {amount} from order {content['order_id']} (payment "
            f"{content['payment_id']}).{settles}",
        )
    if kind == NotificationKind.CREATOR_PAYOUT:
        if content["status"] == "paid":
            return (
                f"Payout paid: {amount}",
                f"{_greeting(content)}your payout {content['payout_id']} of {amount} was paid "
                f"to {content['destination']}.",
            )
        return (
            f"Payout failed: {amount}",
            f"{_greeting(content)}your payout {content['payout_id']} of {amount} did not go "
            "through. The money is back in your balance.",
        )
    return (
        f"Receipt: {amount}",
        f"Thank you. You paid {amount}"
        + (f" to {content['merchant_name']}" if content.get("merchant_name") else "")
        + f". Payment ID: {content['payment_id']}.",
    )


def _greeting(content: dict[str, Any]) -> str:
    return f"Hi {content['name']}, " if content.get("name") else "Hello, "
