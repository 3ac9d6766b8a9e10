"""PostgreSQL restarted under load: the API and the worker recover by themselves, losing nothing.

A private PostgreSQL (tests/e2e/private_postgres.py; the shared one serves other tests) backs one
`hazina serve --no-worker` and one standalone `hazina worker`. Merchant clients keep creating orders
and sandbox payments, each create retried with its Idempotency-Key on a 5xx or a broken
connection, as a real merchant's would be; the worker settles the payments and delivers every
event to a webhook sink. Once deliveries are flowing the database is stopped (fast: every
connection is cut, open transactions roll back) and started again on the same port, while the
creates go on. Neither Hazina process is restarted. Afterwards the database is counted: one payment
per key, exactly its three events, one delivery per event, each delivered and recorded, no job
left claimed.
"""

import asyncio
import itertools
import json
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from hazina.db.database import Database
from hazina.db.models import (
    Event,
    IdempotencyKey,
    Job,
    Order,
    Payment,
    WebhookAttempt,
    WebhookLog,
    WorkerHeartbeat,
)
from hazina.testing.sink import WebhookSink, always
from tests.e2e.private_postgres import PrivatePostgres, private_postgres
from tests.e2e.servers import AUTH, Hub

pytestmark = pytest.mark.slow

CLIENTS = 4  # merchant tasks creating at once, so requests are in flight when the database stops
BEFORE = 10  # payments created, and BEFORE * 2 deliveries received, before the restart
AFTER = 20  # payments created after it, by the same API process
OUTAGE_FAILURES = 3  # failed requests the clients must see while the database is down
REQUEST_DEADLINE = 60.0  # one create, retries included
SINK_PATH = "/restart"
EVENTS_PER_PAYMENT = ("payment.created", "payment.pending", "payment.success")
ENV = {
    "HAZINA_WEBHOOK_RETRY_SCHEDULE": "[0, 0.2, 0.4, 0.6, 0.8]",
    "HAZINA_WEBHOOK_TIMEOUT_SECONDS": "2",
}


@dataclass
class Ledger:
    """What the merchant's side knows: its keys and the ids they were answered with."""

    payments: dict[str, str] = field(default_factory=dict)  # Idempotency-Key → payment id
    orders: dict[str, str] = field(default_factory=dict)  # Idempotency-Key → order id
    order_of: dict[str, str] = field(default_factory=dict)  # payment id → order id
    failed_requests: int = 0  # answered 5xx or cut off: retried with the same key
    retried_creates: int = 0  # creates that needed more than one request
    restarted: bool = False
    created_after_restart: int = 0
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))


async def create(
    client: httpx.AsyncClient, ledger: Ledger, path: str, body: dict[str, Any], key: str
) -> dict[str, Any]:
    """POST until answered 201, the same body and Idempotency-Key every time."""
    deadline = time.monotonic() + REQUEST_DEADLINE
    pause = 0.05
    tries = 0
    while True:
        tries += 1
        try:
            response = await client.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError:
            status = None
        else:
            if response.status_code == 201:
                ledger.retried_creates += tries > 1
                answer: dict[str, Any] = response.json()
                return answer
            if response.status_code < 500:
                raise AssertionError(f"{path} {key}: {response.status_code} {response.text}")
            status = response.status_code
        ledger.failed_requests += 1
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} {key}: still failing ({status}) after {tries} tries")
        await asyncio.sleep(pause)  # a merchant's retry pause, not a wait for an outcome
        pause = min(pause * 2, 0.5)


async def merchant(client: httpx.AsyncClient, ledger: Ledger, stop: asyncio.Event) -> None:
    """Order, then pay it by UPI, again and again until told to stop."""
    while not stop.is_set():
        n = next(ledger.numbers)
        order_key, payment_key = f"restart-order-{n:05d}", f"restart-payment-{n:05d}"
        order = await create(client, ledger, "/api/v1/orders", {"amount": 50000 + n}, order_key)
        ledger.orders[order_key] = order["id"]
        body = {"order_id": order["id"], "method": "upi", "vpa": "user@paytm"}
        payment = await create(client, ledger, "/api/v1/payments", body, payment_key)
        assert payment["status"] == "pending", payment
        ledger.payments[payment_key] = payment["id"]
        ledger.order_of[payment["id"]] = order["id"]
        if ledger.restarted:
            ledger.created_after_restart += 1


@pytest.fixture
async def postgres(tmp_path: Path) -> AsyncIterator[PrivatePostgres]:
    async with private_postgres(tmp_path / "postgres") as server:
        yield server


