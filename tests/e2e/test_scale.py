"""The multi-process deployment under load, on PostgreSQL, with real processes: two `hazina serve
--no-worker` (each on its own port, so both provably take traffic) and two `hazina worker`,
beside `hazina fake stripe`, and a merchant receiver that is slow on a deterministic 10 % of
deliveries (half of those answer 503 first, half take a second).

At once, alternating between the two API processes: 2,000 sandbox payments (test mode,
deterministic success, 20 ms processing) and 2,000 signed Stripe `checkout.session.completed`
notifications for Stripe payments started against the fake. Afterwards every payment is settled
exactly once, every event has exactly one delivery per subscribed endpoint and each was delivered,
every notification was processed once, and no job is left leased or failed.

It is a correctness test, not a benchmark: the client's concurrency is bounded, nothing asserts a
speed; the throughput seen is printed (one JSON line) for the record.
"""

import asyncio
import json
import os
import time
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe as stripe_sdk
from sqlalchemy import bindparam, text

from hazina.testing.sink import Received, Reply, WebhookSink
from tests.e2e.servers import AUTH, Hub, free_port, open_hub

pytestmark = [pytest.mark.slow, pytest.mark.scale, pytest.mark.postgres]

# 2,000 each in CI; HAZINA_SCALE_SIZE=200 for a quicker look on a busy machine.
SIZE = int(os.environ.get("HAZINA_SCALE_SIZE", "2000"))
PAYMENTS = SIZE  # sandbox payments
NOTIFICATIONS = SIZE  # Stripe payments, each completed by one signed notification
CONCURRENCY = 16  # requests in flight from the test, over both API processes
WORKER_CONCURRENCY = 16
STRIPE_KEY = "sk_test_hazinascale"
STRIPE_WEBHOOK_SECRET = "whsec_hazinascale"
SETTLEMENTS = ("payment.success", "payment.failed")
# Two merchant endpoints: one for both outcomes, one for successes only.
ENDPOINTS = {"/a": list(SETTLEMENTS), "/b": ["payment.success"]}
# Generous: the machine is shared; every wait ends as soon as its outcome is reached.
DEADLINE = 900.0

ENV = {
    "TEST_PROCESSING_DELAY": "20",
    "HAZINA_DB_POOL_SIZE": "10",
    "HAZINA_STRIPE_API_BASE": "",  # set to the fake's URL
    "STRIPE_SECRET_KEY": STRIPE_KEY,
    "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
    # Stripe payments are asked about an hour later if still pending: never during the test.
    "HAZINA_RECONCILE_SCHEDULE": "[3600]",
    "HAZINA_WEBHOOK_RETRY_SCHEDULE": "[0.5, 1, 2, 4, 8, 16]",
}


def receiver(seen: set[str]) -> Callable[[Received, int], Reply | None]:
    """10 % of deliveries, chosen by their webhook-id: half answer 503 to the first attempt
    (the retry succeeds), half answer only after a second."""

    def behaviour(request: Received, _count: int) -> Reply:
        delivery = request.headers.get("webhook-id", "")
        first = delivery not in seen
        seen.add(delivery)
        bucket = zlib.crc32(delivery.encode()) % 20
        if bucket == 0 and first:
            return Reply(503, b"busy")
        if bucket == 1:
            return Reply(delay=1.0)
        return Reply()

    return behaviour


async def start_fake_stripe(hub: Hub) -> str:
    port = free_port()
    hub.start("fake-stripe", "fake", "stripe", "--port", str(port))
    url = f"http://127.0.0.1:{port}"

    async def up() -> bool:
        try:
            async with httpx.AsyncClient(timeout=1) as client:
                await client.get(url)
        except httpx.TransportError:
            return False
        return True

    await hub.eventually(up, within=60, what="fake Stripe listening")
    return url


class Load:
    """Bounded-concurrency requests, alternating between the API processes."""

    def __init__(self, clients: list[httpx.AsyncClient]) -> None:
        self.clients = clients
        self.limit = asyncio.Semaphore(CONCURRENCY)
        self.served = Counter[int]()

    async def call(self, index: int, request: Callable[[httpx.AsyncClient], Awaitable[Any]]) -> Any:
        which = index % len(self.clients)
        async with self.limit:
            result = await request(self.clients[which])
        self.served[which] += 1
        return result


async def order(client: httpx.AsyncClient, currency: str) -> str:
    response = await client.post("/api/v1/orders", json={"amount": 2500, "currency": currency})
    assert response.status_code == 201, response.text
    order_id: str = response.json()["id"]
    return order_id


