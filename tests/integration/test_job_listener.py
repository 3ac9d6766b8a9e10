"""The workers' LISTEN connection survives the database dropping it (PostgreSQL only).

The worker polls only once an hour here, so a job it runs within the test's deadline proves a
notification woke it: after its listening backend was terminated, that takes a reconnect.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from hazina.db.database import Database
from hazina.db.queue import NOTIFY_CHANNEL
from hazina.worker import Worker
from tests.databases import migrated, postgres_database, postgres_reachable, require_postgres
from tests.jobs import add_job, get_job
from tests.waiting import wait_until

pytestmark = pytest.mark.postgres

AN_HOUR = 3600.0


@pytest.fixture
async def pg() -> AsyncIterator[Database]:
    require_postgres(await postgres_reachable())
    async with postgres_database() as url:
        db = await migrated(url)
        yield db
        await db.dispose()


async def listener_pids(db: Database) -> list[int]:
    """The backends of this database listening for jobs (their last statement was LISTEN)."""
    connection = await asyncpg.connect(db.asyncpg_dsn())
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND query ILIKE $1",
            f"LISTEN%{NOTIFY_CHANNEL}%",
        )
        return [row["pid"] for row in rows]
    finally:
        await connection.close()


async def test_the_worker_is_woken_after_its_listener_was_terminated(pg: Database) -> None:
    ran: list[dict[str, Any]] = []

    async def probe(payload: dict[str, Any]) -> None:
        ran.append(payload)

    worker = Worker(
        pg,
        {"probe": probe},
        concurrency=2,
        lease=timedelta(seconds=30),
        poll_seconds=AN_HOUR,
        heartbeat_seconds=AN_HOUR,
        retry_base=timedelta(seconds=1),
        retry_cap=timedelta(seconds=1),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await wait_until(lambda: _one_listener(pg))
        [first] = await listener_pids(pg)
        # Woken by NOTIFY while the first connection lives: the worker is in its wait.
        [before] = await add_job(pg, "probe")
        await wait_until(lambda: _completed(pg, before))

        admin = await asyncpg.connect(pg.asyncpg_dsn())
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
        finally:
            await admin.close()

        async def reopened() -> bool:
            pids = await listener_pids(pg)
            return len(pids) == 1 and pids != [first]

        await wait_until(reopened)
        [after] = await add_job(pg, "probe")
        await wait_until(lambda: _completed(pg, after))
        assert len(ran) == 2
    finally:
        stop.set()
        await running


async def _one_listener(db: Database) -> bool:
    return len(await listener_pids(db)) == 1


async def _completed(db: Database, job_id: int) -> bool:
    return (await get_job(db, job_id)).status == "completed"
