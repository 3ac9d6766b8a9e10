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
from hazina.domain.states import OrderStatus, PaymentStatus, order_status_after_payment_created
from hazina.services import resources
from hazina.services.events import record_event


async def open_attempt(session: AsyncSession, merchant_id: uuid.UUID, order_id: str) -> Order:
    """Lock the order a new payment attempt is for, and refuse it if the order is paid or
    already has a payment in flight, so one order is never charged twice."""
    order = await session.scalar(
        select(Order)
        .where(Order.id == order_id, Order.merchant_id == merchant_id)
        .with_for_update()
    )
    if order is None:
        raise NotFound("Order not found")
    if order.status == OrderStatus.PAID:
        raise BadRequest("Order is already paid")
    in_flight = await session.scalar(
        select(Payment.id)
        .where(Payment.order_id == order.id, Payment.status == PaymentStatus.PENDING)
        .limit(1)
    )
    if in_flight is not None:
        raise BadRequest(f"Order already has a payment in progress: {in_flight}")
    order.status = order_status_after_payment_created(OrderStatus(order.status))
    order.updated_at = utc_now()
    return order


async def add_payment(session: AsyncSession, order: Order, method: str, **details: Any) -> Payment:
    """Write a `pending` payment for the whole order, with its `payment.created` and
    `payment.pending` events; `details` are the method's own columns."""
    payment = Payment(
        id=await fresh_id(session, Payment, ids.PAYMENT),
        order_id=order.id,
        merchant_id=order.merchant_id,
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
    await record_event(session, order.merchant_id, EventType.PAYMENT_CREATED, payment.id, data)
    await record_event(session, order.merchant_id, EventType.PAYMENT_PENDING, payment.id, data)
    return payment
