"""The Worker with test handlers, on SQLite and PostgreSQL: retries, limits, leases, shutdown."""

import asyncio
import dataclasses
import functools
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hazina.bootstrap import Container
from hazina.config import Settings
from hazina.db import queue
from hazina.db.database import Database
from hazina.db.models import Event, Job, Order, Payment, WebhookLog
from hazina.domain.webhooks import AttemptOutcome, WebhookMessage
from hazina.providers.sandbox import SandboxProcessor
from hazina.services import webhook_endpoints, webhooks
from hazina.services.events import DELIVER_WEBHOOK, DELIVERY_JOB_MAX_ATTEMPTS
from hazina.services.merchants import TEST_MERCHANT_ID
from hazina.services.payments import PROCESS_PAYMENT
from hazina.worker import Handler, Worker, handlers
from tests.conftest import make_settings
from tests.jobs import add_job, get_job
from tests.waiting import queue_is_empty, wait_until


def make_worker(
    db: Database,
    job_handlers: Mapping[str, Handler],
    *,
    concurrency: int = 4,
    lease: float = 5.0,
    poll_seconds: float = 0.05,
) -> Worker:
    return Worker(
        db,
        job_handlers,
        concurrency=concurrency,
        lease=timedelta(seconds=lease),
        poll_seconds=poll_seconds,
        heartbeat_seconds=0.1,
        retry_base=timedelta(milliseconds=10),
        retry_cap=timedelta(milliseconds=50),
    )


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


def status_is(db: Database, job_id: int, *statuses: str) -> Any:
    async def check() -> bool:
        return (await get_job(db, job_id)).status in statuses

    return check


async def test_a_flaky_handler_is_retried_until_it_succeeds(db: Database) -> None:
    calls: list[dict[str, Any]] = []

    async def flaky(payload: dict[str, Any]) -> None:
        calls.append(payload)
        if len(calls) < 3:
            raise RuntimeError(f"transient failure {len(calls)}")

    [job_id] = await add_job(db, "flaky", max_attempts=5)
    async with running(make_worker(db, {"flaky": flaky})):
        await wait_until(status_is(db, job_id, "completed", "failed"), timeout=10)
    job = await get_job(db, job_id)
    assert (job.status, job.attempts, len(calls)) == ("completed", 3, 3)
    assert calls == [{"n": 0}] * 3
    assert job.last_error == "RuntimeError: transient failure 2"  # kept from the last failure


