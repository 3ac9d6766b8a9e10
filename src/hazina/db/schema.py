"""Applying Alembic migrations from code: `hazina migrate`, and `hazina serve` on SQLite."""

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from hazina.db.database import Database

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant shared by every Hazina process: serialises concurrent `migrate` runs on PostgreSQL.
_MIGRATION_LOCK = 7_220_001


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(revision: str) -> Callable[[Connection], None]:
    def upgrade(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        command.upgrade(alembic_config(connection), revision)

    return upgrade


def _downgrade(revision: str) -> Callable[[Connection], None]:
    def downgrade(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), revision)

    return downgrade


def _is_current(connection: Connection) -> bool:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return MigrationContext.configure(connection).get_current_revision() == head


async def migrate(db: Database, revision: str = "head") -> None:
    """Upgrade to `revision` in one transaction."""
    await _run(db, _upgrade(revision))


async def downgrade(db: Database, revision: str) -> None:
    """Downgrade to `revision` in one transaction (an operator's way back, and the tests')."""
    await _run(db, _downgrade(revision))


async def _run(db: Database, step: Callable[[Connection], None]) -> None:
    async with db.engine.connect() as connection:
        if not db.is_sqlite:
            async with connection.begin():
                await connection.run_sync(step)
            return
        # SQLite alters a table by rebuilding it, and dropping the old copy of a table other
        # rows reference fails while foreign keys are enforced; the pragma only changes outside
        # a transaction. The keys are checked before the migration commits instead.
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.execute("PRAGMA foreign_keys=OFF")
        try:
            async with connection.begin():
                await connection.run_sync(step)
                await connection.run_sync(_check_foreign_keys)
        finally:
            await raw.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"the migration left rows without their parent: {broken[:5]}")


async def is_current(db: Database) -> bool:
    async with db.engine.connect() as connection:
        return await connection.run_sync(_is_current)
