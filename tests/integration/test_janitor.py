"""The janitor: purges only what no merchant can ask for any more, in bounded batches, as one
self-scheduling job however many workers start; `hazina janitor [--dry-run]`."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from hazina.bootstrap import Container, start
from hazina.cli import main
from hazina.db.database import Database
from hazina.db.models import (
    AuditLog,
    Event,
    IdempotencyKey,
    InboundEvent,
    Job,
    Payment,
    WebhookAttempt,
    WebhookLog,
)
from hazina.domain.clock import utc_now
from hazina.services import janitor
from hazina.services.merchants import TEST_MERCHANT_ID
from hazina.testing.sink import WebhookSink
from hazina.worker import Worker, janitor_retention
from tests.conftest import make_settings
from tests.waiting import drain, wait_until

LONG_AGO = timedelta(days=400)
RECENTLY = timedelta(hours=1)


async def count(db: Database, model: type[Any], *where: Any) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def seed_history(
    client: httpx.AsyncClient, container: Container, worker: Worker, sink: WebhookSink
) -> str:
    """A year-old paid payment with its events, delivery, audit rows and idempotency key (all
    kept), beside purgeable rows of each kind and recent or unfinished ones that must stay."""
    await client.put("/api/v1/webhooks/config", json={"webhook_url": sink.url("/hook")})
    order = await client.post("/api/v1/orders", json={"amount": 50000})
    created = await client.post(
        "/api/v1/payments",
        json={"order_id": order.json()["id"], "method": "upi", "vpa": "user@paytm"},
        headers={"Idempotency-Key": "kept-while-unexpired"},
    )
    payment_id = created.json()["id"]
    await drain(worker)
    old, recent = utc_now() - LONG_AGO, utc_now() - RECENTLY
    async with container.db.transaction() as session:
        for model in (Payment, Event, WebhookLog, AuditLog):
            await session.execute(update(model).values(created_at=old))
        await session.execute(update(Job).values(updated_at=old))  # finished, long ago
        await session.execute(update(WebhookAttempt).values(attempted_at=old))
        delivery_id = await session.scalar(select(WebhookLog.id).limit(1))
        assert delivery_id is not None
        session.add(WebhookAttempt(delivery_id=delivery_id, attempt=9, duration_ms=1))  # recent
        session.add_all(
            [
                Job(kind="process_payment", payload={}, status="completed", max_attempts=1),
                Job(
                    kind="process_payment",
                    payload={},
                    status="pending",
                    max_attempts=1,
                    run_at=old,
                    updated_at=old,
                ),
                IdempotencyKey(
                    merchant_id=TEST_MERCHANT_ID,
                    key="expired",
                    request_hash="h",
                    status_code=201,
                    response_body="{}",
                    expires_at=recent,
                ),
            ]
        )
        for n, (status, received_at) in enumerate(
            [("rejected", old), ("rejected", old), ("rejected", recent), ("processed", old)]
        ):
            session.add(
                InboundEvent(
                    id=f"ie_janitor{n:08d}",
                    provider="stripe",
                    status=status,
                    body=b"{}",
                    received_at=received_at,
                )
            )
    return str(payment_id)


async def test_purges_only_what_nobody_can_ask_for_in_bounded_batches(
    client: httpx.AsyncClient, container: Container, worker: Worker, sink: WebhookSink
) -> None:
    payment_id = await seed_history(client, container, worker, sink)
    db = container.db
    finished_jobs = await count(db, Job, Job.status == "completed") - 1  # less the recent one
    old_attempts = await count(db, WebhookAttempt) - 1
    assert finished_jobs >= 2  # the payment's processing and its delivery
    assert old_attempts >= 1
    expected = {
        "idempotency_keys": 1,
        "jobs": finished_jobs,
        "webhook_attempts": old_attempts,
        "inbound_events": 2,
    }
    retention = janitor_retention(container.settings)
    kept_before = [await count(db, model) for model in (Payment, Event, WebhookLog, AuditLog)]

    assert await janitor.count_purgeable(db, retention) == expected
    assert await janitor.purge(db, retention, batch_size=1) == expected  # one row per batch
    assert await janitor.count_purgeable(db, retention) == dict.fromkeys(expected, 0)

    # Everything a merchant can still ask for survives, over the API too.
    assert [
        await count(db, model) for model in (Payment, Event, WebhookLog, AuditLog)
    ] == kept_before
    assert (await client.get(f"/api/v1/payments/{payment_id}")).json()["status"] == "success"
    deliveries = (await client.get("/api/v1/webhooks")).json()["data"]
    assert deliveries
    assert (await client.get(f"/api/v1/webhooks/{deliveries[0]['id']}")).status_code == 200
    assert (await client.get("/api/v1/events")).json()["data"]
    assert (await client.get("/api/v1/audit-logs")).json()["total"] > 0
    assert await count(db, IdempotencyKey, IdempotencyKey.key.like("%kept-while-unexpired")) == 1
    assert await count(db, Job, Job.status == "pending", Job.kind == "process_payment") == 1
    assert await count(db, WebhookAttempt) == 1
    assert set(await inbound_statuses(db)) == {
        ("ie_janitor00000002", "rejected"),
        ("ie_janitor00000003", "processed"),
    }


async def inbound_statuses(db: Database) -> list[tuple[str, str]]:
    async with db.read() as session:
        rows = await session.execute(select(InboundEvent.id, InboundEvent.status))
        return [(row.id, row.status) for row in rows]


async def live_janitors(db: Database) -> int:
    return await count(
        db, Job, Job.kind == janitor.JANITOR, Job.status.in_(["pending", "processing"])
    )


async def janitor_runs(db: Database, status: str) -> bool:
    return await count(db, Job, Job.kind == janitor.JANITOR, Job.status == status) > 0


async def run_until(worker: Worker, condition: Callable[[], Awaitable[bool]]) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await wait_until(condition)
    finally:
        stop.set()
        await task


async def test_one_janitor_job_however_many_workers_schedule_it(container: Container) -> None:
    results = await asyncio.gather(*(janitor.ensure_janitor(container.db) for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]
    assert await live_janitors(container.db) == 1


async def test_the_worker_runs_the_janitor_and_schedules_the_next_run(
    container: Container, worker: Worker
) -> None:
    async with container.db.transaction() as session:
        session.add(
            Job(
                kind="process_payment",
                payload={},
                status="failed",
                max_attempts=1,
                updated_at=utc_now() - LONG_AGO,
            )
        )
    # Starting, the worker schedules a janitor run due now, and runs it.
    await run_until(worker, lambda: janitor_runs(container.db, "completed"))
    assert await count(container.db, Job, Job.status == "failed") == 0
    assert await count(container.db, Job, Job.kind == janitor.JANITOR) == 2
    async with container.db.read() as session:
        following = await session.scalar(
            select(Job).where(Job.kind == janitor.JANITOR, Job.status == "pending")
        )
    assert following is not None
    interval = timedelta(seconds=container.settings.janitor_interval_seconds)
    assert following.run_at > utc_now() + interval - timedelta(minutes=5)
    # Another start finds the next run scheduled and adds none.
    await run_until(worker, lambda: janitor_runs(container.db, "completed"))
    assert await live_janitors(container.db) == 1


def test_the_janitor_command_counts_then_deletes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite only: the command runs its own event loop, as it does from a shell."""
    monkeypatch.chdir(tmp_path)  # away from any .env
    url = f"sqlite+aiosqlite:///{tmp_path / 'hazina.db'}"

    async def seed() -> None:
        container = await start(make_settings(url))
        try:
            async with container.db.transaction() as session:
                session.add(
                    IdempotencyKey(
                        merchant_id=TEST_MERCHANT_ID,
                        key="expired",
                        request_hash="h",
                        status_code=201,
                        response_body="{}",
                        expires_at=utc_now() - RECENTLY,
                    )
                )
        finally:
            await container.close()

    asyncio.run(seed())
    env = {"HAZINA_DATABASE_URL": url, "HAZINA_MASTER_KEYS": make_settings(url).master_keys or ""}
    dry = CliRunner().invoke(main, ["janitor", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines() == [
        "idempotency_keys: would delete 1",
        "jobs: would delete 0",
        "webhook_attempts: would delete 0",
        "inbound_events: would delete 0",
    ]
    again = CliRunner().invoke(main, ["janitor", "--dry-run"], env=env)
    assert "idempotency_keys: would delete 1" in again.stdout  # a dry run deleted nothing
    real = CliRunner().invoke(main, ["janitor"], env=env)
    assert real.exit_code == 0, real.output
    assert "idempotency_keys: deleted 1" in real.stdout
    after = CliRunner().invoke(main, ["janitor", "--dry-run"], env=env)
    assert "idempotency_keys: would delete 0" in after.stdout
