"""Lists of ledger rows: an account's entries, and transfers (of one payment, or all)."""

import uuid
from collections import defaultdict

from sqlalchemy import func, select

from hazina.db.database import Database
from hazina.db.models import LedgerEntry, LedgerTransfer
from hazina.services.ledger.accounts import load_account
from hazina.services.ledger.views import entry_view, transfer_view
from hazina.services.pages import Page


async def list_entries(
    db: Database, merchant_id: uuid.UUID, account_id: str, limit: int, offset: int
) -> Page:
    """An account's entries, newest first, each with its transfer's kind, payment and order;
    404 if the account is not this merchant's."""
    async with db.read() as session:
        await load_account(session, merchant_id, account_id)
        mine = (LedgerEntry.account_id == account_id, LedgerEntry.merchant_id == merchant_id)
        total = await session.scalar(select(func.count()).select_from(LedgerEntry).where(*mine))
        rows = await session.execute(
            select(LedgerEntry, LedgerTransfer)
            .join(LedgerTransfer, LedgerTransfer.id == LedgerEntry.transfer_id)
            .where(*mine)
            .order_by(LedgerEntry.id.desc())
            .limit(limit)
            .offset(offset)
        )
        data = [entry_view(entry, transfer) for entry, transfer in rows]
    return Page(data, int(total or 0), limit, offset)


async def list_transfers(
    db: Database, merchant_id: uuid.UUID, payment_id: str | None, limit: int, offset: int
) -> Page:
    """Transfers newest first, each with its entries (one more query for the whole page)."""
    filters = [LedgerTransfer.merchant_id == merchant_id]
    if payment_id is not None:
        filters.append(LedgerTransfer.payment_id == payment_id)
    async with db.read() as session:
        total = await session.scalar(
            select(func.count()).select_from(LedgerTransfer).where(*filters)
        )
        transfers = list(
            await session.scalars(
                select(LedgerTransfer)
                .where(*filters)
                .order_by(LedgerTransfer.created_at.desc(), LedgerTransfer.id.desc())
                .limit(limit)
                .offset(offset)
            )
        )
        entries: dict[str, list[LedgerEntry]] = defaultdict(list)
        if transfers:
            for entry in await session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.transfer_id.in_([t.id for t in transfers]))
                .order_by(LedgerEntry.id)
            ):
                entries[entry.transfer_id].append(entry)
    data = [transfer_view(transfer, entries[transfer.id]) for transfer in transfers]
    return Page(data, int(total or 0), limit, offset)