async def test_postgres_restart_under_load_loses_and_doubles_nothing(
    postgres: PrivatePostgres, tmp_path: Path
) -> None:
    hub = Hub(tmp_path, postgres.url)
    async with WebhookSink() as sink:
        try:
            await run_restart(hub, postgres, sink)
        except AssertionError as failure:
            raise AssertionError(f"{failure}\n{postgres.report()}") from failure
        finally:
            hub.kill_all()


async def run_restart(hub: Hub, postgres: PrivatePostgres, sink: WebhookSink) -> None:
    await hub.migrate()
    server = await hub.serve()  # it only enqueues: the worker's settings are what matter
    worker = hub.worker("worker", 8, **ENV)
    pids = (server.pid, worker.pid)
    assert server.url is not None
    ledger = Ledger()
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=server.url, headers=AUTH, timeout=30) as client:
        configured = await client.put(
            "/api/v1/webhooks/config", json={"webhook_url": sink.on(SINK_PATH, always(200))}
        )
        assert configured.status_code == 200, configured.text
        await wait_worker_running(hub, client)

        merchants = [asyncio.create_task(merchant(client, ledger, stop)) for _ in range(CLIENTS)]
        try:

            async def flowing() -> bool:
                check_merchants(merchants)
                return len(ledger.payments) >= BEFORE and len(sink.at(SINK_PATH)) >= 2 * BEFORE

            await hub.eventually(flowing, within=60, what="payments and deliveries flowing")
            payments_before = len(ledger.payments)
            deliveries_before = len(sink.at(SINK_PATH))

            down_at = time.monotonic()
            await postgres.stop()
            failures_at_stop = ledger.failed_requests

            async def outage_felt() -> bool:
                check_merchants(merchants)
                return ledger.failed_requests >= failures_at_stop + OUTAGE_FAILURES

            await hub.eventually(outage_felt, within=30, what="the clients meet the outage")
            await postgres.start()
            downtime = time.monotonic() - down_at
            ledger.restarted = True

            async def recovered() -> bool:
                check_merchants(merchants)
                return ledger.created_after_restart >= AFTER

            await hub.eventually(recovered, within=60, what="creates succeed after the restart")
        finally:
            stop.set()
            done = await asyncio.gather(*merchants, return_exceptions=True)
        for outcome in done:
            if isinstance(outcome, BaseException):
                raise outcome

        async with hub.database() as db:

            async def settled() -> bool:
                async with db.read() as session:
                    pending_payments = await session.scalar(
                        select(func.count()).where(Payment.status == "pending")
                    )
                    undelivered = await session.scalar(
                        select(func.count()).where(WebhookLog.status != "success")
                    )
                    unfinished_jobs = await session.scalar(
                        select(func.count()).where(Job.kind != "janitor", Job.status != "completed")
                    )
                return pending_payments == undelivered == unfinished_jobs == 0

            try:
                await hub.eventually(
                    settled, within=60, interval=0.2, what="every payment settled and delivered"
                )
            except AssertionError as failure:
                raise AssertionError(f"{await unfinished(db)}\n{failure}") from failure
            rerun = await check_database(db, ledger, sink)

            # The same two processes served throughout: none exited, none was started anew, and
            # the one worker that beats is the one started before the restart.
            hub.check_alive(server, worker)
            assert [p.pid for p in hub.processes if not p.stopping] == list(pids)
            await wait_worker_running(hub, client)
            async with db.read() as session:
                beating = (await session.scalars(select(WorkerHeartbeat.pid))).all()
            assert list(beating) == [worker.pid]
        assert ledger.failed_requests > failures_at_stop  # the clients felt the outage
    assert "LISTEN hazina_jobs reopened" in worker.output(100_000), worker.output()

    print(  # the figures, for `pytest -s`
        f"\ndatabase restart: {len(ledger.payments)} payments ({payments_before} before the stop,"
        f" {ledger.created_after_restart} after the restart), {len(sink.at(SINK_PATH))} requests"
        f" at the sink ({deliveries_before} before the stop) for {3 * len(ledger.payments)}"
        f" deliveries, {ledger.failed_requests} failed requests retried"
        f" ({ledger.retried_creates} creates needed a retry), {rerun} jobs needed more than"
        f" one attempt, database down {downtime:.2f}s"
    )


def check_merchants(tasks: list["asyncio.Task[None]"]) -> None:
    """A client that gave up (a 4xx, or a create that never succeeded) fails the test now."""
    for task in tasks:
        if task.done() and task.exception() is not None:
            raise AssertionError("a merchant client failed") from task.exception()


