"""A job whose outcome its worker could not record (the database was down) is run again.

A lone worker has nobody to take such a job over when its lease lapses: it must claim the job
again itself, since it is no longer running it, while never claiming one it still runs.
tests/e2e/test_database_restart.py is the same fault with a real PostgreSQL restart.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest

from hazina.db import queue
from hazina.db.database import Database
from hazina.domain.clock import utc_now
from hazina.worker import Worker
from tests.jobs import add_job, get_job
from tests.waiting import wait_until

LEASE = timedelta(minutes=1)


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


async def lease_lapsed(db: Database, job_id: int) -> bool:
    job = await get_job(db, job_id)
    return job.locked_until is not None and job.locked_until < utc_now()


async def test_a_worker_claims_again_its_expired_jobs_except_those_it_still_runs(
    db: Database,
) -> None:
    [job_id] = await add_job(db)
    await queue.claim(db, "lone", 1, timedelta(milliseconds=1))
    await wait_until(lambda: lease_lapsed(db, job_id), timeout=5)

    assert await queue.claim(db, "lone", 1, LEASE, running=[job_id]) == []  # still running it
    assert await queue.claim(db, "lone", 1, LEASE) == []  # not told: its own are left alone
    [again] = await queue.claim(db, "lone", 1, LEASE, running=[])
    assert (again.id, again.attempts) == (job_id, 2)


async def test_a_lone_worker_runs_again_a_job_whose_outcome_was_lost(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    [job_id] = await add_job(db, "lost", max_attempts=3)
    ran: list[int] = []

    async def handler(_payload: dict[str, Any]) -> None:
        ran.append(job_id)

    recorded = queue.complete
    outage = [ConnectionRefusedError("the database is down")]  # the first completion only

    async def complete(*args: Any, **kwargs: Any) -> bool:
        if outage:
            raise outage.pop()
        return await recorded(*args, **kwargs)

    monkeypatch.setattr(queue, "complete", complete)
    worker = Worker(
        db,
        {"lost": handler},
        concurrency=2,
        lease=timedelta(milliseconds=500),
        poll_seconds=0.05,
        heartbeat_seconds=0.1,
        retry_base=timedelta(milliseconds=10),
        retry_cap=timedelta(milliseconds=50),
    )

    async def completed() -> bool:
        return (await get_job(db, job_id)).status == "completed"

    async with running(worker):
        await wait_until(completed, timeout=15)
    job = await get_job(db, job_id)
    assert not outage
    assert ran == [job_id, job_id]  # at least once: the lost run, then the recorded one
    assert (job.attempts, job.locked_by, job.locked_until) == (2, None, None)
