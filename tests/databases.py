"""The two databases every integration test runs on.

PostgreSQL comes from HAZINA_TEST_POSTGRES_URL (default: the local server, user postgres). Each
test session creates its own database and drops it at the end. Unreachable PostgreSQL is a
visible skip locally and a failure in CI (CI=true).
"""

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from hazina.db.database import Database
from hazina.db.models import Base
from hazina.db.schema import migrate

POSTGRES_ADMIN_URL = os.environ.get(
    "HAZINA_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def postgres_reachable() -> str | None:
    """None if reachable, else why not."""
    try:
        connection = await asyncpg.connect(_libpq(POSTGRES_ADMIN_URL), timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL at {POSTGRES_ADMIN_URL} unreachable: {exc}"
    await connection.close()
    return None


def require_postgres(reason: str | None) -> None:
    if reason is None:
        return
    if IN_CI:
        pytest.fail(reason + " (CI requires PostgreSQL)", pytrace=False)
    pytest.skip(reason)


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database; yields its SQLAlchemy URL and drops it afterwards."""
    name = f"hazina_test_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(_libpq(POSTGRES_ADMIN_URL))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'hazina.db'}"


async def migrated(url: str) -> Database:
    db = Database(url)
    await migrate(db)
    return db


async def truncate_all(db: Database) -> None:
    """Empty every table between tests, children first."""
    async with db.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            # Table names come from our own metadata, never from input.
            await session.execute(text(f"DELETE FROM {table.name}"))  # noqa: S608