async def sandbox_payment(load: Load, index: int) -> str:
    async def run(client: httpx.AsyncClient) -> str:
        body: dict[str, Any] = {"order_id": await order(client, "INR")}
        if index % 2:
            body |= {"method": "upi", "vpa": f"scale{index}@paytm"}
        else:
            card = {"number": "4111111111111111", "expiry_month": "12", "expiry_year": "2030"}
            body |= {"method": "card", "card": card | {"cvv": "123", "holder_name": "Scale"}}
        headers = {"Idempotency-Key": f"scale-{index}"}
        response = await client.post("/api/v1/payments", json=body, headers=headers)
        assert response.status_code == 201, response.text
        payment_id: str = response.json()["id"]
        return payment_id

    result: str = await load.call(index, run)
    return result


async def stripe_payment(load: Load, fake: httpx.AsyncClient, index: int) -> tuple[str, str]:
    """A Stripe payment, its session completed at the fake without delivery: its payment id and
    the `checkout.session.completed` body the fake would have sent."""

    async def run(client: httpx.AsyncClient) -> tuple[str, str]:
        body = {"order_id": await order(client, "USD"), "method": "stripe", "email": "b@x.io"}
        response = await client.post("/api/v1/payments", json=body)
        assert response.status_code == 201, response.text
        payment = response.json()
        session = payment["provider_reference"]
        completed = await fake.post(
            f"/_control/checkout/sessions/{session}/complete",
            json={"payment_status": "paid", "deliver": False},
        )
        assert completed.status_code == 200, completed.text
        event = next(
            e for e in completed.json()["events"] if e["type"] == "checkout.session.completed"
        )
        return payment["id"], event["body"]

    result: tuple[str, str] = await load.call(index, run)
    return result


