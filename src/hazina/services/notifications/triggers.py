"""Which notifications an event causes, written by `services.events.record_event` in the event's
own transaction: a merchant told its order (or link) was paid, the buyer's receipt. One primary
key read for `payment.success` events, none for any other."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.models import NotificationSetting, PaymentLink
from hazina.domain.events import EventType
from hazina.domain.money import UnknownCurrency, format_money
from hazina.domain.notifications import Channel, NotificationKind
from hazina.services.notifications.outbox import add_notification


def _amount(payment: dict[str, Any]) -> str:
    try:
        return format_money(int(payment["amount"]), str(payment["currency"]))
    except UnknownCurrency:
        return f"{payment['currency']} {payment['amount']} (minor units)"


async def notify_event(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    event_type: EventType,
    data: dict[str, Any],
    *,
    livemode: bool,
) -> None:
    if event_type is not EventType.PAYMENT_SUCCESS:
        return
    wanted = await session.get(NotificationSetting, merchant_id)
    if wanted is None or not (wanted.paid_channels or wanted.receipt_channels):
        return
    payment = data["payment"]
    link = await session.scalar(
        select(PaymentLink).where(
            PaymentLink.merchant_id == merchant_id, PaymentLink.order_id == payment["order_id"]
        )
    )
    content = {
        "order_id": payment["order_id"],
        "payment_id": payment["id"],
        "amount": _amount(payment),
        "link_id": None if link is None else link.id,
    }
    # Shown on the link when there is one, else found by the order.
    subject_id = payment["order_id"] if link is None else link.id
    contacts = {
        NotificationKind.ORDER_PAID: {
            Channel.WHATSAPP: wanted.merchant_phone,
            Channel.EMAIL: wanted.merchant_email,
        },
        NotificationKind.RECEIPT: {
            Channel.WHATSAPP: None if link is None else link.customer_phone,
            Channel.EMAIL: None if link is None else link.customer_email,
        },
    }
    channels = {
        NotificationKind.ORDER_PAID: wanted.paid_channels,
        NotificationKind.RECEIPT: wanted.receipt_channels,
    }
    for kind, names in channels.items():
        for name in names:
            channel = Channel(name)
            recipient = contacts[kind][channel]
            if recipient is None:  # no contact for it: nothing to send, nothing owed
                continue
            await add_notification(
                session,
                merchant_id,
                livemode=livemode,
                kind=kind,
                channel=channel,
                recipient=recipient,
                subject_id=subject_id,
                content=content,
            )
