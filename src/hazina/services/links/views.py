"""Reading payment links: the one serialiser, by id, by page, and by public code.

A link's status comes from its order, so every read joins the order's status; its messages
(the notifications about it) come with it, recipients masked.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import Merchant, Notification, Order, Payment, PaymentLink
from hazina.domain.clock import iso_z, utc_now
from hazina.domain.errors import NotFound
from hazina.domain.links import LinkStatus, link_status
from hazina.domain.notifications import mask_recipient
from hazina.services.pages import Page

_LINK_WITH_ORDER = select(PaymentLink, Order.status).join(Order, Order.id == PaymentLink.order_id)


def link_url(base_url: str, code: str) -> str:
    return f"{base_url}/l/{code}"


def message_resource(message: Notification) -> dict[str, Any]:
    return {
        "id": message.id,
        "kind": message.kind,
        "channel": message.channel,
        "recipient": mask_recipient(message.recipient),
        "status": message.status,
        "attempts": message.attempts,
        "error": message.error,
        "created_at": iso_z(message.created_at),
        "updated_at": iso_z(message.updated_at),
    }


def link_resource(
    link: PaymentLink,
    order_status: str,
    messages: Sequence[Notification],
    base_url: str,
    now: datetime,
) -> dict[str, Any]:
    status = link_status(order_status, link.cancelled_at, link.expires_at, now)
    return {
        "id": link.id,
        "url": link_url(base_url, link.code),
        "code": link.code,
        "order_id": link.order_id,
        "amount": link.amount,
        "currency": link.currency,
        "description": link.description,
        "reference": link.reference,
        "methods": link.methods,
        "customer": {
            "name": link.customer_name,
            "phone": None if link.customer_phone is None else mask_recipient(link.customer_phone),
            "email": None if link.customer_email is None else mask_recipient(link.customer_email),
        },
        "status": status.value,
        "livemode": link.livemode,
        "expires_at": None if link.expires_at is None else iso_z(link.expires_at),
        "cancelled_at": None if link.cancelled_at is None else iso_z(link.cancelled_at),
        "messages": [message_resource(message) for message in messages],
        "created_at": iso_z(link.created_at),
    }


async def messages_of(
    session: AsyncSession, merchant_id: uuid.UUID, link_ids: Sequence[str]
) -> dict[str, list[Notification]]:
    found: dict[str, list[Notification]] = {link_id: [] for link_id in link_ids}
    if not link_ids:
        return found
    rows = await session.scalars(
        select(Notification)
        .where(Notification.merchant_id == merchant_id, Notification.subject_id.in_(link_ids))
        .order_by(Notification.created_at, Notification.id)
    )
    for message in rows:
        found[message.subject_id].append(message)
    return found


async def get_link(
    db: Database, merchant_id: uuid.UUID, link_id: str, base_url: str
) -> dict[str, Any]:
    async with db.read() as session:
        row = (
            await session.execute(
                _LINK_WITH_ORDER.where(
                    PaymentLink.id == link_id, PaymentLink.merchant_id == merchant_id
                )
            )
        ).one_or_none()
        if row is None:
            raise NotFound("Payment link not found")
        link, order_status = row
        messages = await messages_of(session, merchant_id, [link.id])
    return link_resource(link, order_status, messages[link.id], base_url, utc_now())


async def list_links(
    db: Database, merchant_id: uuid.UUID, base_url: str, limit: int, offset: int
) -> Page:
    """Newest first, each with its messages (one query for the page's messages)."""
    async with db.read() as session:
        total = await session.scalar(
            select(func.count())
            .select_from(PaymentLink)
            .where(PaymentLink.merchant_id == merchant_id)
        )
        rows = (
            await session.execute(
                _LINK_WITH_ORDER.where(PaymentLink.merchant_id == merchant_id)
                .order_by(PaymentLink.created_at.desc(), PaymentLink.id.desc())
                .limit(limit)
                .offset(offset)
            )
        ).all()
        messages = await messages_of(session, merchant_id, [link.id for link, _ in rows])
    now = utc_now()
    data = [link_resource(link, status, messages[link.id], base_url, now) for link, status in rows]
    return Page(data, int(total or 0), limit, offset)


@dataclass(frozen=True, slots=True)
class PublicLink:
    """What the link page needs: never the customer's contacts, nor the merchant's reference."""

    order_id: str
    amount: int
    currency: str
    description: str | None
    status: LinkStatus
    merchant_name: str
    paid_payment_id: str | None


async def find_public_link(db: Database, code: str) -> PublicLink:
    """The link behind `/l/{code}`, if its merchant is active; 404 otherwise."""
    async with db.read() as session:
        row = (
            await session.execute(
                select(PaymentLink, Order.status, Merchant.name)
                .join(Order, Order.id == PaymentLink.order_id)
                .join(Merchant, Merchant.id == PaymentLink.merchant_id)
                .where(PaymentLink.code == code, Merchant.is_active.is_(True))
            )
        ).one_or_none()
        if row is None:
            raise NotFound("Payment link not found")
        link, order_status, merchant_name = row
        status = link_status(order_status, link.cancelled_at, link.expires_at, utc_now())
        paid_payment_id = None
        if status is LinkStatus.PAID:
            paid_payment_id = await session.scalar(
                select(Payment.id)
                .where(Payment.order_id == link.order_id, Payment.status == "success")
                .order_by(Payment.updated_at)
                .limit(1)
            )
    return PublicLink(
        order_id=link.order_id,
        amount=link.amount,
        currency=link.currency,
        description=link.description,
        status=status,
        merchant_name=merchant_name,
        paid_payment_id=paid_payment_id,
    )
