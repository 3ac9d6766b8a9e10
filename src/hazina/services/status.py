"""What operators and the contract's status endpoints see: database, workers, queue depth."""

from datetime import timedelta
from typing import Any

from hazina.db import queue
from hazina.db.database import Database
from hazina.domain.clock import iso_z, utc_now
from hazina.observability.metrics import QueueDepth
from hazina.services.ledger.check import last_check


async def _worker_status(db: Database, stale_after: timedelta) -> str:
    return "running" if await queue.count_live_workers(db, stale_after) else "stopped"


async def health(db: Database, stale_after: timedelta) -> tuple[bool, dict[str, Any]]:
    """(healthy, body). Redis is optional and not used yet, hence `not_configured`."""
    connected = await db.ping()
    worker = await _worker_status(db, stale_after) if connected else "stopped"
    body = {
        "status": "healthy" if connected else "unhealthy",
        "database": "connected" if connected else "disconnected",
        "redis": "not_configured",
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
