"""Orders: what a customer must pay."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import Order
from hazina.db.statements import fresh_id
from hazina.domain import ids
from hazina.domain.errors import BadRequest, NotFound
from hazina.domain.states import OrderStatus
from hazina.services import resources
from hazina.services.idempotency import IdempotencyRequest, StoredResponse, respond_once

MINIMUM_AMOUNT = 100
# The largest amount a BIGINT column holds; above it the database would fail, not the request.
MAXIMUM_AMOUNT = 2**63 - 1


@dataclass(frozen=True, slots=True)
class NewOrder:
    amount: int
    currency: str = "INR"
    receipt: str | None = None
    notes: dict[str, Any] | None = None


def validate_order(order: NewOrder) -> None:
    if order.amount < MINIMUM_AMOUNT:
        raise BadRequest(f"amount must be at least {MINIMUM_AMOUNT}")
    if order.amount > MAXIMUM_AMOUNT:
        raise BadRequest(f"amount must be at most {MAXIMUM_AMOUNT}")
    if not (len(order.currency) == 3 and order.currency.isascii() and order.currency.isupper()):
        raise BadRequest("currency must be a 3-letter ISO-4217 code")


async def create_order(
    db: Database,
    merchant_id: uuid.UUID,
    new: NewOrder,
    idempotency: IdempotencyRequest | None,
    ttl: timedelta,
) -> StoredResponse:
    validate_order(new)

    async def insert(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        order = Order(
            id=await fresh_id(session, Order, ids.ORDER),
            merchant_id=merchant_id,
            amount=new.amount,
            currency=new.currency,
            receipt=new.receipt,
            notes=new.notes,
            status=OrderStatus.CREATED,
        )
        session.add(order)
        await session.flush()
        return 201, resources.order_created(order)

    return await respond_once(db, merchant_id, idempotency, ttl, insert)


async def get_order(db: Database, merchant_id: uuid.UUID, order_id: str) -> dict[str, Any]:
    async with db.read() as session:
        order = await session.scalar(
            select(Order).where(Order.id == order_id, Order.merchant_id == merchant_id)
        )
    if order is None:
        raise NotFound("Order not found")
    return resources.order_detail(order)


async def get_public_order(db: Database, order_id: str) -> dict[str, Any]:
    async with db.read() as session:
        order = await session.get(Order, order_id)
    if order is None:
        raise NotFound("Order not found")
    return resources.order_public(order)
