"""Waiting for background work by its observable outcome, with a deadline: never a bare sleep."""

import asyncio
import time
from collections.abc import Awaitable, Callable

from hazina.db import queue
from hazina.db.database import Database
from hazina.worker import Worker


# A polling deadline, not a cancellation scope: `asyncio.timeout` would cut a condition mid-query.
async def wait_until(
    condition: Callable[[], Awaitable[bool]],
    *,
    timeout: float = 15.0,  # noqa: ASYNC109
    interval: float = 0.02,
) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


async def queue_is_empty(db: Database) -> bool:
    counts = await queue.count_by_status(db)
    return counts["pending"] == 0 and counts["processing"] == 0


async def drain(worker: Worker, *, timeout: float = 15.0) -> None:  # noqa: ASYNC109
    """Run the worker until no job is pending or processing, then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await wait_until(lambda: queue_is_empty(worker.db), timeout=timeout)
    finally:
        stop.set()
        await task