async def test_a_handler_that_always_raises_fails_after_max_attempts(db: Database) -> None:
    calls = 0

    async def broken(_: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("card network unreachable")

    [job_id] = await add_job(db, "broken", max_attempts=3)
    async with running(make_worker(db, {"broken": broken})):
        await wait_until(status_is(db, job_id, "failed"), timeout=10)
    job = await get_job(db, job_id)
    assert (job.status, job.attempts, calls) == ("failed", 3, 3)
    assert job.last_error is not None
    assert "card network unreachable" in job.last_error
    assert (job.locked_by, job.locked_until) == (None, None)


async def test_an_unknown_kind_stays_pending_for_a_worker_that_knows_it(db: Database) -> None:
    ran: list[str] = []

    def record(name: str) -> Handler:
        async def handler(_: dict[str, Any]) -> None:
            ran.append(name)

        return handler

    [mystery_id] = await add_job(db, "mystery", max_attempts=5)
    [known_id] = await add_job(db, "known", max_attempts=5)
    async with running(make_worker(db, {"known": record("known")})):
        await wait_until(status_is(db, known_id, "completed"), timeout=10)
        await asyncio.sleep(0.2)  # several more polls: the unknown kind is still left alone
    job = await get_job(db, mystery_id)
    assert (job.status, job.attempts, job.locked_by, job.locked_until) == ("pending", 0, None, None)
    assert job.last_error is None
    assert ran == ["known"]
    # A worker that knows the kind (say, the newer one of a rolling upgrade) runs it.
    async with running(make_worker(db, {"mystery": record("mystery")})):
        await wait_until(status_is(db, mystery_id, "completed"), timeout=10)
    assert (await get_job(db, mystery_id)).attempts == 1
    assert ran == ["known", "mystery"]


async def test_a_job_whose_last_attempt_was_lost_fails_without_running(db: Database) -> None:
    calls = 0

    async def handler(_: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1

    [job_id] = await add_job(db, "once", max_attempts=1)
    await queue.claim(db, "crashed-worker", 1, timedelta(milliseconds=1))
    async with running(make_worker(db, {"once": handler})):
        await wait_until(status_is(db, job_id, "failed"), timeout=10)
    job = await get_job(db, job_id)
    assert (job.attempts, calls) == (2, 0)
    assert job.last_error is not None
    assert "lease expired" in job.last_error


async def test_concurrency_is_honoured(db: Database) -> None:
    active = 0
    peak = 0

    async def busy(_: dict[str, Any]) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        try:
            await asyncio.sleep(0.05)  # the work itself
        finally:
            active -= 1

    ids = await add_job(db, "busy", n=12, max_attempts=5)
    async with running(make_worker(db, {"busy": busy}, concurrency=3)):
        for job_id in ids:
            await wait_until(status_is(db, job_id, "completed"), timeout=15)
    assert peak == 3  # reached, never exceeded


async def test_a_long_job_keeps_its_lease_by_renewing_it(db: Database, database_url: str) -> None:
    runs: list[str] = []

    def slow(name: str) -> Handler:
        async def handler(_: dict[str, Any]) -> None:
            runs.append(name)
            await asyncio.sleep(1.0)  # three leases long

        return handler

    first = make_worker(db, {"slow": slow("first")}, lease=0.3)
    other_db = Database(database_url)
    second = make_worker(other_db, {"slow": slow("second")}, lease=0.3)
    try:
        async with running(second):
            [job_id] = await add_job(db, "slow", max_attempts=5)
            async with running(first):
                await wait_until(status_is(db, job_id, "completed"), timeout=10)
    finally:
        await other_db.dispose()
    job = await get_job(db, job_id)
    assert len(runs) == 1, f"the job ran {runs}: its lease was stolen"
    assert job.attempts == 1


async def test_stop_lets_short_jobs_finish_and_releases_the_rest(db: Database) -> None:
    started: set[str] = set()
    cancelled: list[str] = []

    async def stuck(_: dict[str, Any]) -> None:
        started.add("stuck")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append("stuck")
            raise

    async def short(_: dict[str, Any]) -> None:
        started.add("short")
        await asyncio.sleep(0.1)

    [stuck_id] = await add_job(db, "stuck", max_attempts=5)
    [short_id] = await add_job(db, "short", max_attempts=5)
    worker = make_worker(db, {"stuck": stuck, "short": short}, lease=2.0)
    async with running(worker):

        async def both_started() -> bool:
            return started == {"stuck", "short"}

        await wait_until(both_started, timeout=10)
    # `running` has stopped the worker and awaited it.
    assert cancelled == ["stuck"]
    assert (await get_job(db, short_id)).status == "completed"
    job = await get_job(db, stuck_id)
    assert (job.status, job.attempts, job.locked_by, job.locked_until) == ("pending", 0, None, None)
    assert await queue.count_live_workers(db, timedelta(minutes=1)) == 0  # forgotten


async def test_a_running_worker_reports_heartbeats(db: Database) -> None:
    async with running(make_worker(db, {})):

        async def live() -> bool:
            return await queue.count_live_workers(db, timedelta(seconds=1)) == 1

        await wait_until(live, timeout=5)
    assert await queue.count_live_workers(db, timedelta(minutes=1)) == 0


async def test_an_idle_worker_wakes_up_on_enqueue(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: the committing process wakes its own worker. PostgreSQL: LISTEN/NOTIFY, so the
    job is enqueued through a separate Database (as another process would)."""
    empty_claims = 0
    real_claim = queue.claim

    async def counting_claim(*args: Any, **kwargs: Any) -> list[queue.ClaimedJob]:
        nonlocal empty_claims
        claimed = await real_claim(*args, **kwargs)
        empty_claims += not claimed
        return claimed

    monkeypatch.setattr(queue, "claim", counting_claim)
    done = asyncio.Event()

    async def handler(_: dict[str, Any]) -> None:
        done.set()

    producer = db if db.is_sqlite else Database(database_url)
    try:
        async with running(make_worker(db, {"wake": handler}, poll_seconds=60.0)):

            async def idle() -> bool:
                return empty_claims >= 1

            await wait_until(idle, timeout=5)  # it claimed nothing and now waits up to 60 s
            started = time.monotonic()
            await add_job(producer, "wake", max_attempts=5)
            await asyncio.wait_for(done.wait(), timeout=70)  # past the 60 s poll
            elapsed = time.monotonic() - started
    finally:
        if producer is not db:
            await producer.dispose()
    # Far below the poll, however loaded the machine: woken by the enqueue, not by the poll.
    assert elapsed < 30, f"the job waited {elapsed:.2f}s: the worker slept through the enqueue"


async def test_the_payment_job_settles_once_when_it_runs_twice_at_once(
    client: httpx.AsyncClient, container: Container
) -> None:
    """A job may run twice (a lease lost mid-run): the payment still settles exactly once."""
    order = (await client.post("/api/v1/orders", json={"amount": 50000})).json()
    created = await client.post(
        "/api/v1/payments", json={"order_id": order["id"], "method": "upi", "vpa": "user@paytm"}
    )
    assert created.status_code == 201, created.text
    payment_id = created.json()["id"]
    process = handlers(container)[PROCESS_PAYMENT]

    await asyncio.gather(*(process({"payment_id": payment_id}) for _ in range(3)))
    await process({"payment_id": payment_id})  # and once more, late

    async with container.db.read() as session:
        events = (
            await session.scalars(select(Event.type).where(Event.resource_id == payment_id))
        ).all()
    assert sorted(events) == ["payment.created", "payment.pending", "payment.success"]
    payment = (await client.get(f"/api/v1/payments/{payment_id}")).json()
    assert payment["status"] == "success"
    assert (await client.get(f"/api/v1/orders/{order['id']}")).json()["status"] == "paid"


class TestGivingUpOnAPayment:
    """A `process_payment` job out of attempts settles its payment `failed`, once."""

    MAX_ATTEMPTS = 2

    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return make_settings(database_url, job_max_attempts=self.MAX_ATTEMPTS)

    async def create_payment(self, client: httpx.AsyncClient) -> tuple[str, str]:
        order = (await client.post("/api/v1/orders", json={"amount": 50000})).json()
        created = await client.post(
            "/api/v1/payments",
            json={"order_id": order["id"], "method": "upi", "vpa": "user@paytm"},
        )
        assert created.status_code == 201, created.text
        payment_id: str = created.json()["id"]
        return order["id"], payment_id

    async def payment_job(self, db: Database, payment_id: str) -> Job:
        async with db.read() as session:
            jobs = (await session.scalars(select(Job).where(Job.kind == PROCESS_PAYMENT))).all()
        [job] = [job for job in jobs if job.payload == {"payment_id": payment_id}]
        return job

    async def assert_failed_once(
        self, client: httpx.AsyncClient, db: Database, order_id: str, payment_id: str
    ) -> None:
        payment = (await client.get(f"/api/v1/payments/{payment_id}")).json()
        assert payment["status"] == "failed"
        assert payment["error_code"] == "PAYMENT_FAILED"
        assert payment["error_description"] == "Payment processing failed"
        async with db.read() as session:
            events = (
                await session.scalars(select(Event.type).where(Event.resource_id == payment_id))
            ).all()
            order = await session.get_one(Order, order_id)
        assert sorted(events) == ["payment.created", "payment.failed", "payment.pending"]
        assert order.status == "attempted"  # and payable again:
        again = await client.post(
            "/api/v1/payments", json={"order_id": order_id, "method": "upi", "vpa": "a@b"}
        )
        assert again.status_code == 201, again.text

    async def test_a_processor_that_always_raises_fails_the_payment(
        self,
        client: httpx.AsyncClient,
        container: Container,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        calls = 0

        async def unreachable(self: SandboxProcessor, method: str) -> bool:
            nonlocal calls
            calls += 1
            raise ConnectionError("the card network is unreachable")

        monkeypatch.setattr(SandboxProcessor, "settle", unreachable)
        order_id, payment_id = await self.create_payment(client)
        job = await self.payment_job(container.db, payment_id)
        assert job.max_attempts == self.MAX_ATTEMPTS
        worker = Worker.from_container(container)
        async with running(worker):
            await wait_until(status_is(container.db, job.id, "failed"), timeout=10)
        job = await get_job(container.db, job.id)
        assert (job.attempts, calls) == (self.MAX_ATTEMPTS, self.MAX_ATTEMPTS)
        assert job.last_error is not None
        assert "the card network is unreachable" in job.last_error
        await self.assert_failed_once(client, container.db, order_id, payment_id)
        # The give-up step is idempotent: running it again emits nothing more.
        await worker.give_up[PROCESS_PAYMENT]({"payment_id": payment_id})
        async with container.db.read() as session:
            failed = (
                await session.scalars(
                    select(Event.id).where(
                        Event.resource_id == payment_id, Event.type == "payment.failed"
                    )
                )
            ).all()
        assert len(failed) == 1

    async def test_a_lease_lost_on_the_last_attempt_fails_the_payment(
        self, client: httpx.AsyncClient, container: Container
    ) -> None:
        order_id, payment_id = await self.create_payment(client)
        job = await self.payment_job(container.db, payment_id)
        for attempt in range(1, self.MAX_ATTEMPTS + 1):  # every attempt's worker died mid-run
            crashed = functools.partial(
                self.claimed_by, container.db, job.id, f"crashed-worker-{attempt}"
            )
            await wait_until(crashed, timeout=10)
        async with running(Worker.from_container(container)):
            await wait_until(status_is(container.db, job.id, "failed"), timeout=10)
        job = await get_job(container.db, job.id)
        assert job.attempts == self.MAX_ATTEMPTS + 1
        assert job.last_error is not None
        assert "lease expired" in job.last_error
        await self.assert_failed_once(client, container.db, order_id, payment_id)

    @staticmethod
    async def claimed_by(db: Database, job_id: int, worker_id: str) -> bool:
        claimed = await queue.claim(db, worker_id, 1, timedelta(milliseconds=1))
        return [job.id for job in claimed] == [job_id]

    async def test_a_worker_without_give_up_steps_leaves_the_payment_pending(
        self, client: httpx.AsyncClient, container: Container
    ) -> None:
        """The contrast: the give-up step, not the job's failure itself, settles the payment."""
        _, payment_id = await self.create_payment(client)
        job = await self.payment_job(container.db, payment_id)

        async def broken(_: dict[str, Any]) -> None:
            raise RuntimeError("down")

        async with running(make_worker(container.db, {PROCESS_PAYMENT: broken})):
            await wait_until(status_is(container.db, job.id, "failed"), timeout=10)
        async with container.db.read() as session:
            assert (await session.get_one(Payment, payment_id)).status == "pending"


class TestCompletingInTheHandlersTransaction:
    """A handler may complete its job in its own final transaction: both commit, or neither."""

    async def test_the_completion_commits_with_the_effect(self, db: Database) -> None:
        calls: list[int] = []

        async def atomic(_: dict[str, Any]) -> None:
            calls.append(1)
            async with db.transaction() as session:
                await queue.complete_current_job(session)
                job = await session.get_one(Job, job_id)
                # Inside the handler's transaction the job is already completed.
                assert job.status == "completed"

        [job_id] = await add_job(db, "atomic", max_attempts=3)
        async with running(make_worker(db, {"atomic": atomic})):
            await wait_until(status_is(db, job_id, "completed", "failed"), timeout=10)
        job = await get_job(db, job_id)
        assert (job.status, job.attempts, job.locked_by, len(calls)) == ("completed", 1, None, 1)

    async def test_a_rolled_back_completion_leaves_the_job_to_be_retried(
        self, db: Database
    ) -> None:
        attempts: list[int] = []

        async def rolls_back_once(_: dict[str, Any]) -> None:
            attempts.append(1)
            async with db.transaction() as session:
                await queue.complete_current_job(session)
                if len(attempts) == 1:
                    raise RuntimeError("the effect failed after the completion was written")

        [job_id] = await add_job(db, "rolls_back_once", max_attempts=3)
        async with running(make_worker(db, {"rolls_back_once": rolls_back_once})):
            await wait_until(status_is(db, job_id, "completed", "failed"), timeout=10)
        job = await get_job(db, job_id)
        assert (job.status, job.attempts, len(attempts)) == ("completed", 2, 2)
        assert job.last_error == "RuntimeError: the effect failed after the completion was written"

    async def test_outside_a_worker_there_is_no_job_to_complete(self, db: Database) -> None:
        [job_id] = await add_job(db, "untouched")
        async with db.transaction() as session:
            await queue.complete_current_job(session)
        assert (await get_job(db, job_id)).status == "pending"


class RaisingSender:
    """A sender that fails outside an attempt (as a database or programming error would)."""

    async def send(self, message: WebhookMessage) -> AttemptOutcome:
        raise RuntimeError("the sender broke before any attempt was recorded")

    async def aclose(self) -> None:
        return None


class TestGivingUpOnADelivery:
    """A `deliver_webhook` job out of attempts marks its delivery failed, for recovery to find."""

    async def test_the_delivery_fails_and_recovery_can_resend_it(
        self, container: Container
    ) -> None:
        db = container.db
        await webhook_endpoints.set_config(
            db,
            container.providers.vault,
            TEST_MERCHANT_ID,
            "http://127.0.0.1:9/hook",
            production=False,
        )
        await webhook_endpoints.send_test_event(db, TEST_MERCHANT_ID)
        broken = dataclasses.replace(container, webhook_sender=RaisingSender())
        async with running(Worker.from_container(broken)):
            await wait_until(lambda: queue_is_empty(db), timeout=10)
        async with db.read() as session:
            [delivery] = (await session.scalars(select(WebhookLog))).all()
            jobs = (await session.scalars(select(Job).where(Job.kind == DELIVER_WEBHOOK))).all()
        assert (delivery.status, delivery.attempts, delivery.next_retry_at) == ("failed", 0, None)
        assert [(job.status, job.attempts) for job in jobs] == [
            ("failed", DELIVERY_JOB_MAX_ATTEMPTS)
        ]
        assert "the sender broke" in (jobs[0].last_error or "")
        since = delivery.created_at - timedelta(seconds=1)
        recovered = await webhooks.recover_deliveries(db, TEST_MERCHANT_ID, since)
        assert recovered["recovered"] == 1
