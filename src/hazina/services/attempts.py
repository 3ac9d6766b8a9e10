"""Opening a payment attempt on an order and writing its payment: what every method shares."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.models import Order, Payment
from hazina.db.statements import fresh_id
from hazina.domain import ids
from hazina.domain.clock import utc_now
from hazina.domain.errors import BadRequest, NotFound
from hazina.domain.events import EventType
from hazina.domain.links import closed_reason, method_refusal
from hazina.domain.states import OrderStatus, PaymentStatus, order_status_after_payment_created
from hazina.services import resources
from hazina.services.events import record_event

ORDER_ALREADY_PAID = "Order already paid"


async def open_attempt(
    session: AsyncSession, merchant_id: uuid.UUID, order_id: str, method: str
) -> tuple[Order, bool]:
    """Lock the order a new payment attempt by `method` is for, and refuse it once the order is
    paid, or when the order's payment link is closed or excludes the method. Returns the order
    and whether it had attempts before this one (only then can another be left to end).

    Attempts already in flight do not block a new one: a customer who abandoned a provider's
    page or a USSD prompt can always try again. Should two attempts both succeed, the
    settlement rules refund (or send to review) the second, so the order is paid once.
    """
    order = await session.scalar(
        select(Order)
        .where(Order.id == order_id, Order.merchant_id == merchant_id)
        .with_for_update()
    )
    if order is None:
        raise NotFound("Order not found")
    if order.status == OrderStatus.PAID:
        raise BadRequest(ORDER_ALREADY_PAID)
    # A payment link's order carries the link's terms (NULL on any other order), so they hold
    # for every way of paying it (the link page, /checkout, the public and authenticated API),
    # read from the row just locked: no query of its own, and a cancel (which updates this row)
    # is either before this attempt or after it.
    refusal = closed_reason(
        order.link_cancelled_at, order.link_expires_at, utc_now()
    ) or method_refusal(order.link_methods, method)
    if refusal is not None:
        raise BadRequest(refusal)
    retried = order.status != OrderStatus.CREATED
    order.status = order_status_after_payment_created(OrderStatus(order.status))
    order.updated_at = utc_now()
    return order, retried


async def add_payment(session: AsyncSession, order: Order, method: str, **details: Any) -> Payment:
    """Write a `pending` payment for the whole order, with its `payment.created` and
    `payment.pending` events; `details` are the method's own columns."""
    payment = Payment(
        id=await fresh_id(session, Payment, ids.PAYMENT),
        order_id=order.id,
        merchant_id=order.merchant_id,
        livemode=order.livemode,
        amount=order.amount,
        currency=order.currency,
        method=method,
        status=PaymentStatus.PENDING,
        captured=False,
        **details,
    )
    session.add(payment)
    await session.flush()
    data = resources.payment_event_data(payment)
    for event_type in (EventType.PAYMENT_CREATED, EventType.PAYMENT_PENDING):
        await record_event(
            session, order.merchant_id, event_type, payment.id, data, livemode=order.livemode
        )
    return payment
