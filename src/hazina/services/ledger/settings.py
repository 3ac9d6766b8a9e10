"""A merchant twin's ledger settings (`GET`/`PUT /api/v1/ledger/settings`): whether platform
fees stay with the merchant when a payment is refunded. A change is audited."""

import uuid
from typing import Any

from sqlalchemy import select

from hazina.db.database import Database
from hazina.db.models import LedgerSetting
from hazina.db.statements import insert_unless_exists
from hazina.domain.clock import utc_now
from hazina.services.audit import record_audit


def _view(keep_fees_on_refunds: bool) -> dict[str, Any]:
    return {"object": "ledger_settings", "keep_fees_on_refunds": keep_fees_on_refunds}


async def get_settings(db: Database, merchant_id: uuid.UUID) -> dict[str, Any]:
    async with db.read() as session:
        keep = await session.scalar(
            select(LedgerSetting.keep_fees_on_refunds).where(
                LedgerSetting.merchant_id == merchant_id
            )
        )
    return _view(bool(keep))


async def update_settings(
    db: Database, merchant_id: uuid.UUID, *, keep_fees_on_refunds: bool, actor: str
) -> dict[str, Any]:
    """Applies to refunds from now on; what was reversed before stays as it was."""
    async with db.transaction() as session:
        values = {
            "merchant_id": merchant_id,
            "keep_fees_on_refunds": keep_fees_on_refunds,
            "updated_at": utc_now(),
        }
        if not await insert_unless_exists(session, LedgerSetting, values):
            row = await session.get_one(LedgerSetting, merchant_id, with_for_update=True)
            row.keep_fees_on_refunds = keep_fees_on_refunds
            row.updated_at = utc_now()
        record_audit(
            session,
            actor=actor,
            action="ledger.settings_updated",
            target=f"merchant:{merchant_id}",
            merchant_id=merchant_id,
            details={"keep_fees_on_refunds": keep_fees_on_refunds},
        )
    return _view(keep_fees_on_refunds)
