"""The janitor: purges what no merchant can ask for any more, in bounded batches.

Purged: idempotency keys past their expiry, finished (completed or failed) jobs, webhook delivery
attempts and rejected inbound samples older than their retention. Never purged: merchants,
orders, payments, refunds, events, deliveries (`webhook_logs`), audit rows, provider accounts,
and inbound events in any other state (they are a merchant's record of what a provider said).

It runs as the `janitor` job, which re-enqueues itself every interval; a partial unique index
(migration 0011) keeps at most one pending or running janitor job, however many workers start.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db import queue
from hazina.db.database import Database
from hazina.db.models import IdempotencyKey, InboundEvent, Job, WebhookAttempt
from hazina.domain.clock import utc_now
from hazina.domain.states import JobStatus
from hazina.services.inbound import InboundStatus

JANITOR = queue.JANITOR
# A janitor job retries for weeks (backoff capped by HAZINA_JOB_RETRY_CAP_SECONDS) rather than
# give up during a long outage and leave no janitor until the next worker starts.
JANITOR_MAX_ATTEMPTS = 1000


@dataclass(frozen=True, slots=True)
class Retention:
    finished_jobs: timedelta
    webhook_attempts: timedelta
    rejected_inbound: timedelta


@dataclass(frozen=True, slots=True)
class _Purge:
    table: Table
    key: tuple[Any, ...]  # the primary key's columns
    condition: ColumnElement[bool]


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def _purges(retention: Retention, now: datetime) -> dict[str, _Purge]:
    """What each table may lose, by name: the only place that decides what is purgeable."""
    keys, jobs = _table(IdempotencyKey), _table(Job)
    attempts, inbound = _table(WebhookAttempt), _table(InboundEvent)
    return {
        "idempotency_keys": _Purge(keys, (keys.c.merchant_id, keys.c.key), keys.c.expires_at < now),
        "jobs": _Purge(
            jobs,
            (jobs.c.id,),
            jobs.c.status.in_([JobStatus.COMPLETED, JobStatus.FAILED])
            & (jobs.c.updated_at < now - retention.finished_jobs),
        ),
        "webhook_attempts": _Purge(
            attempts, (attempts.c.id,), attempts.c.attempted_at < now - retention.webhook_attempts
        ),
        "inbound_events": _Purge(
            inbound,
            (inbound.c.id,),
            (inbound.c.status == InboundStatus.REJECTED)
            & (inbound.c.received_at < now - retention.rejected_inbound),
        ),
    }


async def count_purgeable(
    db: Database, retention: Retention, now: datetime | None = None
) -> dict[str, int]:
    """What a purge would delete now, per table (`hazina janitor --dry-run`)."""
    purges = _purges(retention, now or utc_now())
    async with db.read() as session:
        return {
            name: int(
                await session.scalar(
                    select(func.count()).select_from(purge.table).where(purge.condition)
                )
                or 0
            )
            for name, purge in purges.items()
        }


async def _delete_batch(session: AsyncSession, purge: _Purge, batch_size: int) -> int:
    batch = select(*purge.key).where(purge.condition).limit(batch_size)
    key = purge.key[0] if len(purge.key) == 1 else tuple_(*purge.key)
    result = await session.execute(delete(purge.table).where(key.in_(batch)))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def purge(
    db: Database, retention: Retention, batch_size: int, now: datetime | None = None
) -> dict[str, int]:
    """Delete everything purgeable, at most `batch_size` rows per transaction, so neither
    SQLite's single writer nor PostgreSQL's locks are held long; the rows deleted per table."""
    purges = _purges(retention, now or utc_now())
    deleted: dict[str, int] = {}
    for name, item in purges.items():
        deleted[name] = 0
        while True:
            async with db.transaction() as session:
                count = await _delete_batch(session, item, batch_size)
            deleted[name] += count
            if count < batch_size:
                break
    return deleted


async def schedule_janitor(session: AsyncSession, run_at: datetime) -> bool:
    """Enqueue the next janitor run unless one is pending or running; True if enqueued."""
    return await queue.enqueue_once(
        session, JANITOR, {}, max_attempts=JANITOR_MAX_ATTEMPTS, run_at=run_at
    )


async def ensure_janitor(db: Database) -> bool:
    """A worker starting: make sure a janitor run is scheduled (due now if none was)."""
    async with db.transaction() as session:
        return await schedule_janitor(session, utc_now())


async def run_janitor(
    db: Database, retention: Retention, batch_size: int, interval: timedelta
) -> Mapping[str, int]:
    """The `janitor` job: purge, then complete this job and schedule the next run together."""
    deleted = await purge(db, retention, batch_size)
    async with db.transaction() as session:
        await queue.complete_current_job(session)
        await schedule_janitor(session, utc_now() + interval)
    return deleted
