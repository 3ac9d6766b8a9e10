"""Jobs put straight into the queue, for the tests of the queue and of the worker."""

from datetime import datetime

from sqlalchemy import select

from hazina.db import queue
from hazina.db.database import Database
from hazina.db.models import Job


async def add_job(
    db: Database,
    kind: str = "test",
    *,
    run_at: datetime | None = None,
    max_attempts: int = 3,
    n: int = 1,
) -> list[int]:
    """Enqueue `n` jobs of `kind` (payload {"n": i}) and return their ids, oldest first."""
    async with db.transaction() as session:
        for i in range(n):
            await queue.enqueue(session, kind, {"n": i}, max_attempts=max_attempts, run_at=run_at)
    async with db.read() as session:
        ids = (await session.scalars(select(Job.id).order_by(Job.id.desc()).limit(n))).all()
    return sorted(ids)


async def get_job(db: Database, job_id: int) -> Job:
    async with db.read() as session:
        return await session.get_one(Job, job_id)