async def wait_worker_running(hub: Hub, client: httpx.AsyncClient) -> None:
    async def running() -> bool:
        try:
            response = await client.get("/health")
        except httpx.TransportError:
            return False
        return bool(response.status_code == 200 and response.json().get("worker") == "running")

    await hub.eventually(running, within=30, what="the worker's heartbeat on /health")


async def unfinished(db: Database) -> str:
    """The jobs left unfinished, with who holds them: what a failed wait is about."""
    async with db.read() as session:
        jobs = (
            await session.execute(
                select(
                    Job.id, Job.kind, Job.status, Job.attempts, Job.locked_by, Job.locked_until
                ).where(Job.kind != "janitor", Job.status != "completed")
            )
        ).all()
    return "unfinished jobs:\n" + "\n".join(str(tuple(job)) for job in jobs)


async def check_database(db: Database, ledger: Ledger, sink: WebhookSink) -> int:
    """Count everything; returns how many jobs needed more than one attempt."""
    async with db.read() as session:
        keys = dict(
            (await session.execute(select(IdempotencyKey.key, IdempotencyKey.response_body))).all()
        )
        payments = (
            await session.execute(select(Payment.id, Payment.order_id, Payment.status))
        ).all()
        orders = dict((await session.execute(select(Order.id, Order.status))).all())
        events = (await session.execute(select(Event.id, Event.resource_id, Event.type))).all()
        deliveries = (
            await session.execute(
                select(
                    WebhookLog.id,
                    WebhookLog.event_id,
                    WebhookLog.endpoint_id,
                    WebhookLog.status,
                    WebhookLog.response_code,
                )
            )
        ).all()
        answered = Counter(
            (
                await session.scalars(
                    select(WebhookAttempt.delivery_id).where(WebhookAttempt.status_code == 200)
                )
            ).all()
        )
        jobs = (
            await session.execute(
                select(
                    Job.kind, Job.payload, Job.status, Job.attempts, Job.locked_by, Job.locked_until
                )
            )
        ).all()

    # Every key the clients used maps to exactly one resource, and nothing else was created.
    for key, payment_id in ledger.payments.items():
        assert json.loads(keys[key])["id"] == payment_id, key
    for key, order_id in ledger.orders.items():
        assert json.loads(keys[key])["id"] == order_id, key
    assert len(keys) == len(ledger.payments) + len(ledger.orders)
    assert len(ledger.orders) == len(ledger.payments)
    assert sorted(p.id for p in payments) == sorted(ledger.payments.values())
    assert {p.id: p.order_id for p in payments} == ledger.order_of
    assert {p.status for p in payments} == {"success"}
    assert sorted(orders) == sorted(ledger.orders.values())
    assert set(orders.values()) == {"paid"}

    # Each payment has exactly its three events, and its money was released once in the ledger
    # (balance.available); there are no others.
    kinds = Counter((resource, kind) for _, resource, kind in events if kind.startswith("payment."))
    expected = Counter(
        (payment_id, kind) for payment_id in ledger.payments.values() for kind in EVENTS_PER_PAYMENT
    )
    assert kinds == expected, kinds - expected or expected - kinds
    released = [kind for _, _, kind in events if not kind.startswith("payment.")]
    assert released == ["balance.available"] * len(ledger.payments)

    # One delivery per event to the one endpoint, delivered, seen by the sink, recorded by Hazina.
    assert len({d.endpoint_id for d in deliveries}) == 1
    per_event = Counter(d.event_id for d in deliveries)
    assert per_event == Counter(event_id for event_id, _, _ in events)
    assert {(d.status, d.response_code) for d in deliveries} == {("success", 200)}
    assert all(answered[d.id] == 1 for d in deliveries), answered  # one recorded success each
    received: dict[str, set[bytes]] = defaultdict(set)
    for request in sink.at(SINK_PATH):
        received[request.headers["webhook-id"]].add(request.body)
    assert set(received) == {str(d.id) for d in deliveries}  # none missing, none unknown
    assert all(len(bodies) == 1 for bodies in received.values())  # a resend is the same bytes

    # The queue: one settlement per payment, a finished job behind every delivery, none held.
    work = [job for job in jobs if job.kind != "janitor"]
    assert {job.status for job in work} == {"completed"}
    assert all(job.locked_by is None and job.locked_until is None for job in work)
    settled = Counter(job.payload["payment_id"] for job in work if job.kind == "process_payment")
    assert settled == Counter(ledger.payments.values())
    delivered = {job.payload["delivery_id"] for job in work if job.kind == "deliver_webhook"}
    assert delivered == {str(d.id) for d in deliveries}
    return sum(job.attempts > 1 for job in work)
