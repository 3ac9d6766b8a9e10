"""Orders: what a customer must pay."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import Merchant, Order
from hazina.db.statements import fresh_id
from hazina.domain import ids
from hazina.domain.currencies import is_currency
from hazina.domain.errors import BadRequest, NotFound
from hazina.domain.states import OrderStatus
from hazina.services import resources
from hazina.services.idempotency import IdempotencyRequest, StoredResponse, respond_once

MINIMUM_AMOUNT = 100
# The largest amount a BIGINT column holds; above it the database would fail, not the request.
MAXIMUM_AMOUNT = 2**63 - 1


def public_order(order_id: str, *columns: Any) -> Select[Any]:
    """`columns` of the order, for the public routes and the checkout, which know it only by its
    id: an inactive merchant's orders are not found there, so they cannot be paid."""
    return (
        select(*columns)
        .join(Merchant, Merchant.id == Order.merchant_id)
        .where(Order.id == order_id, Merchant.is_active.is_(True))
    )


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
    # Exactly as ISO writes it: every amount is read with the currency's own decimals, so a code
    # Hazina has no exponent for could not be charged, refunded or shown.
    if not is_currency(order.currency):
        raise BadRequest("currency must be an active ISO 4217 code in capitals, such as USD")


async def create_order(
    db: Database,
    merchant_id: uuid.UUID,
    new: NewOrder,
    idempotency: IdempotencyRequest | None,
    ttl: timedelta,
    *,
    livemode: bool,
) -> StoredResponse:
    """An order of the merchant twin `merchant_id`, in that twin's mode."""
    validate_order(new)

    async def insert(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        order = Order(
            id=await fresh_id(session, Order, ids.ORDER),
            merchant_id=merchant_id,
            livemode=livemode,
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
        order = await session.scalar(public_order(order_id, Order))
    if order is None:
        raise NotFound("Order not found")
    return resources.order_public(order)
