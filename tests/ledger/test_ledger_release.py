"""The `release_balance` job out of attempts: its give-up step says so and starts the release
over later, so money is never left pending for good."""

import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from hazina.bootstrap import Container
from hazina.db import queue
from hazina.db.models import Job, LedgerTransfer
from hazina.domain.clock import utc_now
from hazina.domain.states import JobStatus
from hazina.services.ledger import charges
from hazina.worker import Worker
from tests.jobs import run_jobs_to_exhaustion
from tests.ledger.helpers import assert_ledger_sound


async def run_once(worker: Worker, kinds: list[str]) -> bool:
    """One round of the due jobs of `kinds`, as the worker's loop runs them; False if none."""
    async with worker.db.transaction() as session:
        await session.execute(
            update(Job)
            .where(Job.status == JobStatus.PENDING, Job.kind.in_(kinds))
            .values(run_at=utc_now())
        )
    claimed = await queue.claim(worker.db, worker.id, 100, worker.lease, kinds=kinds)
    for job in claimed:
        await worker._execute(job)
    return bool(claimed)


async def release_jobs(container: Container) -> list[Job]:
    async with container.db.read() as session:
        return list(
            (
                await session.scalars(
                    select(Job).where(Job.kind == charges.RELEASE_BALANCE).order_by(Job.id)
                )
            ).all()
        )


async def test_a_release_out_of_attempts_is_logged_and_started_over(
    client: httpx.AsyncClient,
    worker: Worker,
    container: Container,
    caplog: pytest.LogCaptureFixture,
) -> None:
    order = await client.post("/api/v1/orders", json={"amount": 10000})
    payment = await client.post(
        "/api/v1/payments",
        json={"order_id": order.json()["id"], "method": "upi", "vpa": "user@paytm"},
    )
    assert payment.status_code == 201, payment.text
    others = [kind for kind in worker.handlers if kind != charges.RELEASE_BALANCE]
    for _ in range(60):
        if not await run_once(worker, others):
            break
    async with container.db.read() as session:
        charge = await session.scalar(
            select(LedgerTransfer).where(
                LedgerTransfer.payment_id == payment.json()["id"],
                LedgerTransfer.kind == charges.CHARGE,
            )
        )
    assert charge is not None
    assert charge.released_at is None

    # Its last attempt fails (say the database kept refusing it).
    async def refused(payload: dict[str, Any]) -> None:
        raise RuntimeError("could not release")

    [job] = await release_jobs(container)
    async with container.db.transaction() as session:
        await session.execute(update(Job).where(Job.id == job.id).values(max_attempts=1))
    real = dict(worker.handlers)
    worker.handlers = {**real, charges.RELEASE_BALANCE: refused}
    with caplog.at_level(logging.ERROR, logger="hazina.ledger"):
        assert await run_once(worker, [charges.RELEASE_BALANCE])
    assert any(charge.id in record.getMessage() for record in caplog.records)
    old, fresh = await release_jobs(container)
    assert old.status == JobStatus.FAILED
    assert fresh.status == JobStatus.PENDING
    assert fresh.payload == {"transfer_id": charge.id}
    assert fresh.max_attempts == charges.RELEASE_MAX_ATTEMPTS
    assert fresh.run_at > utc_now() + charges.RELEASE_RETRY_AFTER / 2

    # The fresh job releases the money.
    worker.handlers = real
    await run_jobs_to_exhaustion(worker)
    async with container.db.read() as session:
        released = await session.get_one(LedgerTransfer, charge.id)
    assert released.released_at is not None
    await assert_ledger_sound(container.db)


async def test_giving_up_on_a_charge_gone_does_nothing(container: Container) -> None:
    await charges.give_up_release(container.db, "ltx_missing00000000000")
    assert await release_jobs(container) == []
