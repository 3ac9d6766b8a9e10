"""A ledger account's entries as CSV, streamed like the payments export: keyset pages by entry
id (the API's order, newest first), each batch read in its own short read transaction."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select

from hazina.db.database import Database
from hazina.db.models import LedgerEntry, LedgerTransfer
from hazina.services.ledger.accounts import load_account
from hazina.services.ledger.views import entry_view
from hazina.services.reporting.exports import BATCH
from hazina.services.reporting.sheets import csv_header, csv_lines

# The API's entry object (ledger.views.entry_view), column by column.
ENTRY_COLUMNS = (
    "id",
    "transfer_id",
    "account_id",
    "currency",
    "bucket",
    "amount",
    "transfer_kind",
    "payment_id",
    "refund_id",
    "order_id",
    "created_at",
)


async def check_account(db: Database, merchant_id: uuid.UUID, account_id: str) -> None:
    """404 before the response starts: a stream cannot turn into an error page halfway."""
    async with db.read() as session:
        await load_account(session, merchant_id, account_id)


async def entry_batches(
    db: Database, merchant_id: uuid.UUID, account_id: str, batch: int = BATCH
) -> AsyncIterator[list[dict[str, Any]]]:
    before: int | None = None
    while True:
        where = [LedgerEntry.account_id == account_id, LedgerEntry.merchant_id == merchant_id]
        if before is not None:
            where.append(LedgerEntry.id < before)
        async with db.read() as session:
            rows = (
                await session.execute(
                    select(LedgerEntry, LedgerTransfer)
                    .join(LedgerTransfer, LedgerTransfer.id == LedgerEntry.transfer_id)
                    .where(*where)
                    .order_by(LedgerEntry.id.desc())
                    .limit(batch)
                )
            ).all()
        if not rows:
            return
        yield [entry_view(entry, transfer) for entry, transfer in rows]
        if len(rows) < batch:
            return
        before = rows[-1][0].id


async def entries_csv(db: Database, merchant_id: uuid.UUID, account_id: str) -> AsyncIterator[str]:
    yield csv_header(ENTRY_COLUMNS)
    async for rows in entry_batches(db, merchant_id, account_id):
        yield csv_lines(rows, ENTRY_COLUMNS)
