"""Which notifications a change causes, written in that change's own transaction.

`notify_event` is called by `services.events.record_event`: for `payment.success` the merchant
told its order (or link) was paid and the buyer's receipt (one primary key read); for
`payout.paid` and `payout.failed` the payout's creator, if it has a contact (one read); for any
other event nothing. `notify_earnings` is called by `services.ledger.charges.post_charge` for a
charge that credits creators (a payment without splits never calls it): what each earned.
"""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from hazina.db.models import CreatorContact, NotificationSetting, Payment, PaymentLink
from hazina.domain.events import EventType
from hazina.domain.ledger import Split
from hazina.domain.money import UnknownCurrency, format_money
from hazina.domain.notifications import Channel, NotificationKind
from hazina.services.notifications.outbox import add_notification

PAYOUT_ENDS = frozenset({EventType.PAYOUT_PAID, EventType.PAYOUT_FAILED})


def _amount(amount: int, currency: str) -> str:
    try:
        return format_money(amount, currency)
    except UnknownCurrency:
        return f"{currency} {amount} (minor units)"


async def notify_event(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    event_type: EventType,
    data: dict[str, Any],
    *,
    livemode: bool,
) -> None:
    if event_type is EventType.PAYMENT_SUCCESS:
        await _notify_paid(session, merchant_id, data, livemode=livemode)
    elif event_type in PAYOUT_ENDS:
        await _notify_payout_end(session, merchant_id, data, livemode=livemode)


async def _notify_paid(
    session: AsyncSession, merchant_id: uuid.UUID, data: dict[str, Any], *, livemode: bool
) -> None:
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
        "amount": _amount(int(payment["amount"]), str(payment["currency"])),
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


async def notify_earnings(
    session: AsyncSession,
    payment: Payment,
    currency: str,
    earnings: Sequence[Split],
    *,
    pending: bool,
) -> None:
    """Each creator a charge credited, told what it earned on the merchant's earning channels."""
    amounts = {part.account_id: part.amount for part in earnings if part.amount > 0}
    recipients = await _creators(
        session, payment.merchant_id, list(amounts), NotificationSetting.earning_channels
    )
    for account_id, name, channel, recipient in recipients:
        content = {
            "name": name,
            "account_id": account_id,
            "amount": _amount(amounts[account_id], currency),
            "payment_id": payment.id,
            "order_id": payment.order_id,
            "pending": pending,
        }
        await add_notification(
            session,
            payment.merchant_id,
            livemode=payment.livemode,
            kind=NotificationKind.CREATOR_EARNED,
            channel=channel,
            recipient=recipient,
            subject_id=account_id,
            content=content,
        )


async def _notify_payout_end(
    session: AsyncSession, merchant_id: uuid.UUID, payout: dict[str, Any], *, livemode: bool
) -> None:
    """The creator whose money the payout (`payout_view`) sent is told it was paid or failed."""
    recipients = await _creators(
        session, merchant_id, [payout["account_id"]], NotificationSetting.payout_channels
    )
    for account_id, name, channel, recipient in recipients:
        content = {
            "name": name,
            "account_id": account_id,
            "amount": _amount(int(payout["amount"]), str(payout["currency"])),
            "payout_id": payout["id"],
            "status": payout["status"],
            "destination": payout["destination"]["masked"],
        }
        await add_notification(
            session,
            merchant_id,
            livemode=livemode,
            kind=NotificationKind.CREATOR_PAYOUT,
            channel=channel,
            recipient=recipient,
            subject_id=account_id,
            content=content,
        )


async def _creators(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    account_ids: list[str],
    channels: InstrumentedAttribute[list[str]],
) -> list[tuple[str, str | None, Channel, str]]:
    """(account, name, channel, recipient) for each of these creators with a contact, on each
    channel the merchant chose that the contact can be reached on: one query."""
    rows = await session.execute(
        select(
            CreatorContact.account_id,
            CreatorContact.name,
            CreatorContact.phone,
            CreatorContact.email,
            channels,
        )
        .join(NotificationSetting, NotificationSetting.merchant_id == CreatorContact.merchant_id)
        .where(
            CreatorContact.merchant_id == merchant_id, CreatorContact.account_id.in_(account_ids)
        )
        .order_by(CreatorContact.account_id)
    )
    found: list[tuple[str, str | None, Channel, str]] = []
    for account_id, name, phone, email, names in rows:
        for channel in map(Channel, names):
            recipient = phone if channel is Channel.WHATSAPP else email
            if recipient is not None:  # no way to reach it there: nothing owed
                found.append((account_id, name, channel, recipient))
    return found
