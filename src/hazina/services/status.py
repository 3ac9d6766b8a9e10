"""What operators and the contract's status endpoints see: database, workers, queue depth."""

import asyncio
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hazina.db import queue
from hazina.db.database import Database
from hazina.domain.clock import iso_z, utc_now
from hazina.observability.metrics import QueueDepth
from hazina.services.ledger.check import last_check


async def _worker_status(db: Database, stale_after: timedelta) -> str:
    return "running" if await queue.count_live_workers(db, stale_after) else "stopped"


# /health waits this long for Redis: a server that does not answer is `unreachable`.
REDIS_PING_SECONDS = 1.0


async def redis_status(redis: Redis | None) -> str:
    """`not_configured` without HAZINA_REDIS_URL; else whether it answers a PING now. Redis is
    optional (the limits fall back to per-process counting), so it never makes Hazina unhealthy."""
    if redis is None:
        return "not_configured"
    try:
        await asyncio.wait_for(redis.ping(), REDIS_PING_SECONDS)
    except (RedisError, OSError, TimeoutError):
        return "unreachable"
    return "connected"


async def health(
    db: Database, stale_after: timedelta, redis: Redis | None = None
) -> tuple[bool, dict[str, Any]]:
    """(healthy, body): healthy when the database answers."""
    connected = await db.ping()
    worker = await _worker_status(db, stale_after) if connected else "stopped"
    body = {
        "status": "healthy" if connected else "unhealthy",
        "database": "connected" if connected else "disconnected",
        "redis": await redis_status(redis),
        "worker": worker,
        # #14: the latest `hazina ledger check` (nightly from the janitor); null before one ran.
        "ledger_check": await last_check(db) if connected else None,
        "timestamp": iso_z(utc_now()),
    }
    return connected, body


async def job_status(db: Database, stale_after: timedelta) -> dict[str, Any]:
    counts = await queue.count_by_status(db)
    return counts | {"worker_status": await _worker_status(db, stale_after)}


async def queue_depth(db: Database) -> list[QueueDepth]:
    """The queue as `/metrics` shows it, read at scrape time."""
    now = utc_now()
    return [
        QueueDepth(
            kind=depth.kind,
            ready=depth.ready,
            scheduled=depth.scheduled,
            processing=depth.processing,
            oldest_ready_age_seconds=(
                0.0
                if depth.oldest_ready_at is None
                else max(0.0, (now - depth.oldest_ready_at).total_seconds())
            ),
        )
        for depth in await queue.depth_by_kind(db)
    ]
