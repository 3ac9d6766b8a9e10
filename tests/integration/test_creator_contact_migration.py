"""Migration 0016 (creator contacts, creator notification channels) on SQLite and PostgreSQL.

A database at 0015 holds a merchant's notification settings and a creator account. After the
upgrade the settings tell no creator (`[]` on both new channel columns) and the creator can be
given a contact; the downgrade drops the contacts and the columns and keeps the settings.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from hazina.db.database import Database
from hazina.db.schema import downgrade, migrate

MERCHANT_ID = uuid.UUID("3b0c4b8e-2f3a-4c1d-9e5f-0a1b2c3d4e5f")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SEED = [
    "INSERT INTO merchants (id, account_id, livemode, name, email, api_key, api_secret_hash,"
    " is_active, created_at, updated_at) VALUES (:merchant, :merchant, :false, 'Old Market',"
    " 'old@example.com', 'key_test_oldmarket01', :hash, :true, :now, :now)",
    "INSERT INTO notification_settings (merchant_id, merchant_email, merchant_phone,"
    " paid_channels, receipt_channels, updated_at) VALUES (:merchant, 'owner@example.com',"
    " NULL, '[\"email\"]', '[]', :now)",
    "INSERT INTO ledger_accounts (id, merchant_id, livemode, kind, currency, name, pending,"
    " available, reserved, created_at, updated_at) VALUES ('acct_oldcreator00001', :merchant,"
    " :false, 'creator', 'TZS', 'Asha', 0, 0, 0, :now, :now)",
]
CONTACT = (
    "INSERT INTO creator_contacts (account_id, merchant_id, name, email, phone, created_at,"
    " updated_at) VALUES ('acct_oldcreator00001', :merchant, 'Asha', 'asha@example.com',"
    " '+255712345678', :now, :now)"
)
TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "merchant": sa.Uuid(),
    "now": sa.DateTime(timezone=True),
}
PARAMS = {"merchant": MERCHANT_ID, "now": NOW, "hash": "0" * 64, "true": True, "false": False}


def _run(connection: Connection, statement: str) -> None:
    used = {name: value for name, value in PARAMS.items() if f":{name}" in statement}
    typed = sa.text(statement).bindparams(
        *(sa.bindparam(name, type_=TYPES[name]) for name in used if name in TYPES)
    )
    connection.execute(typed, used)


def _seed(connection: Connection) -> None:
    for statement in SEED:
        _run(connection, statement)


def _add_contact(connection: Connection) -> None:
    _run(connection, CONTACT)


def _settings(connection: Connection) -> dict[str, Any]:
    table = sa.Table("notification_settings", sa.MetaData(), autoload_with=connection)
    row = connection.execute(sa.select(table)).mappings().one()
    return dict(row)


def _tables(connection: Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


async def test_0016_adds_creator_contacts_and_channels_and_its_downgrade_drops_them(
    fresh_db: Database,
) -> None:
    await migrate(fresh_db, "0015")
    async with fresh_db.engine.begin() as connection:
        await connection.run_sync(_seed)

    await migrate(fresh_db, "0016")
    async with fresh_db.engine.begin() as connection:
        settings = await connection.run_sync(_settings)
        await connection.run_sync(_add_contact)
    assert settings["paid_channels"] == ["email"]
    assert settings["earning_channels"] == []
    assert settings["payout_channels"] == []

    await downgrade(fresh_db, "0015")
    async with fresh_db.engine.connect() as connection:
        settings = await connection.run_sync(_settings)
        tables = await connection.run_sync(_tables)
    assert "creator_contacts" not in tables
    assert settings["merchant_email"] == "owner@example.com"
    assert "earning_channels" not in settings
    assert "payout_channels" not in settings
