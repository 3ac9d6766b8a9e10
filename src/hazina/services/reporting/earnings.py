"""A ledger account's money per order (a creator's earnings on each sale, a wallet's top-ups
and spends), summed by the database from the account's entries."""

import uuid
from typing import Any

from sqlalchemy import case, func, select

from hazina.db.database import Database
from hazina.db.models import LedgerEntry, LedgerTransfer
from hazina.domain.clock import iso_z
from hazina.services.ledger.accounts import load_account
from hazina.services.ledger.charges import CHARGE
from hazina.services.pages import Page


async def earnings_by_order(
    db: Database, merchant_id: uuid.UUID, account_id: str, limit: int, offset: int
) -> Page:
    """Per order, newest first: what its charges credited the account (`earned`), what refunds
    took back (`reversed`) and what remains (`net`). A release only moves money from pending to
    available within the account, so it adds nothing; transfers of no order (payouts) are
    left out. 404 if the account is not this merchant's."""
    per_order = (
        LedgerEntry.account_id == account_id,
        LedgerEntry.merchant_id == merchant_id,
        LedgerTransfer.order_id.is_not(None),
    )
    earned = func.sum(case((LedgerTransfer.kind == CHARGE, LedgerEntry.amount), else_=0))
    net = func.sum(LedgerEntry.amount)
    async with db.read() as session:
        await load_account(session, merchant_id, account_id)
        joined = (
            select(LedgerTransfer.order_id)
            .select_from(LedgerEntry)
            .join(LedgerTransfer, LedgerTransfer.id == LedgerEntry.transfer_id)
        )
        total = await session.scalar(
            select(func.count()).select_from(joined.where(*per_order).distinct().subquery())
        )
        rows = await session.execute(
            select(
                LedgerTransfer.order_id,
                LedgerEntry.currency,
                earned,
                net,
                func.min(LedgerEntry.created_at),
            )
            .select_from(LedgerEntry)
            .join(LedgerTransfer, LedgerTransfer.id == LedgerEntry.transfer_id)
            .where(*per_order)
            .group_by(LedgerTransfer.order_id, LedgerEntry.currency)
            .order_by(func.max(LedgerEntry.id).desc())
            .limit(limit)
            .offset(offset)
        )
        data: list[dict[str, Any]] = [
            {
                "order_id": order_id,
                "currency": currency,
                "earned": int(earned_amount),
                "reversed": int(earned_amount) - int(net_amount),
                "net": int(net_amount),
                "first_at": iso_z(first_at),
            }
            for order_id, currency, earned_amount, net_amount, first_at in rows
        ]
    return Page(data, int(total or 0), limit, offset)
