"""Fixtures of the integration tests that need a database before any migration ran."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hazina.db.database import Database
from tests.databases import postgres_database, postgres_reachable, require_postgres, sqlite_url


@pytest.fixture(params=["sqlite", "postgres"])
async def fresh_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database, not yet migrated, of each kind."""
    if request.param == "sqlite":
        db = Database(sqlite_url(tmp_path))
        yield db
        await db.dispose()
        return
    require_postgres(await postgres_reachable())
    async with postgres_database() as url:
        db = Database(url)
        yield db
        await db.dispose()
