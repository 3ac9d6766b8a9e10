"""Orders: what a customer must pay."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import Merchant, Order
from hazina.db.prepared import Prepared, Row
from hazina.domain import ids
from hazina.domain.clock import utc_now
from hazina.domain.currencies import is_currency
from hazina.domain.errors import BadRequest, NotFound
from hazina.domain.ledger import OrderTerms, Split, order_terms
from hazina.domain.states import OrderStatus
from hazina.services import resources
from hazina.services.idempotency import IdempotencyRequest, StoredResponse, respond_once
from hazina.services.ledger.accounts import check_order_accounts
from hazina.services.lookups import OwnedLookup

MINIMUM_AMOUNT = 100
# The largest amount a BIGINT column holds; above it the database would fail, not the request.
MAXIMUM_AMOUNT = 2**63 - 1


_orders = cast(Table, Order.__table__)
_merchants = cast(Table, Merchant.__table__)
# The public routes and the checkout know an order only by its id: an inactive merchant's orders
# are not found there, so they cannot be paid.
PUBLIC_ORDER = Prepared(
    select(_orders)
    .join(_merchants, _merchants.c.id == _orders.c.merchant_id)
    .where(_orders.c.id == bindparam("order_id"), _merchants.c.is_active.is_(True))
)
_INSERT_ORDER = Prepared(insert(_orders))
ORDERS = OwnedLookup(Order, "Order")


@dataclass(frozen=True, slots=True)
class NewOrder:
    amount: int
    currency: str = "INR"
    receipt: str | None = None
    notes: dict[str, Any] | None = None
    # #14 ledger: who else is owed a share when it is paid, or the wallet a top-up credits.
    splits: tuple[Split, ...] = ()
    platform_fee: int | None = None
    platform_fee_bps: int | None = None
    purpose: str | None = None
    customer_account_id: str | None = None

    def ledger_terms(self) -> OrderTerms | None:
        return order_terms(
            self.amount,
            self.splits,
            platform_fee=self.platform_fee,
            platform_fee_bps=self.platform_fee_bps,
            purpose=self.purpose,
            customer_account_id=self.customer_account_id,
        )


def validate_order(order: NewOrder) -> None:
    if order.amount < MINIMUM_AMOUNT:
        raise BadRequest(f"amount must be at least {MINIMUM_AMOUNT}")
    if order.amount > MAXIMUM_AMOUNT:
        raise BadRequest(f"amount must be at most {MAXIMUM_AMOUNT}")
    # Exactly as ISO writes it: every amount is read with the currency's own decimals, so a code
    # Hazina has no exponent for could not be charged, refunded or shown.
    if not is_currency(order.currency):
        raise BadRequest("currency must be an active ISO 4217 code in capitals, such as USD")


def order_values(merchant_id: uuid.UUID, new: NewOrder, *, livemode: bool) -> dict[str, Any]:
    """A new order's row, validated: the one shape every way of creating an order inserts."""
    validate_order(new)
    terms = new.ledger_terms()
    now = utc_now()
    return {
        "id": ids.new_id(ids.ORDER),
        "merchant_id": merchant_id,
        "livemode": livemode,
        "amount": new.amount,
        "currency": new.currency,
        "receipt": new.receipt,
        "notes": new.notes,
        "ledger_terms": None if terms is None else terms.to_json(),
        # A payment link's terms, which `links.store.create_link` sets on its own order.
        "link_methods": None,
        "link_expires_at": None,
        "link_cancelled_at": None,
        "status": OrderStatus.CREATED.value,
        "created_at": now,
        "updated_at": now,
    }


async def insert_order(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert `order_values` in the caller's transaction (a payment link and its order)."""
    await session.execute(_INSERT_ORDER.statement, values)


async def create_order(
    db: Database,
    merchant_id: uuid.UUID,
    new: NewOrder,
    idempotency: IdempotencyRequest | None,
    ttl: timedelta,
    *,
    livemode: bool,
) -> StoredResponse:
    """An order of the merchant twin `merchant_id`, in that twin's mode.

    Without an Idempotency-Key it is one INSERT, committed on its own. The id is not checked
    against the table first: two of 62^16 random ids colliding is not worth a round trip on
    every order, and the primary key would refuse it anyway.
    """
    values = order_values(merchant_id, new, livemode=livemode)
    body = resources.order_created(Row(values))
    terms = values["ledger_terms"]
    if idempotency is None and terms is None:
        await db.write_one(_INSERT_ORDER, values)
        return StoredResponse(201, resources.render(body))

    async def insert(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        if terms is not None:
            await check_order_accounts(
                session, merchant_id, OrderTerms.from_json(terms), new.currency
            )
        await insert_order(session, values)
        return 201, body

    return await respond_once(db, merchant_id, idempotency, ttl, insert)


async def get_order(db: Database, merchant_id: uuid.UUID, order_id: str) -> dict[str, Any]:
    return resources.order_detail(await ORDERS.load(db, merchant_id, order_id))


async def find_public_order(db: Database, order_id: str) -> Row:
    """The order behind a public (checkout) request, if its merchant is active."""
    order = await db.fetch_one(PUBLIC_ORDER, {"order_id": order_id})
    if order is None:
        raise NotFound("Order not found")
    return order


async def get_public_order(db: Database, order_id: str) -> dict[str, Any]:
    return resources.order_public(await find_public_order(db, order_id))
