"""Health, liveness, the contract's test-support endpoints, and errors outside any route."""

import asyncio
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import delete, func, select

from hazina.bootstrap import Container, start
from hazina.config import Settings
from hazina.db import queue
from hazina.db.database import Database
from hazina.db.models import (
    AuditLog,
    DashboardUser,
    Merchant,
    WebhookEndpoint,
    WorkerHeartbeat,
)
from hazina.services.merchants import TEST_MERCHANT_ID, seed_test_merchant
from hazina.services.ports import SecretBox
from hazina.worker import Worker
from tests.conftest import http_client, make_settings
from tests.waiting import drain, wait_until

# Production refuses to start without a session secret.
SESSION_SECRET = "p" * 32
ISO_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
TEST_MERCHANT = {
    "id": "550e8400-e29b-41d4-a716-446655440000",
    "email": "test@example.com",
    "api_key": "key_test_abc123",
    "seeded": True,
}


async def worker_field(client: httpx.AsyncClient) -> str:
    body = (await client.get("/health")).json()
    value: str = body["worker"]
    return value


async def worker_is(client: httpx.AsyncClient, expected: str) -> bool:
    return await worker_field(client) == expected


async def test_health_without_a_worker(anonymous: httpx.AsyncClient) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    response = await anonymous.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "database", "redis", "worker", "ledger_check", "timestamp"}
    assert body["ledger_check"] is None  # no `hazina ledger check` ran yet
    assert body["status"] == "healthy"
    assert body["database"] == "connected"
    assert body["redis"] == "not_configured"
    assert body["worker"] == "stopped"
    assert ISO_Z.fullmatch(body["timestamp"])
    stamp = datetime.strptime(body["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= stamp <= datetime.now(UTC)


async def test_health_reports_a_running_worker_only_while_it_beats(
    anonymous: httpx.AsyncClient, worker: Worker
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await wait_until(lambda: worker_is(anonymous, "running"))
        status = (await anonymous.get("/api/v1/test/jobs/status")).json()
        assert status["worker_status"] == "running"
    finally:
        stop.set()
        await task
    assert await worker_field(anonymous) == "stopped"
    assert (await anonymous.get("/api/v1/test/jobs/status")).json()["worker_status"] == "stopped"


async def test_a_stale_heartbeat_means_stopped(
    anonymous: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    old = datetime.now(UTC) - settings.worker_stale_after - timedelta(seconds=1)
    async with db.transaction() as session:
        session.add(
            WorkerHeartbeat(
                worker_id="gone",
                hostname="h",
                pid=1,
                concurrency=1,
                started_at=old,
                last_seen_at=old,
            )
        )
    assert await worker_field(anonymous) == "stopped"
    await queue.beat(db, "alive", concurrency=1, pid=2)
    assert await worker_field(anonymous) == "running"
    await queue.forget(db, "alive")
    assert await worker_field(anonymous) == "stopped"


async def test_livez(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


async def test_test_merchant(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/api/v1/test/merchant")
    assert response.status_code == 200
    assert response.json() == TEST_MERCHANT


async def test_test_merchant_absent_is_404(anonymous: httpx.AsyncClient, db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(delete(AuditLog))
        await session.execute(delete(WebhookEndpoint))
        await session.execute(delete(DashboardUser))
        await session.execute(delete(Merchant))
    response = await anonymous.get("/api/v1/test/merchant")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "NOT_FOUND_ERROR", "description": "Test merchant not found"}
    }


class TestProductionOnADevelopmentDatabase:
    """A database seeded in development, then started in production: the published test
    credentials stop working, and the deactivation is audited."""

    async def test_the_test_merchant_is_deactivated(
        self, container: Container, database_url: str
    ) -> None:
        credentials = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}
        async with http_client(container) as development:
            seeded = await development.post(
                "/api/v1/orders", json={"amount": 500}, headers=credentials
            )
            assert seeded.status_code == 201  # the development start seeded the test merchant
        production = await start(
            make_settings(database_url, env="production", session_secret=SESSION_SECRET)
        )
        try:
            async with http_client(production) as client:
                for method, path, body in (
                    ("POST", "/api/v1/orders", {"amount": 500}),
                    ("GET", f"/api/v1/orders/{seeded.json()['id']}", None),
                    ("GET", "/api/v1/payments", None),
                ):
                    response = await client.request(method, path, json=body, headers=credentials)
                    assert (response.status_code, response.json()) == (
                        401,
                        {
                            "error": {
                                "code": "AUTHENTICATION_ERROR",
                                "description": "Invalid API credentials",
                            }
                        },
                    ), (method, path)
            async with production.db.read() as session:
                merchant = await session.get_one(Merchant, TEST_MERCHANT_ID)
                twins = (
                    await session.scalars(
                        select(Merchant).where(Merchant.account_id == merchant.account_id)
                    )
                ).all()
                audits = (
                    await session.scalars(
                        select(AuditLog).where(AuditLog.action == "merchant.deactivated")
                    )
                ).all()
            # Both twins of the published test merchant: its test and its live key pairs.
            assert sorted(twin.livemode for twin in twins) == [False, True]
            assert [twin.is_active for twin in twins] == [False, False]
            assert sorted(audit.target for audit in audits) == sorted(
                f"merchant:{twin.id}" for twin in twins
            )
            # A second production start finds nothing left to deactivate.
            again = await start(
                make_settings(database_url, env="production", session_secret=SESSION_SECRET)
            )
            await again.db.dispose()
            async with production.db.read() as session:
                count = await session.scalar(
                    select(func.count())
                    .select_from(AuditLog)
                    .where(AuditLog.action == "merchant.deactivated")
                )
            assert count == 2
        finally:
            await production.db.dispose()


class TestProduction:
    """HAZINA_ENV=production: no seeded merchant, and the test endpoints are not there."""

    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return make_settings(database_url, env="production", session_secret=SESSION_SECRET)

    async def test_not_seeded(self, anonymous: httpx.AsyncClient, db: Database) -> None:
        response = await anonymous.get("/api/v1/test/merchant")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND_ERROR"
        credentials = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}
        orders = await anonymous.post("/api/v1/orders", json={"amount": 500}, headers=credentials)
        assert orders.status_code == 401

    async def test_hidden_even_when_the_merchant_exists(
        self, anonymous: httpx.AsyncClient, db: Database, vault: SecretBox
    ) -> None:
        seeded = await seed_test_merchant(
            db, vault, email="test@example.com", api_key="key_test_abc123", api_secret="s"
        )
        assert seeded
        response = await anonymous.get("/api/v1/test/merchant")
        assert response.status_code == 404
        assert response.json() == {"error": {"code": "NOT_FOUND_ERROR", "description": "Not found"}}


async def job_counts(client: httpx.AsyncClient) -> dict[str, object]:
    body: dict[str, object] = (await client.get("/api/v1/test/jobs/status")).json()
    return body


async def test_job_status_counts_real_jobs(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    db: Database,
    worker: Worker,
    settings: Settings,
) -> None:
    empty = await anonymous.get("/api/v1/test/jobs/status")
    assert empty.status_code == 200
    assert empty.json() == {
        "pending": 0,
        "processing": 0,
        "completed": 0,
        "failed": 0,
        "worker_status": "stopped",
    }
    for _ in range(3):  # one order per payment: an order takes one payment at a time
        order_id = (await client.post("/api/v1/orders", json={"amount": 500})).json()["id"]
        body = {"order_id": order_id, "method": "upi", "vpa": "user@paytm"}
        assert (await client.post("/api/v1/payments", json=body)).status_code == 201
    async with db.transaction() as session:
        await queue.enqueue(session, "no_such_kind", {}, max_attempts=1)
    pending = await job_counts(anonymous)
    assert pending == {
        "pending": 4,
        "processing": 0,
        "completed": 0,
        "failed": 0,
        "worker_status": "stopped",
    }
    # The app's worker runs the payments and leaves the kind it does not know alone. Each
    # success also enqueues its ledger release (`release_balance`, due at once in the sandbox).
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:

        async def payments_done() -> bool:
            return (await job_counts(anonymous))["completed"] == 6

        await wait_until(payments_done)
    finally:
        stop.set()
        await task
    assert await job_counts(anonymous) == {
        "pending": 1,
        "processing": 0,
        "completed": 6,
        "failed": 0,
        "worker_status": "stopped",
    }

    # A worker that knows the kind runs it; it fails for good (one attempt allowed).
    async def broken(_: dict[str, object]) -> None:
        raise RuntimeError("no such kind after all")

    knowing = Worker(
        db,
        {"no_such_kind": broken},
        concurrency=1,
        lease=settings.job_lease,
        poll_seconds=settings.worker_poll_seconds,
        heartbeat_seconds=settings.worker_heartbeat_seconds,
        retry_base=timedelta(seconds=settings.job_retry_base_seconds),
        retry_cap=timedelta(seconds=settings.job_retry_cap_seconds),
    )
    await drain(knowing)
    done = await job_counts(anonymous)
    assert done == {
        "pending": 0,
        "processing": 0,
        "completed": 6,
        "failed": 1,
        "worker_status": "stopped",
    }


async def test_job_status_counts_processing_jobs(
    anonymous: httpx.AsyncClient, db: Database
) -> None:
    async with db.transaction() as session:
        for _ in range(2):
            await queue.enqueue(session, "process_payment", {"payment_id": "x"}, max_attempts=3)
    claimed = await queue.claim(db, "test-worker", 1, timedelta(minutes=1))
    assert len(claimed) == 1
    body = (await anonymous.get("/api/v1/test/jobs/status")).json()
    assert (body["pending"], body["processing"]) == (1, 1)


async def test_unknown_route_is_an_enveloped_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "NOT_FOUND_ERROR", "description": "Not found"}}


async def test_wrong_method_is_an_enveloped_error(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/v1/orders")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert set(response.json()) == {"error"}
