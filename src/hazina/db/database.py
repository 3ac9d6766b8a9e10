"""Engines and transactions.

SQLite: WAL, a busy timeout, foreign keys, and every write transaction opened with
`BEGIN IMMEDIATE` on a single pooled writer connection, so writers queue in the pool instead of
failing with "database is locked"; reads use their own pool and never block on the writer.
PostgreSQL: one pooled asyncpg engine for both, and beside it a plain asyncpg pool for the hot
paths' single statements (`fetch_one`, `write_one`): checking a connection out of SQLAlchemy's
pool crosses its greenlet bridge and a timed queue both ways, a tenth of an authenticated read.
Statement parameters are hidden from error messages: they can hold credentials and customer data,
and error messages end up in logs.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import greenlet_spawn

from hazina.db.prepared import Prepared, Row

JOBS_ENQUEUED = "jobs_enqueued"


def _sqlite_engine(url: URL, *, immediate: bool, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=60,
        connect_args={"timeout": 30},
        hide_parameters=True,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "busy_timeout=30000",
            "foreign_keys=ON",
            "synchronous=NORMAL",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """The one way to open a transaction. Nothing below a service commits."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self.engine = _sqlite_engine(self.url, immediate=True, pool_size=1)
            self._read_engine = _sqlite_engine(self.url, immediate=False, pool_size=pool_size)
        else:
            # One budget of connections per process, shared: half (at least one) for the hot
            # paths' single statements. They take turns first-come, first-served: asyncpg's
            # pool hands a released connection to whichever request asks first, so a waiter
            # woken too late queued again at the back (p50 1.6 ms, p99 865 ms under wrk);
            # asyncio's semaphore queues fairly, so the pool itself never has a waiter.
            self._direct_size = max(1, pool_size // 2)
            self._direct_turns = asyncio.Semaphore(self._direct_size)
            self.engine = create_async_engine(
                self.url,
                # A fixed set of connections kept open: overflow connections would be closed on
                # return and re-opened (a new backend) on the next burst. No pre-ping, which costs
                # round trips on every checkout: a connection found dead raises once, and the
                # pool then drops every connection older than the failure.
                pool_size=max(1, pool_size - self._direct_size),
                max_overflow=0,
                pool_recycle=1800,
                hide_parameters=True,
            )
            self._read_engine = self.engine
        self._writer = async_sessionmaker(self.engine, expire_on_commit=False)
        self._reader = async_sessionmaker(self._read_engine, expire_on_commit=False)
        self._job_listeners: set[asyncio.Event] = set()
        self._direct: asyncpg.Pool | None = None
        self._direct_opening = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        async with self._writer() as session, session.begin():
            yield session
        if session.info.get(JOBS_ENQUEUED):
            self._wake_job_listeners()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction; on SQLite it runs beside the writer."""
        async with self._reader() as session, session.begin():
            yield session

    async def fetch_one(self, query: Prepared, values: Mapping[str, Any]) -> Row | None:
        """Run one prepared read on its own, outside any transaction: one round trip."""
        if self.is_sqlite:
            return await _run_one(self._read_engine, query, values)
        return await self._run_direct(query, values)

    async def write_one(self, query: Prepared, values: Mapping[str, Any]) -> Row | None:
        """Run one prepared statement that commits on its own (a single INSERT … RETURNING):
        atomic by itself, so it needs no BEGIN and COMMIT around it. On SQLite it waits for
        the one writer connection like any write transaction."""
        if self.is_sqlite:
            return await _run_one(self.engine, query, values)
        return await self._run_direct(query, values)

    async def _run_direct(self, query: Prepared, values: Mapping[str, Any]) -> Row | None:
        compiled = query.compiled(self.engine.dialect)
        arguments = compiled.arguments(values)
        pool = self._direct or await self._open_direct()
        try:
            async with self._direct_turns, pool.acquire() as connection:
                record = await connection.fetchrow(compiled.sql, *arguments)
        except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError):
            # As SQLAlchemy's pool does: after one dead connection, none opened before it is
            # trusted (the server restarted, or the network dropped them all).
            pool.expire_connections()
            raise
        return None if record is None else compiled.row(record)

    async def _open_direct(self) -> asyncpg.Pool:
        async with self._direct_opening:
            if self._direct is None:
                self._direct = await asyncpg.create_pool(
                    self.asyncpg_dsn(),
                    min_size=0,
                    max_size=self._direct_size,
                    init=_decode_json_as_sqlalchemy_does,
                    reset=_keep_session,
                )
            return self._direct

    def job_listener(self) -> asyncio.Event:
        """An event set whenever this process commits a job: the embedded worker's wake-up."""
        listener = asyncio.Event()
        self._job_listeners.add(listener)
        return listener

    def _wake_job_listeners(self) -> None:
        for listener in self._job_listeners:
            listener.set()

    def asyncpg_dsn(self) -> str:
        """The plain libpq URL, for the raw asyncpg connection that LISTENs for new jobs."""
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def ping(self) -> bool:
        try:
            async with self._read_engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def dispose(self) -> None:
        if self._direct is not None:
            await self._direct.close()
            self._direct = None
        await self.engine.dispose()
        if self._read_engine is not self.engine:
            await self._read_engine.dispose()


async def _keep_session(_: asyncpg.Connection) -> None:
    """Nothing to undo on release: these connections only ever run one statement at a time, no
    SET, LISTEN, advisory lock or open transaction (asyncpg still rolls back one it finds). The
    default reset is a round trip of its own, as dear as the statement."""


async def _decode_json_as_sqlalchemy_does(connection: asyncpg.Connection) -> None:
    """The codecs SQLAlchemy's asyncpg dialect installs on its own connections, so a row reads
    the same whichever pool it came from: JSON goes out as the text the bind processor made and
    comes back parsed."""
    await connection.set_type_codec(
        "json",
        encoder=str.encode,
        decoder=lambda raw: json.loads(raw.decode()),
        schema="pg_catalog",
        format="binary",
    )
    await connection.set_type_codec(
        "jsonb",
        encoder=lambda text: b"\x01" + text.encode(),  # jsonb's binary format version byte
        decoder=lambda raw: json.loads(raw[1:].decode()),
        schema="pg_catalog",
        format="binary",
    )


async def _run_one(engine: AsyncEngine, query: Prepared, values: Mapping[str, Any]) -> Row | None:
    """SQLite: the statement on a raw driver connection from the engine's pool (its connect
    hooks applied), in the driver's autocommit state."""
    compiled = query.compiled(engine.dialect)
    arguments = compiled.arguments(values)
    pooled = await engine.raw_connection()
    try:
        driver = pooled.driver_connection
        async with driver.execute(compiled.sql, arguments) as cursor:  # type: ignore[union-attr]
            record = await cursor.fetchone()
    finally:
        # Returning it to the pool may roll back through the adapter, which needs SQLAlchemy's
        # greenlet bridge.
        await greenlet_spawn(pooled.close)
    return None if record is None else compiled.row(record)
