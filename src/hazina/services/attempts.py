"""Opening a payment attempt on an order: the rule every method shares."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.models import Order, Payment
from hazina.domain.clock import utc_now
from hazina.domain.errors import BadRequest, NotFound
from hazina.domain.states import OrderStatus, PaymentStatus, order_status_after_payment_created


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
