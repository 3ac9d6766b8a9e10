"""The job queue's SQL: enqueue inside the caller's transaction, claim in batches under a lease.

PostgreSQL claims with `FOR UPDATE SKIP LOCKED`, so many workers take disjoint batches, and
`NOTIFY hazina_jobs` (delivered at commit) wakes them. SQLite has a single writer: the claim is one
`BEGIN IMMEDIATE` UPDATE … RETURNING, which no other writer can interleave with.
A job whose lease has expired (its worker died) is due again; its attempt is counted.
"""

import asyncio
import functools
import itertools
import logging
import socket
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import asyncpg
from sqlalchemy import (
    Table,
    Update,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from hazina.db.database import JOBS_ENQUEUED, Database
from hazina.db.models import Job, WorkerHeartbeat
from hazina.db.statements import insert_unless_exists
from hazina.domain.clock import utc_now
from hazina.domain.states import JobStatus

NOTIFY_CHANNEL = "hazina_jobs"
# The self-scheduling housekeeping job (services/janitor.py); see models.SINGLETON_JOB_PREDICATE.
JANITOR = "janitor"
# Statements on the table itself (Core), not through the ORM: these run for every job.
_jobs = cast(Table, Job.__table__)
_INSERT_JOB = insert(_jobs)
log = logging.getLogger("hazina.queue")
_ERROR_LIMIT = 4000


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    max_attempts: int,
    run_at: datetime | None = None,
) -> None:
    """Add a job to the caller's transaction: it exists if and only if the transaction commits.

    On PostgreSQL a trigger on `jobs` (migration 0005) notifies NOTIFY_CHANNEL, delivered to
    listening workers at commit; on SQLite the commit wakes this process's worker."""
    now = utc_now()
    await session.execute(
        _INSERT_JOB,
        {
            "kind": kind,
            "payload": payload,
            "status": JobStatus.PENDING,
            "run_at": run_at or now,
            "attempts": 0,
            "max_attempts": max_attempts,
            "created_at": now,
            "updated_at": now,
        },
    )
    session.info[JOBS_ENQUEUED] = True


async def enqueue_once(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    max_attempts: int,
    run_at: datetime,
) -> bool:
    """Enqueue unless a unique index forbids a second live job of this kind (the janitor's,
    migration 0011); True if enqueued. Concurrent callers on many workers enqueue one job."""
    now = utc_now()
    values = {
        "kind": kind,
        "payload": payload,
        "status": JobStatus.PENDING,
        "run_at": run_at,
        "attempts": 0,
        "max_attempts": max_attempts,
        "created_at": now,
        "updated_at": now,
    }
    inserted = await insert_unless_exists(session, Job, values)
    if inserted:
        session.info[JOBS_ENQUEUED] = True
    return inserted


async def claim(
    db: Database,
    worker_id: str,
    limit: int,
    lease: timedelta,
    kinds: Sequence[str] | None = None,
    running: Collection[int] | None = None,
) -> list[ClaimedJob]:
    """Claim up to `limit` due jobs of `kinds` (all when None).

    A worker claims only the kinds it can run, so an older worker beside a newer one during a
    rolling upgrade leaves the new kinds alone; and never an expired job it is still running.
    `running` names those: then its own other expired jobs are due again, such as one whose
    outcome it could not record while the database was down (else a lone worker would hold it
    forever). None (not known) leaves every expired job of its own alone.
    """
    now = utc_now()
    values: dict[str, Any] = {
        "now": now,
        "limit": limit,
        "worker_id": worker_id,
        "locked_until": now + lease,
        "kinds": list(kinds or ()),
        "running": list(running or ()),
    }
    statement = _claim_statement(running is not None, kinds is not None)
    async with db.transaction() as session:
        rows = (await session.execute(statement, values)).all()
    return sorted((ClaimedJob(*row) for row in rows), key=lambda job: job.id)


