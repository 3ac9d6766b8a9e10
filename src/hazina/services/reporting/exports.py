"""Payments as CSV, streamed: keyset pages of `BATCH` rows, each read in its own short read
transaction, so an export of any size holds one batch in memory and no connection between
batches (a slow download never pins a pooled connection)."""

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from hazina.db.database import Database
from hazina.db.models import Order, Payment
from hazina.services import resources
from hazina.services.reporting.filters import PaymentFilter
from hazina.services.reporting.sheets import csv_header, csv_lines

BATCH = 500
# The API's payment object (resources.payment_detail), flattened, plus the order's receipt.
PAYMENT_COLUMNS = (
    "id",
    "order_id",
    "receipt",
    "amount",
    "currency",
    "method",
    "provider",
    "status",
    "livemode",
    "captured",
    "amount_refunded",
    "amount_received",
    "vpa",
    "card_network",
    "card_last4",
    "provider_reference",
    "review_reason",
    "error_code",
    "error_description",
    "created_at",
    "updated_at",
)


async def payment_batches(
    db: Database, merchant_id: uuid.UUID, filters: PaymentFilter, batch: int = BATCH
) -> AsyncIterator[list[dict[str, Any]]]:
    """The filtered payments in the API list's order (newest first), `batch` at a time.

    Keyset, not OFFSET: each page starts after the last row of the previous one, so a payment
    created during the export (newer than where the export stands) neither shifts nor repeats
    rows."""
    after: tuple[datetime, str] | None = None
    while True:
        where = filters.conditions(merchant_id)
        if after is not None:
            created, payment_id = after
            # The first condition is a range on the (merchant_id, created_at) index; with the
            # OR alone SQLite's plan read every row of the merchant on every batch.
            where.append(Payment.created_at <= created)
            where.append(or_(Payment.created_at < created, Payment.id < payment_id))
        async with db.read() as session:
            rows = list(
                await session.scalars(
                    select(Payment)
                    .where(*where)
                    .order_by(Payment.created_at.desc(), Payment.id.desc())
                    .limit(batch)
                )
            )
            order_ids = {row.order_id for row in rows}
            found = await session.execute(
                select(Order.id, Order.receipt).where(Order.id.in_(order_ids))
            )
            receipts: dict[str, str | None] = {row.id: row.receipt for row in found}
        if not rows:
            return
        yield [
            resources.payment_detail(row)
            | {"provider": row.provider, "receipt": receipts.get(row.order_id)}
            for row in rows
        ]
        if len(rows) < batch:
            return
        after = (rows[-1].created_at, rows[-1].id)


async def payments_csv(
    db: Database, merchant_id: uuid.UUID, filters: PaymentFilter
) -> AsyncIterator[str]:
    """The header, then one chunk of CSV lines per batch."""
    yield csv_header(PAYMENT_COLUMNS)
    async for rows in payment_batches(db, merchant_id, filters):
        yield csv_lines(rows, PAYMENT_COLUMNS)
