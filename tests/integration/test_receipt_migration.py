"""Migration 0008 (receipts keyed per provider account) on receipts written before it.

A database at 0007 holds three receipts: one written by a notification to a merchant's account,
one Hazina wrote itself about a payment of another account (its own report), and one whose
account cannot be known. After the upgrade each has its account (`''` for the unknown), the same
event id can be received once more under another account, and the downgrade works.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from hazina.db.database import Database
from hazina.db.schema import downgrade, migrate

MERCHANT_ID = uuid.UUID("1f0c4b8e-2f3a-4c1d-9e5f-0a1b2c3d4e5f")
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SEED = [
    "INSERT INTO merchants (id, account_id, livemode, name, email, api_key, api_secret_hash,"
    " is_active, created_at, updated_at) VALUES (:merchant, :merchant, :false, 'Old Shop',"
    " 'old@example.com', 'key_test_oldshop0001', :hash, :true, :now, :now)",
    "INSERT INTO orders (id, merchant_id, amount, currency, status, livemode, created_at,"
    " updated_at) VALUES ('order_oldshop000000001', :merchant, 50000, 'TZS', 'paid', :false,"
    " :now, :now)",
    "INSERT INTO payments (id, order_id, merchant_id, amount, currency, method, status, captured,"
    " capture_method, provider, provider_account_id, livemode, created_at, updated_at)"
    " VALUES ('pay_oldshop0000000001', 'order_oldshop000000001', :merchant, 50000, 'TZS',"
    " 'stripe', 'failed', :false, 'automatic', 'stripe', 'pa_oldshopOwn00001', :false,"
    " :now, :now)",
    "INSERT INTO inbound_events (id, provider, provider_account_id, merchant_id, status, body,"
    " attempts, received_at) VALUES ('ie_oldshop000000001', 'stripe', 'pa_oldshopHook0001',"
    " :merchant, 'processed', :body, 0, :now)",
    "INSERT INTO provider_event_receipts (provider, dedup_key, inbound_event_id, created_at)"
    " VALUES ('stripe', 'evt_fromhook', 'ie_oldshop000000001', :now),"
    " ('stripe', 'hazina:superseded:pay_oldshop0000000001', NULL, :now),"
    " ('stripe', 'reconcile:cs_unknown:complete', NULL, :now)",
]
PARAMS = {
    "merchant": MERCHANT_ID,
    "now": NOW,
    "hash": "0" * 64,
    "true": True,
    "false": False,
    "body": b"{}",
}


def _seed(connection: Connection) -> None:
    types: dict[str, sa.types.TypeEngine[Any]] = {
        "merchant": sa.Uuid(),
        "now": sa.DateTime(timezone=True),
        "body": sa.LargeBinary(),
    }
    for statement in SEED:
        used = {name: value for name, value in PARAMS.items() if f":{name}" in statement}
        typed = sa.text(statement).bindparams(
            *(sa.bindparam(name, type_=types[name]) for name in used if name in types)
        )
        connection.execute(typed, used)


def _receipts(connection: Connection) -> dict[str, str]:
    rows = connection.execute(
        sa.text("SELECT dedup_key, provider_account_id FROM provider_event_receipts")
    )
    return {str(key): str(account) for key, account in rows}


def _insert_same_event_for_another_account(connection: Connection) -> None:
    connection.execute(
        sa.text(
            "INSERT INTO provider_event_receipts (provider, provider_account_id, dedup_key,"
            " created_at) VALUES ('stripe', 'pa_someoneElse0001', 'evt_fromhook', :now)"
        ).bindparams(sa.bindparam("now", type_=sa.DateTime(timezone=True))),
        {"now": NOW},
    )


async def test_0008_keys_existing_receipts_by_their_account(fresh_db: Database) -> None:
    await migrate(fresh_db, "0007")
    async with fresh_db.engine.begin() as connection:
        await connection.run_sync(_seed)

    await migrate(fresh_db, "0008")
    async with fresh_db.engine.begin() as connection:
        assert await connection.run_sync(_receipts) == {
            "evt_fromhook": "pa_oldshopHook0001",
            "hazina:superseded:pay_oldshop0000000001": "pa_oldshopOwn00001",
            "reconcile:cs_unknown:complete": "",
        }
        await connection.run_sync(_insert_same_event_for_another_account)

    await downgrade(fresh_db, "0007")
    async with fresh_db.engine.connect() as connection:
        keys = await connection.run_sync(_dedup_keys)
    assert keys == [
        "evt_fromhook",
        "hazina:superseded:pay_oldshop0000000001",
        "reconcile:cs_unknown:complete",
    ]


def _dedup_keys(connection: Connection) -> list[str]:
    rows = connection.execute(sa.text("SELECT dedup_key FROM provider_event_receipts"))
    return sorted(str(key) for key in rows.scalars())
