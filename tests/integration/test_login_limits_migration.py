"""Migration 0017 drops `login_attempts` (the rate limiter counts logins now), whatever it held;
its downgrade recreates the table as migration 0010 made it."""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, inspect

from hazina.db.database import Database
from hazina.db.schema import downgrade, migrate


def _insert_a_count(connection: Connection) -> None:
    connection.execute(
        sa.text(
            "INSERT INTO login_attempts (key, count, expires_at) VALUES ('pair:abc', 3, :expires)"
        ).bindparams(sa.bindparam("expires", type_=sa.DateTime(timezone=True))),
        {"expires": datetime(2026, 12, 2, 12, 15, tzinfo=UTC)},
    )


def _table(connection: Connection) -> dict[str, Any] | None:
    inspector = inspect(connection)
    if "login_attempts" not in inspector.get_table_names():
        return None
    return {
        "columns": {
            str(column["name"]): (column["nullable"], column["type"].python_type)
            for column in inspector.get_columns("login_attempts")
        },
        "primary_key": inspector.get_pk_constraint("login_attempts")["constrained_columns"],
    }


async def test_0017_drops_login_attempts_and_its_downgrade_recreates_them(
    fresh_db: Database,
) -> None:
    await migrate(fresh_db, "0016")
    async with fresh_db.engine.begin() as connection:
        as_0010_made_it = await connection.run_sync(_table)
        await connection.run_sync(_insert_a_count)
    assert as_0010_made_it == {
        "columns": {"key": (False, str), "count": (False, int), "expires_at": (False, datetime)},
        "primary_key": ["key"],
    }

    await migrate(fresh_db, "0017")
    async with fresh_db.engine.connect() as connection:
        assert await connection.run_sync(_table) is None

    await downgrade(fresh_db, "0016")
    async with fresh_db.engine.begin() as connection:
        assert await connection.run_sync(_table) == as_0010_made_it
        await connection.run_sync(_insert_a_count)  # usable by 0010's code again