async def notify(load: Load, index: int, body: str) -> None:
    """Post one notification, signed by Stripe's scheme just before it is sent."""

    async def run(client: httpx.AsyncClient) -> None:
        header = stripe_sdk.WebhookSignature.generate_signature_header(body, STRIPE_WEBHOOK_SECRET)
        response = await client.post(
            "/hooks/stripe",
            content=body.encode(),
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "processed", response.text

    await load.call(index, run)


async def rows(hub: Hub, sql: str, ids: list[str] | None = None) -> list[Any]:
    """`sql`'s rows; `:ids` in it stands for the list `ids`."""
    statement = text(sql)
    if ids is not None:
        statement = statement.bindparams(bindparam("ids", expanding=True))
    async with hub.database() as db, db.read() as session:
        return list((await session.execute(statement, {"ids": ids} if ids else {})).all())


async def scalar(hub: Hub, sql: str, ids: list[str] | None = None) -> int:
    return int((await rows(hub, sql, ids))[0][0])


def _decoded(value: Any) -> Any:
    """A JSON column as the driver returns it to a text query: a string, or decoded already."""
    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    async with open_hub("postgres", tmp_path) as opened:
        await opened.prepare()
        yield opened


async def test_two_api_processes_and_two_workers_under_load(
    hub: Hub, sink: WebhookSink, capsys: pytest.CaptureFixture[str]
) -> None:
    env = ENV | {"HAZINA_STRIPE_API_BASE": await start_fake_stripe(hub)}
    servers = [await hub.serve_with(["--no-worker"], env) for _ in range(2)]
    for number in (1, 2):
        hub.worker(f"worker-{number}", WORKER_CONCURRENCY, **env)
    seen: set[str] = set()
    # Idle connections are dropped well before uvicorn closes them (its keep-alive is 5 s, as is
    # httpx's default expiry): reusing one just as the server closes it is a ReadError, not Hazina.
    limits = httpx.Limits(
        max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY, keepalive_expiry=1
    )
    async with (
        httpx.AsyncClient(
            base_url=servers[0].url or "", headers=AUTH, timeout=60, limits=limits
        ) as first,
        httpx.AsyncClient(
            base_url=servers[1].url or "", headers=AUTH, timeout=60, limits=limits
        ) as second,
        httpx.AsyncClient(
            base_url=env["HAZINA_STRIPE_API_BASE"], timeout=60, limits=limits
        ) as fake,
    ):
        for path, types in ENDPOINTS.items():
            url = sink.on(path, receiver(seen))
            created = await first.post(
                "/api/v1/webhook-endpoints", json={"url": url, "event_types": types}
            )
            assert created.status_code == 201, created.text

        # Stripe payments started beforehand: only their notifications are part of the load.
        load = Load([first, second])
        started = await asyncio.gather(
            *(stripe_payment(load, fake, i) for i in range(NOTIFICATIONS))
        )
        stripe_ids = [payment_id for payment_id, _ in started]

        began = time.monotonic()
        load = Load([first, second])
        notified_at = 0.0

        async def notifications() -> None:
            nonlocal notified_at
            # Sent through the other process than the one the payment was started on.
            await asyncio.gather(
                *(notify(load, i + 1, body) for i, (_, body) in enumerate(started))
            )
            notified_at = time.monotonic()

        sending = asyncio.create_task(notifications())
        sandbox_ids = await asyncio.gather(*(sandbox_payment(load, i) for i in range(PAYMENTS)))
        await sending
        assert load.served[0] >= (PAYMENTS + NOTIFICATIONS) // 2 - 1, load.served
        assert load.served[1] >= (PAYMENTS + NOTIFICATIONS) // 2 - 1, load.served

    ids = [*sandbox_ids, *stripe_ids]
    assert len(set(sandbox_ids) | set(stripe_ids)) == PAYMENTS + NOTIFICATIONS
    settled_at = 0.0

    async def all_settled() -> bool:
        nonlocal settled_at
        count = await scalar(
            hub, "SELECT count(*) FROM payments WHERE id IN :ids AND status = 'success'", ids
        )
        settled_at = time.monotonic()
        return count == PAYMENTS + NOTIFICATIONS

    await hub.eventually(all_settled, within=DEADLINE, what="every payment settled", interval=0.5)

    async def all_delivered() -> bool:
        return (
            await scalar(hub, "SELECT count(*) FROM webhook_logs WHERE status <> 'success'") == 0
            and await scalar(hub, "SELECT count(*) FROM jobs WHERE status = 'processing'") == 0
        )

    await hub.eventually(all_delivered, within=DEADLINE, what="every delivery made", interval=0.5)
    delivered_at = time.monotonic()

    # Settled exactly once: one settlement event per payment, and it is a success.
    settlements = await rows(
        hub,
        "SELECT resource_id, type, count(*) FROM events WHERE resource_id IN :ids"
        " AND type IN ('payment.success', 'payment.failed') GROUP BY resource_id, type",
        ids,
    )
    assert len(settlements) == PAYMENTS + NOTIFICATIONS
    assert {(kind, count) for _, kind, count in settlements} == {("payment.success", 1)}

    # Every event has exactly its deliveries: one per endpoint subscribed to its type.
    endpoints = {
        url.rsplit("/", 1)[-1]: (endpoint_id, _decoded(types))
        for endpoint_id, url, types in await rows(
            hub, "SELECT id, url, event_types FROM webhook_endpoints WHERE url IS NOT NULL"
        )
    }
    assert set(endpoints) == {path.strip("/") for path in ENDPOINTS}
    expected: Counter[tuple[str, str]] = Counter()
    for event_id, kind in await rows(hub, "SELECT id, type FROM events"):
        for endpoint_id, types in endpoints.values():
            if types is None or kind in types:
                expected[(event_id, endpoint_id)] += 1
    made = Counter[tuple[str, str]](
        (event_id, endpoint_id)
        for event_id, endpoint_id in await rows(
            hub, "SELECT event_id, endpoint_id FROM webhook_logs"
        )
    )
    assert made == expected
    deliveries = sum(made.values())
    assert deliveries == 2 * (PAYMENTS + NOTIFICATIONS)
    # …each of them received by the merchant (the webhook-id is the delivery's).
    assert len(seen) == deliveries
    retried = await scalar(hub, "SELECT count(*) FROM webhook_logs WHERE attempts > 1")
    assert retried > 0  # the receiver's 503s were retried

    # Every notification processed once; no job leased, failed or due.
    inbound = await rows(hub, "SELECT status, count(*) FROM inbound_events GROUP BY status")
    assert dict(inbound) == {"processed": NOTIFICATIONS}
    jobs = await rows(
        hub,
        "SELECT kind, status, count(*) FROM jobs WHERE status <> 'completed'"
        " AND NOT (status = 'pending' AND run_at > now() + interval '10 minutes')"
        " GROUP BY kind, status",
    )
    assert [(kind, status) for kind, status, _ in jobs] in ([], [("janitor", "pending")]), jobs
    assert await scalar(hub, "SELECT count(*) FROM jobs WHERE locked_by IS NOT NULL") == 0

    figures = {
        "test": "scale",
        "api_processes": 2,
        "workers": 2,
        "payments": PAYMENTS,
        "notifications": NOTIFICATIONS,
        "deliveries": deliveries,
        "retried_deliveries": retried,
        "payments_per_s": round(PAYMENTS / (settled_at - began), 1),
        "notifications_per_s": round(NOTIFICATIONS / (notified_at - began), 1),
        "deliveries_per_s": round(deliveries / (delivered_at - began), 1),
        "seconds": round(delivered_at - began, 1),
    }
    with capsys.disabled():
        print(f"\n{json.dumps(figures)}")