@functools.cache
def _claim_statement(running_known: bool, of_kinds: bool) -> Update:
    """The claim for one combination of what the worker says, built once: a worker claims
    every few jobs under a backlog, and building it anew cost more than running it."""
    now: BindParameter[datetime] = bindparam("now")
    expired = and_(_jobs.c.status == JobStatus.PROCESSING, _jobs.c.locked_until < now)
    if running_known:
        expired = and_(expired, _jobs.c.id.not_in(bindparam("running", expanding=True)))
    else:
        expired = and_(expired, _jobs.c.locked_by != bindparam("worker_id"))
    due = or_(and_(_jobs.c.status == JobStatus.PENDING, _jobs.c.run_at <= now), expired)
    if of_kinds:
        due = and_(due, _jobs.c.kind.in_(bindparam("kinds", expanding=True)))
    batch = (
        select(_jobs.c.id)
        .where(due)
        .order_by(_jobs.c.run_at, _jobs.c.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return (
        update(_jobs)
        .where(_jobs.c.id.in_(batch))
        .values(
            status=JobStatus.PROCESSING,
            locked_by=bindparam("worker_id"),
            locked_until=bindparam("locked_until"),
            attempts=_jobs.c.attempts + 1,
            updated_at=now,
        )
        .returning(
            _jobs.c.id, _jobs.c.kind, _jobs.c.payload, _jobs.c.attempts, _jobs.c.max_attempts
        )
    )


async def complete(db: Database, job_id: int, worker_id: str) -> bool:
    """Mark a job done; False when this worker no longer holds its lease."""
    return await _finish(db, job_id, worker_id, status=JobStatus.COMPLETED)


async def fail(
    db: Database, job_id: int, worker_id: str, error: str, retry_at: datetime | None
) -> bool:
    """Record a failed attempt: due again at `retry_at`, or `failed` for good when it is None."""
    if retry_at is None:
        return await _finish(db, job_id, worker_id, status=JobStatus.FAILED, last_error=error)
    return await _finish(
        db, job_id, worker_id, status=JobStatus.PENDING, last_error=error, run_at=retry_at
    )


async def _finish(db: Database, job_id: int, worker_id: str, **values: Any) -> bool:
    async with db.transaction() as session:
        return await _finish_in(session, job_id, worker_id, **values)


async def _finish_in(session: AsyncSession, job_id: int, worker_id: str, **values: Any) -> bool:
    """Release a job this worker holds, with its new status; False if the lease is gone."""
    if "last_error" in values:
        values["last_error"] = values["last_error"][:_ERROR_LIMIT]
    statement = (
        update(_jobs)
        .where(
            _jobs.c.id == job_id,
            _jobs.c.locked_by == worker_id,
            _jobs.c.status == JobStatus.PROCESSING,
        )
        .values(locked_by=None, locked_until=None, updated_at=utc_now(), **values)
    )
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(slots=True)
class JobLease:
    """The job a worker task is running: its handler may complete it in its own transaction."""

    job_id: int
    worker_id: str
    completed: bool = False


_current_lease: ContextVar[JobLease | None] = ContextVar("hazina_job_lease", default=None)


@contextmanager
def leased(job_id: int, worker_id: str) -> Iterator[JobLease]:
    """Run a handler as the holder of this job (each worker task has its own context)."""
    lease = JobLease(job_id, worker_id)
    token = _current_lease.set(lease)
    try:
        yield lease
    finally:
        _current_lease.reset(token)


async def complete_current_job(session: AsyncSession) -> None:
    """Complete the job whose handler is running, inside the handler's final transaction.

    The effect and the job's completion then commit together or not at all, and the worker
    saves the transaction it would spend completing the job afterwards. Outside a worker (a
    use case called directly) there is no job and nothing happens.
    """
    lease = _current_lease.get()
    if lease is None or lease.completed:
        return
    lease.completed = await _finish_in(
        session, lease.job_id, lease.worker_id, status=JobStatus.COMPLETED
    )


def current_lease() -> JobLease | None:
    """The lease of the job whose handler is running in this task, if any."""
    return _current_lease.get()


async def complete_leased_jobs(session: AsyncSession, leases: Sequence[JobLease]) -> None:
    """Complete many running jobs in the caller's transaction, one statement per worker: the
    group commit of a batch of handlers (services.webhooks.AttemptRecorder). Each lease learns
    whether it was still held, as complete_current_job tells one."""
    by_worker: dict[str, list[JobLease]] = {}
    for lease in leases:
        if not lease.completed:
            by_worker.setdefault(lease.worker_id, []).append(lease)
    now = utc_now()
    for worker_id, held in by_worker.items():
        statement = (
            update(_jobs)
            .where(
                _jobs.c.id.in_([lease.job_id for lease in held]),
                _jobs.c.locked_by == worker_id,
                _jobs.c.status == JobStatus.PROCESSING,
            )
            .values(status=JobStatus.COMPLETED, locked_by=None, locked_until=None, updated_at=now)
            .returning(_jobs.c.id)
        )
        completed = set((await session.scalars(statement)).all())
        for lease in held:
            lease.completed = lease.job_id in completed


async def renew(db: Database, worker_id: str, job_ids: Iterable[int], lease: timedelta) -> None:
    ids = list(job_ids)
    if not ids:
        return
    statement = (
        update(_jobs)
        .where(
            _jobs.c.id.in_(ids),
            _jobs.c.locked_by == worker_id,
            _jobs.c.status == JobStatus.PROCESSING,
        )
        .values(locked_until=utc_now() + lease)
    )
    async with db.transaction() as session:
        await session.execute(statement)


async def release(db: Database, worker_id: str, job_ids: Iterable[int]) -> None:
    """Give unfinished jobs back at shutdown, without counting the interrupted attempt."""
    ids = list(job_ids)
    if not ids:
        return
    statement = (
        update(_jobs)
        .where(
            _jobs.c.id.in_(ids),
            _jobs.c.locked_by == worker_id,
            _jobs.c.status == JobStatus.PROCESSING,
        )
        .values(
            status=JobStatus.PENDING,
            attempts=_jobs.c.attempts - 1,
            locked_by=None,
            locked_until=None,
            run_at=utc_now(),
        )
    )
    async with db.transaction() as session:
        await session.execute(statement)


async def count_by_status(db: Database) -> dict[str, int]:
    """The queue's work by status. The janitor is left out: its next run is always pending,
    and "nothing pending" must still mean that every payment, refund and delivery is done."""
    statement = (
        select(_jobs.c.status, func.count()).where(_jobs.c.kind != JANITOR).group_by(_jobs.c.status)
    )
    async with db.read() as session:
        rows = (await session.execute(statement)).all()
    counts = {status.value: 0 for status in JobStatus}
    counts.update(dict(rows))
    return counts


@dataclass(frozen=True, slots=True)
class KindDepth:
    kind: str
    ready: int
    scheduled: int
    processing: int
    oldest_ready_at: datetime | None


async def depth_by_kind(db: Database) -> list[KindDepth]:
    """Unfinished jobs per kind: ready (due now), scheduled (due later) and processing, and when
    the oldest ready one became due. One aggregate over the live rows, which `idx_jobs_due`
    (status, run_at) finds without reading the finished history: cheap enough for every scrape."""
    now = utc_now()
    pending = _jobs.c.status == JobStatus.PENDING
    ready = and_(pending, _jobs.c.run_at <= now)
    statement = (
        select(
            _jobs.c.kind,
            func.sum(case((ready, 1), else_=0)),
            func.sum(case((and_(pending, _jobs.c.run_at > now), 1), else_=0)),
            func.sum(case((_jobs.c.status == JobStatus.PROCESSING, 1), else_=0)),
            func.min(case((ready, _jobs.c.run_at))),
        )
        .where(_jobs.c.status.in_((JobStatus.PENDING, JobStatus.PROCESSING)))
        .group_by(_jobs.c.kind)
        .order_by(_jobs.c.kind)
    )
    async with db.read() as session:
        rows = (await session.execute(statement)).all()
    return [
        KindDepth(kind, int(ready_n or 0), int(later or 0), int(running or 0), oldest)
        for kind, ready_n, later, running, oldest in rows
    ]


async def beat(db: Database, worker_id: str, concurrency: int, pid: int) -> None:
    """Record that a worker is alive; the first beat registers it."""
    now = utc_now()
    async with db.transaction() as session:
        heartbeat = await session.get(WorkerHeartbeat, worker_id)
        if heartbeat is None:
            session.add(
                WorkerHeartbeat(
                    worker_id=worker_id,
                    hostname=socket.gethostname(),
                    pid=pid,
                    concurrency=concurrency,
                    started_at=now,
                    last_seen_at=now,
                )
            )
        else:
            heartbeat.last_seen_at = now


async def forget(db: Database, worker_id: str) -> None:
    async with db.transaction() as session:
        await session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == worker_id))


