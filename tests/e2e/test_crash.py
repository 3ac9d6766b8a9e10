"""Real processes dying and stopping: a SIGKILLed worker's jobs, and `hazina serve`'s lifecycle."""

import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from hazina.db.models import Event, Job, Payment
from hazina.db.queue import JANITOR
from hazina.services.ledger.charges import RELEASE_BALANCE
from hazina.services.payments import PROCESS_PAYMENT
from tests.e2e.servers import Hub, api, create_order, job_status, open_hub

pytestmark = pytest.mark.slow

PAYMENTS = 20
DOOMED_CONCURRENCY = 8


@pytest.fixture(params=["sqlite", "postgres"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Hub]:
    async with open_hub(request.param, tmp_path) as hub:
        await hub.prepare()
        yield hub


async def create_payment(client: httpx.AsyncClient, order_id: str) -> str:
    response = await client.post(
        "/api/v1/payments", json={"order_id": order_id, "method": "upi", "vpa": "user@paytm"}
    )
    assert response.status_code == 201, response.text
    payment_id: str = response.json()["id"]
    return payment_id


async def test_a_killed_workers_jobs_are_finished_once_by_another(hub: Hub) -> None:
    server = await hub.serve()
    async with api(server) as client:
        payment_ids = [
            await create_payment(client, await create_order(client)) for _ in range(PAYMENTS)
        ]
        assert (await job_status(client))["pending"] == PAYMENTS

        doomed = hub.worker(
            "doomed-worker",
            DOOMED_CONCURRENCY,
            TEST_PROCESSING_DELAY="30000",  # never finishes before the kill
            HAZINA_JOB_LEASE_SECONDS="2",
        )

        async def doomed_is_busy() -> bool:
            return bool((await job_status(client))["processing"] == DOOMED_CONCURRENCY)

        await hub.eventually(doomed_is_busy, within=30, what="the first worker claims jobs")
        async with hub.database() as db, db.read() as session:
            held = (
                await session.execute(
                    select(Job.id, Job.locked_by, Job.attempts).where(Job.kind == PROCESS_PAYMENT)
                )
            ).all()
        killed_jobs = {job_id for job_id, locked_by, _ in held if locked_by is not None}
        assert len(killed_jobs) == DOOMED_CONCURRENCY
        holders = {locked_by for _, locked_by, _ in held if locked_by is not None}
        assert len(holders) == 1
        assert f":{doomed.pid}:" in holders.pop()  # worker ids are host:pid:random

        doomed.kill()  # SIGKILL: no release, no goodbye

        async def reported_stopped() -> bool:
            return bool((await job_status(client))["worker_status"] == "stopped")

        await hub.eventually(reported_stopped, within=15, what="the dead worker's heartbeat ages")
        survivor = hub.worker("survivor", 20, HAZINA_JOB_LEASE_SECONDS="2")

        async def drained() -> bool:
            status = await job_status(client)
            return bool(status["pending"] == status["processing"] == 0)

        await hub.eventually(drained, within=60, what="the second worker drains the queue")
        status = await job_status(client)
        assert status == {
            "pending": 0,
            "processing": 0,
            # Each payment's job, and the job that releases its money in the ledger.
            "completed": 2 * PAYMENTS,
            "failed": 0,
            "worker_status": "running",
        }
        for payment_id in payment_ids:
            payment = (await client.get(f"/api/v1/payments/{payment_id}")).json()
            assert payment["status"] == "success", payment

    survivor.signal(signal.SIGTERM)
    assert await survivor.exit_code(within=15) == 0, survivor.output()

    async with hub.database() as db, db.read() as session:
        all_jobs = (await session.scalars(select(Job))).all()
        payments = (await session.scalars(select(Payment))).all()
        events = (await session.execute(select(Event.resource_id, Event.type))).all()
    # Besides the payments' jobs, only the janitor's (which every worker schedules at start, and
    # which re-enqueues itself): its chain goes on, with one next run waiting and nothing held.
    janitors = [job for job in all_jobs if job.kind == JANITOR]
    assert [job.status for job in janitors if job.status != "completed"] == ["pending"], janitors
    assert all(job.locked_by is None for job in janitors)
    jobs = [job for job in all_jobs if job.kind != JANITOR]
    assert Counter(job.kind for job in jobs) == {
        PROCESS_PAYMENT: PAYMENTS,
        RELEASE_BALANCE: PAYMENTS,
    }
    assert all(job.status == "completed" and job.locked_by is None for job in jobs)
    attempts = {job.id: job.attempts for job in jobs}
    assert {attempts[job_id] for job_id in killed_jobs} == {2}, attempts
    assert {n for job_id, n in attempts.items() if job_id not in killed_jobs} == {1}, attempts

    assert sorted(p.id for p in payments) == sorted(payment_ids)
    assert {p.status for p in payments} == {"success"}
    outcomes = Counter((resource, kind) for resource, kind in events)
    for payment_id in payment_ids:
        assert outcomes[(payment_id, "payment.created")] == 1
        assert outcomes[(payment_id, "payment.success")] == 1, outcomes
        assert outcomes[(payment_id, "payment.failed")] == 0
    payment_events = sum(n for (_, kind), n in outcomes.items() if kind.startswith("payment."))
    assert payment_events == 3 * PAYMENTS  # created, pending, success: nothing else
    released = sum(n for (_, kind), n in outcomes.items() if kind == "balance.available")
    assert released == PAYMENTS == sum(outcomes.values()) - payment_events  # nothing else


async def test_a_stopped_worker_hands_its_jobs_back_unspent(hub: Hub) -> None:
    """SIGTERM, unlike SIGKILL: unfinished jobs are released at once, their attempt not counted."""
    server = await hub.serve()
    async with api(server) as client:
        for _ in range(3):
            await create_payment(client, await create_order(client))
        stopping = hub.worker(
            "stopping-worker", 3, TEST_PROCESSING_DELAY="30000", HAZINA_JOB_LEASE_SECONDS="2"
        )

        async def busy() -> bool:
            return bool((await job_status(client))["processing"] == 3)

        await hub.eventually(busy, within=30, what="the worker claims the jobs")
        stopping.signal(signal.SIGTERM)
        assert await stopping.exit_code(within=15) == 0, stopping.output()
        status = await job_status(client)
        assert (status["pending"], status["processing"]) == (3, 0), status  # no lease to wait out
        async with hub.database() as db, db.read() as session:
            jobs = (await session.execute(select(Job.kind, Job.attempts))).all()
        # The janitor's next run (scheduled by the worker at start) is no payment's work.
        assert {kind for kind, _ in jobs} <= {PROCESS_PAYMENT, JANITOR}, jobs
        assert [n for kind, n in jobs if kind == PROCESS_PAYMENT] == [0, 0, 0]
        assert status["worker_status"] == "stopped"  # it said goodbye: no heartbeat to age out


async def test_serve_with_its_worker_takes_a_payment_and_stops_cleanly(hub: Hub) -> None:
    """`make run`: one process migrates (SQLite), seeds, serves, settles, and stops on SIGTERM."""
    server = await hub.serve(worker=True)
    async with api(server) as client:

        async def worker_running() -> bool:
            return bool((await client.get("/health")).json()["worker"] == "running")

        await hub.eventually(worker_running, within=15, what="the embedded worker's heartbeat")
        merchant = (await client.get("/api/v1/test/merchant")).json()
        assert merchant["email"] == "test@example.com"
        assert merchant["seeded"] is True

        order_id = await create_order(client)
        payment_id = await create_payment(client, order_id)

        async def settled() -> bool:
            response = await client.get(f"/api/v1/payments/{payment_id}")
            return bool(response.json()["status"] != "pending")

        await hub.eventually(settled, within=20, what="the payment settles")
        assert (await client.get(f"/api/v1/payments/{payment_id}")).json()["status"] == "success"
        assert (await client.get(f"/api/v1/orders/{order_id}")).json()["status"] == "paid"

    server.signal(signal.SIGTERM)
    assert await server.exit_code(within=10) == 0, server.output()
    assert "Traceback" not in server.output()


async def test_serve_refuses_an_unmigrated_postgres(tmp_path: Path) -> None:
    """N API processes never race to alter one schema: PostgreSQL is migrated explicitly."""
    async with open_hub("postgres", tmp_path) as hub:
        code, output = await hub.run("serve", "--port", "1", "--no-worker")
    assert code != 0, output
    assert "hazina migrate" in output
