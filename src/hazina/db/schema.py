"""Applying Alembic migrations from code: `hazina migrate`, and `hazina serve` on SQLite."""

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


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    command.upgrade(alembic_config(connection), "head")


def _is_current(connection: Connection) -> bool:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return MigrationContext.configure(connection).get_current_revision() == head


async def migrate(db: Database) -> None:
    async with db.engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def is_current(db: Database) -> bool:
    async with db.engine.connect() as connection:
        return await connection.run_sync(_is_current)