async def count_live_workers(db: Database, stale_after: timedelta) -> int:
    since = utc_now() - stale_after
    async with db.read() as session:
        count = await session.scalar(
            select(func.count()).where(WorkerHeartbeat.last_seen_at >= since)
        )
    return int(count or 0)


async def listen(
    db: Database, on_enqueue: Callable[[], None]
) -> Callable[[], Awaitable[None]] | None:
    """On PostgreSQL, call `on_enqueue` whenever any process commits a job; returns a closer.

    The listening connection is reopened whenever the database drops it (a restart, a failover,
    `pg_terminate_backend`), or until it can first be opened; meanwhile workers poll. None on
    SQLite: the writer's own process signals it (see Database.job_listener).
    """
    if db.is_sqlite:
        return None
    listener = _JobListener(db.asyncpg_dsn(), on_enqueue)
    if not await listener.connect():
        log.warning("LISTEN %s unavailable; polling until it can be opened", NOTIFY_CHANNEL)
        listener.reconnect_soon()
    return listener.close


# Waits between attempts to reopen the listening connection, then the last one repeated.
_RECONNECT_WAITS = (0.1, 0.5, 1.0, 2.0, 5.0)


class _JobListener:
    """`LISTEN hazina_jobs` on a connection of its own, reopened whenever it is lost."""

    def __init__(self, dsn: str, on_enqueue: Callable[[], None]) -> None:
        self._dsn = dsn
        self._on_enqueue = on_enqueue
        self._connection: asyncpg.Connection | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._closed = False

    async def connect(self) -> bool:
        try:
            connection = await asyncpg.connect(self._dsn)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False
        try:
            await connection.add_listener(NOTIFY_CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            connection.terminate()
            return False
        connection.add_termination_listener(self._lost)
        self._connection = connection
        return True

    def _notified(self, *_: object) -> None:
        self._on_enqueue()

    def _lost(self, _: object) -> None:
        if not self._closed:
            log.warning("LISTEN %s connection lost; reopening it", NOTIFY_CHANNEL)
            self._connection = None
            self.reconnect_soon()

    def reconnect_soon(self) -> None:
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.create_task(self._reconnect())

    async def _reconnect(self) -> None:
        for attempt in itertools.count():
            await asyncio.sleep(_RECONNECT_WAITS[min(attempt, len(_RECONNECT_WAITS) - 1)])
            if self._closed:
                return
            if await self.connect():
                log.info("LISTEN %s reopened", NOTIFY_CHANNEL)
                # Jobs committed while it was closed notified nobody: look for them now.
                self._on_enqueue()
                return

    async def close(self) -> None:
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            await asyncio.gather(self._reconnecting, return_exceptions=True)
        if self._connection is not None:
            await self._connection.close()
