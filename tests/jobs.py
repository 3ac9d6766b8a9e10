"""Jobs put straight into the queue, for the tests of the queue and of the worker."""

from datetime import datetime

from sqlalchemy import select, update

from hazina.db import queue
from hazina.db.database import Database
from hazina.db.models import Job
from hazina.domain.clock import utc_now
from hazina.domain.states import JobStatus
from hazina.worker import Worker


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


async def run_jobs_to_exhaustion(worker: Worker, *, rounds: int = 60) -> None:
    """Run every job until none is left pending, one attempt per job per round, with no
    waiting: each round makes the pending jobs due (scheduled checks, retries after backoff),
    claims them, and runs each exactly as the worker's loop would, give-up steps included."""
    for _ in range(rounds):
        async with worker.db.transaction() as session:
            await session.execute(
                update(Job).where(Job.status == JobStatus.PENDING).values(run_at=utc_now())
            )
        claimed = await queue.claim(
            worker.db, worker.id, 100, worker.lease, kinds=list(worker.handlers)
        )
        if not claimed:
            return
        for job in claimed:
            await worker._execute(job)  # the loop's own step, without the loop's timing
    async with worker.db.read() as session:
        left = (
            await session.scalars(select(Job.kind).where(Job.status == JobStatus.PENDING))
        ).all()
    raise AssertionError(f"jobs still pending after {rounds} rounds: {sorted(left)}")
