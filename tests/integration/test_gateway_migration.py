"""Migration 0013 (generic gateways: named provider accounts) on SQLite and PostgreSQL.

An account saved before it keeps working under the name `''`; afterwards a merchant may hold
several generic gateways but still one account per other provider. The downgrade refuses while
a named account exists (it would lose it) and works once none does.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from hazina.db.database import Database
from hazina.db.schema import downgrade, migrate

MERCHANT_ID = uuid.UUID("2a0c4b8e-2f3a-4c1d-9e5f-0a1b2c3d4e5f")
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "merchant": sa.Uuid(),
    "now": sa.DateTime(timezone=True),
}


def _execute(connection: Connection, statement: str, **params: object) -> None:
    typed = sa.text(statement).bindparams(
        *(
            sa.bindparam(name, type_=kind)
            for name, kind in _TYPES.items()
            if f":{name}" in statement
        )
    )
    connection.execute(typed, {"merchant": MERCHANT_ID, "now": NOW, **params})


def _seed(connection: Connection) -> None:
    _execute(
        connection,
        "INSERT INTO merchants (id, account_id, livemode, name, email, api_key, api_secret_hash,"
        " is_active, created_at, updated_at) VALUES (:merchant, :merchant, false, 'Old Shop',"
        " 'old@example.com', 'key_test_oldshop0002', :hash, true, :now, :now)",
        hash="0" * 64,
    )
    _execute(connection, _ACCOUNT.format(id="pa_oldstripe000001", provider="stripe"))


_ACCOUNT = (
    "INSERT INTO provider_accounts (id, merchant_id, provider, mode, secrets, hints, created_at,"
    " updated_at) VALUES ('{id}', :merchant, '{provider}', 'test', '{{}}', '{{}}', :now, :now)"
)
_NAMED = (
    "INSERT INTO provider_accounts (id, merchant_id, provider, name, mode, secrets, hints,"
    " created_at, updated_at) VALUES ('{id}', :merchant, 'generic', '{name}', 'test', '{{}}',"
    " '{{}}', :now, :now)"
)


def _names(connection: Connection) -> dict[str, str]:
    rows = connection.execute(sa.text("SELECT id, name FROM provider_accounts"))
    return {str(account): str(name) for account, name in rows}


def _add_gateways(connection: Connection) -> None:
    for index, name in enumerate(("shop", "kiosk")):
        _execute(connection, _NAMED.format(id=f"pa_gateway00000{index}", name=name))


def _add_second_stripe(connection: Connection) -> None:
    _execute(connection, _ACCOUNT.format(id="pa_secondstripe001", provider="stripe"))


def _remove_gateways(connection: Connection) -> None:
    connection.execute(sa.text("DELETE FROM provider_accounts WHERE provider = 'generic'"))


async def test_0013_names_accounts_and_its_downgrade_keeps_them_safe(fresh_db: Database) -> None:
    await migrate(fresh_db, "0012")
    async with fresh_db.engine.begin() as connection:
        await connection.run_sync(_seed)

    await migrate(fresh_db, "0013")
    async with fresh_db.engine.begin() as connection:
        assert await connection.run_sync(_names) == {"pa_oldstripe000001": ""}
        await connection.run_sync(_add_gateways)
    with pytest.raises(IntegrityError):
        async with fresh_db.engine.begin() as connection:
            await connection.run_sync(_add_second_stripe)

    with pytest.raises(RuntimeError, match="2 generic gateway accounts"):
        await downgrade(fresh_db, "0012")
    async with fresh_db.engine.begin() as connection:
        assert len(await connection.run_sync(_names)) == 3  # the refusal changed nothing
        await connection.run_sync(_remove_gateways)
    await downgrade(fresh_db, "0012")
    async with fresh_db.engine.connect() as connection:
        assert await connection.run_sync(_columns) == {
            "id",
            "merchant_id",
            "provider",
            "mode",
            "secrets",
            "hints",
            "created_at",
            "updated_at",
        }


def _columns(connection: Connection) -> set[str]:
    return {column["name"] for column in sa.inspect(connection).get_columns("provider_accounts")}
