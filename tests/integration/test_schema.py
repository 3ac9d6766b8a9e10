"""The migrations build exactly the models' schema, on SQLite and on PostgreSQL."""

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import IntegrityError

from hazina.db.database import Database
from hazina.db.models import Base
from hazina.db.schema import alembic_config, is_current, migrate
from tests.databases import sqlite_url

CONTRACT_INDEXES = {
    "orders": {"idx_orders_merchant_id": ["merchant_id"]},
    "payments": {"idx_payments_order_id": ["order_id"], "idx_payments_status": ["status"]},
}


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _indexes(connection: Connection) -> dict[str, dict[str, list[str]]]:
    inspector = inspect(connection)
    found: dict[str, dict[str, list[str]]] = {}
    for table in CONTRACT_INDEXES:
        found[table] = {
            str(index["name"]): [str(column) for column in index["column_names"]]
            for index in inspector.get_indexes(table)
        }
    return found


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _downgrade_to_base(connection: Connection) -> None:
    command.downgrade(alembic_config(connection), "base")


async def test_migrations_produce_exactly_the_models(database_url: str) -> None:
    db = Database(database_url)
    try:
        await migrate(db)  # a second run is a no-op
        async with db.engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await db.dispose()
    assert differences == []


async def test_contract_indexes_exist_by_name(database_url: str) -> None:
    db = Database(database_url)
    try:
        async with db.engine.connect() as connection:
            indexes = await connection.run_sync(_indexes)
    finally:
        await db.dispose()
    for table, expected in CONTRACT_INDEXES.items():
        for name, columns in expected.items():
            assert indexes[table].get(name) == columns, f"{table}.{name} missing: {indexes[table]}"


async def test_fresh_database_migrates_and_round_trips(fresh_db: Database) -> None:
    assert not await is_current(fresh_db)
    await migrate(fresh_db)
    assert await is_current(fresh_db)
    async with fresh_db.engine.connect() as connection:
        tables = await connection.run_sync(_table_names)
    assert set(Base.metadata.tables) <= tables

    async with fresh_db.engine.begin() as connection:
        await connection.run_sync(_downgrade_to_base)
    async with fresh_db.engine.connect() as connection:
        assert await connection.run_sync(_table_names) <= {"alembic_version"}
    assert not await is_current(fresh_db)

    await migrate(fresh_db)
    async with fresh_db.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path))
    try:
        await migrate(db)
        for engine in (db.engine, db._read_engine):
            async with engine.connect() as connection:
                journal = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
                foreign_keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one()
                busy = (await connection.execute(text("PRAGMA busy_timeout"))).scalar_one()
            assert journal == "wal"
            assert foreign_keys == 1
            assert busy > 0
        # Foreign keys are enforced, not merely declared.
        with pytest.raises(IntegrityError):
            async with db.transaction() as session:
                await session.execute(
                    text(
                        "INSERT INTO orders (id, merchant_id, amount, currency, status,"
                        " created_at, updated_at) VALUES ('order_x', :merchant, 100, 'INR',"
                        " 'created', '2025-01-01 00:00:00', '2025-01-01 00:00:00')"
                    ),
                    {"merchant": "00000000000000000000000000000000"},
                )
    finally:
        await db.dispose()
