"""Creating, cancelling and re-sending payment links. Each change is one transaction: a link,
its order and the messages that send it commit together, or none of them does."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import Order, PaymentLink
from hazina.db.prepared import Row
from hazina.domain import ids
from hazina.domain.clock import utc_now
from hazina.domain.errors import BadRequest, Conflict, NotFound
from hazina.domain.links import LinkStatus, link_status
from hazina.domain.money import format_money
from hazina.domain.notifications import Channel, NotificationKind
from hazina.services.idempotency import Admit, IdempotencyRequest, StoredResponse, respond_once
from hazina.services.links.requests import Customer, NewLink, checked_channels, validate_link
from hazina.services.links.views import link_resource, link_url, messages_of
from hazina.services.notifications.channels import require_channels
from hazina.services.notifications.outbox import add_notification
from hazina.services.orders import NewOrder, insert_order, order_values
from hazina.services.registry import ProviderRegistry

_INSERT_LINK = insert(cast(Table, PaymentLink.__table__))


@dataclass(frozen=True, slots=True)
class LinkContext:
    """Where a link is created: its merchant twin, the methods of its mode, the public URL."""

    merchant_id: uuid.UUID
    livemode: bool
    offered: tuple[str, ...]
    base_url: str
    smtp_configured: bool

    @classmethod
    def for_merchant(
        cls,
        registry: ProviderRegistry,
        merchant_id: uuid.UUID,
        livemode: bool,
        *,
        base_url: str,
        smtp_configured: bool,
    ) -> "LinkContext":
        offered = registry.methods(livemode=livemode)
        return cls(merchant_id, livemode, offered, base_url, smtp_configured)


def _link_content(link: PaymentLink | Row, base_url: str) -> dict[str, Any]:
    """What a message sending the link says, fixed when it is queued."""
    return {
        "code": link.code,
        "url": link_url(base_url, link.code),
        "amount": format_money(link.amount, link.currency),
        "description": link.description,
        "customer_name": link.customer_name,
    }


async def _send(
    session: AsyncSession, link: PaymentLink | Row, channels: tuple[Channel, ...], base_url: str
) -> None:
    for channel in channels:
        recipient = link.customer_phone if channel is Channel.WHATSAPP else link.customer_email
        assert recipient is not None  # checked_channels requires the contact
        await add_notification(
            session,
            link.merchant_id,
            livemode=link.livemode,
            kind=NotificationKind.PAYMENT_LINK,
            channel=channel,
            recipient=recipient,
            subject_id=link.id,
            content=_link_content(link, base_url),
        )


async def create_link(
    db: Database,
    context: LinkContext,
    new: NewLink,
    idempotency: IdempotencyRequest | None,
    ttl: timedelta,
    admit: Admit,
) -> StoredResponse:
    """`admit` (the rate limit) runs once the request is known not to be a stored replay."""
    now = utc_now()
    checked, expires_at, channels = validate_link(new, context.offered, now)
    order = order_values(
        context.merchant_id,
        NewOrder(amount=checked.amount, currency=checked.currency, receipt=checked.reference),
        livemode=context.livemode,
    )
    methods = None if checked.methods is None else list(checked.methods)
    # The order carries the link's terms: every attempt to pay it checks them (open_attempt).
    order |= {"link_methods": methods, "link_expires_at": expires_at}
    customer = checked.customer
    values = {
        "id": ids.new_id(ids.PAYMENT_LINK),
        "merchant_id": context.merchant_id,
        "livemode": context.livemode,
        "code": ids.new_id(""),
        "order_id": order["id"],
        "amount": checked.amount,
        "currency": checked.currency,
        "description": checked.description,
        "reference": checked.reference,
        "methods": methods,
        "customer_name": customer.name,
        "customer_phone": customer.phone,
        "customer_email": customer.email,
        "expires_at": expires_at,
        "cancelled_at": None,
        "created_at": now,
        "updated_at": now,
    }

    async def write(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        await require_channels(
            session, context.merchant_id, channels, smtp_configured=context.smtp_configured
        )
        await insert_order(session, order)
        await session.execute(_INSERT_LINK, values)
        await _send(session, Row(values), channels, context.base_url)
        # Read back in this transaction, so the answer shows the messages just queued.
        return 201, await _resource(session, values["id"], context)

    return await respond_once(db, context.merchant_id, idempotency, ttl, write, admit=admit)


async def _resource(session: AsyncSession, link_id: str, context: LinkContext) -> dict[str, Any]:
    link, order_status = (
        await session.execute(
            select(PaymentLink, Order.status)
            .join(Order, Order.id == PaymentLink.order_id)
            .where(PaymentLink.id == link_id)
        )
    ).one()
    messages = await messages_of(session, context.merchant_id, [link_id])
    return link_resource(link, order_status, messages[link_id], context.base_url, utc_now())


async def _locked_link(
    session: AsyncSession, merchant_id: uuid.UUID, link_id: str
) -> tuple[PaymentLink, LinkStatus]:
    row = (
        await session.execute(
            select(PaymentLink, Order.status)
            .join(Order, Order.id == PaymentLink.order_id)
            .where(PaymentLink.id == link_id, PaymentLink.merchant_id == merchant_id)
            .with_for_update(of=PaymentLink)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("Payment link not found")
    link, order_status = row
    return link, link_status(order_status, link.cancelled_at, link.expires_at, utc_now())


async def cancel_link(db: Database, context: LinkContext, link_id: str) -> dict[str, Any]:
    """Cancel an active link; cancelling a cancelled one changes nothing (idempotent)."""
    async with db.transaction() as session:
        link, status = await _locked_link(session, context.merchant_id, link_id)
        if status is LinkStatus.ACTIVE:
            link.cancelled_at = utc_now()
            await session.flush()
            # Its order refuses new attempts from this commit on, whichever way they come.
            await session.execute(
                update(Order)
                .where(Order.id == link.order_id)
                .values(link_cancelled_at=link.cancelled_at)
            )
        elif status is not LinkStatus.CANCELLED:
            raise Conflict(f"Payment link is {status.value}; only an active link can be cancelled")
        return await _resource(session, link.id, context)


async def resend_link(
    db: Database, context: LinkContext, link_id: str, send: tuple[str, ...]
) -> dict[str, Any]:
    """Queue the link again on `send` (default: every channel it has a contact for)."""
    async with db.transaction() as session:
        link, status = await _locked_link(session, context.merchant_id, link_id)
        if status is not LinkStatus.ACTIVE:
            raise Conflict(f"Payment link is {status.value}; only an active link can be sent")
        if not send:
            send = tuple(
                channel.value
                for channel, contact in (
                    (Channel.WHATSAPP, link.customer_phone),
                    (Channel.EMAIL, link.customer_email),
                )
                if contact is not None
            )
        if not send:
            raise BadRequest("The link has no customer phone or email to send it to")
        customer = _customer_of(link)
        channels = checked_channels(send, customer)
        await require_channels(
            session, context.merchant_id, channels, smtp_configured=context.smtp_configured
        )
        await _send(session, link, channels, context.base_url)
        return await _resource(session, link.id, context)


def _customer_of(link: PaymentLink) -> Customer:
    return Customer(link.customer_name, link.customer_phone, link.customer_email)
