"""Statements whose SQL differs between SQLite and PostgreSQL, behind one call."""

import functools
from typing import Any, cast

from sqlalchemy import ColumnElement, Insert, Table, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute

from hazina.domain.ids import new_id


async def insert_unless_exists(
    session: AsyncSession, model: type[DeclarativeBase], values: dict[str, Any]
) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True if the row was inserted.

    On PostgreSQL a conflicting row still being inserted by another transaction makes this wait
    for that transaction, so the caller then reads a committed row, never a phantom.
    """
    dialect = session.get_bind().dialect.name
    result = await session.execute(_insert_or_nothing(dialect, model), values)
    return bool(result.rowcount)  # type: ignore[attr-defined]


@functools.cache
def _insert_or_nothing(dialect: str, model: type[DeclarativeBase]) -> Insert:
    """Built once per table: the values come as execution parameters, not as clauses."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # On the table, not the ORM class: with a parameter dict, the class would mean a bulk insert.
    return insert(cast(Table, model.__table__)).on_conflict_do_nothing()


async def fresh_id(session: AsyncSession, model: type[DeclarativeBase], prefix: str) -> str:
    """A new `prefix`+16 id, checked against the table and drawn again on a collision."""
    while True:
        candidate = new_id(prefix)
        if await session.get(model, candidate) is None:
            return candidate


async def upsert_where(
    session: AsyncSession,
    model: type[DeclarativeBase],
    values: dict[str, Any],
    changes: dict[str, Any],
    where: ColumnElement[bool],
) -> bool:
    """INSERT … ON CONFLICT (primary key) DO UPDATE SET `changes` WHERE `where`, in one atomic
    statement; True if a row was inserted or updated, False if `where` kept the existing one."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, model.__table__)
    primary_key = list(table.primary_key.columns)
    statement = (
        insert(table)
        .values(values)
        .on_conflict_do_update(index_elements=primary_key, set_=changes, where=where)
        .returning(*primary_key)
    )
    return (await session.execute(statement)).first() is not None


def utc_day(
    column: ColumnElement[Any] | InstrumentedAttribute[Any], dialect: str
) -> ColumnElement[str]:
    """`YYYY-MM-DD` of a UtcDateTime column, in UTC on both databases: SQLite stores the naive
    UTC text (`date()` reads its first ten characters' day); PostgreSQL converts the timestamptz
    to UTC first, whatever the session's time zone."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.date(column)
