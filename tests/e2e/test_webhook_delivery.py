"""Deliveries to a real local HTTP receiver with the worker running, on both databases.

The retry schedule is shrunk to tenths of a second (it is data in Settings), so the attempt gaps
are real and measured at the receiver, and no test waits minutes.
"""

import asyncio
import hashlib
import hmac
import itertools
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import standardwebhooks
import svix.webhooks

from hazina.config import Settings
from hazina.testing.sink import Received, WebhookSink, always, fail_first, hang
from hazina.worker import Worker
from tests.conftest import make_settings
from tests.waiting import wait_until

SCHEDULE = [0.0, 0.2, 0.4, 0.6, 0.8]
TIMEOUT = 0.5


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        webhook_retry_schedule_override=SCHEDULE,
        webhook_timeout_seconds=TIMEOUT,
    )


@pytest.fixture
async def running_worker(worker: Worker) -> AsyncIterator[Worker]:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    yield worker
    stop.set()
    await task


def verify(request: Received, secret: str) -> None:
    """Every delivery verifies with both third-party libraries and the contract's rule."""
    headers = request.headers
    standardwebhooks.Webhook(secret).verify(request.body, headers)
    svix.webhooks.Webhook(secret).verify(request.body, headers)
    compact = json.dumps(json.loads(request.body), separators=(",", ":"), ensure_ascii=False)
    expected = hmac.new(secret.encode(), compact.encode(), hashlib.sha256).hexdigest()
    assert headers["x-webhook-signature"] == expected
    assert headers["content-type"] == "application/json"


async def configure(client: httpx.AsyncClient, url: str) -> str:
    response = await client.put("/api/v1/webhooks/config", json={"webhook_url": url})
    assert response.status_code == 200, response.text
    secret: str = response.json()["webhook_secret"]
    return secret


async def send_test(client: httpx.AsyncClient) -> dict[str, Any]:
    sent = (await client.post("/api/v1/webhooks/test")).json()
    items = (await client.get("/api/v1/webhooks", params={"event": "webhook.test"})).json()
    # The newest: the worker may have attempted it already (even failed it once), so it is
    # found by its age, not by its state.
    delivery: dict[str, Any] = items["data"][0]
    assert (await detail(client, delivery["id"]))["event_id"] == sent["event_id"]
    delivery["event_id"] = sent["event_id"]
    return delivery


async def detail(client: httpx.AsyncClient, delivery_id: str) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get(f"/api/v1/webhooks/{delivery_id}")).json()
    return body


async def settled(client: httpx.AsyncClient, delivery_id: str, status: str) -> dict[str, Any]:
    async def reached() -> bool:
        return bool((await detail(client, delivery_id))["status"] == status)

    await wait_until(reached, timeout=20)
    return await detail(client, delivery_id)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_flaky_receiver_gets_retries_on_schedule_then_success(
    client: httpx.AsyncClient, sink: WebhookSink, running_worker: Worker
) -> None:
    secret = await configure(client, sink.on("/flaky", fail_first(3)))
    delivery = await send_test(client)

    done = await settled(client, delivery["id"], "success")
    requests = sink.at("/flaky")
    assert len(requests) == 4
    assert done["attempts"] == 4
    assert done["response_code"] == 200
    assert [a["status_code"] for a in done["attempt_log"]] == [500, 500, 500, 200]
    assert all(a["duration_ms"] >= 0 for a in done["attempt_log"])
    assert done["attempt_log"][0]["response_body"] == "not yet"
    # The schedule's waits separate the attempts: never shorter (a loaded machine may make
    # them longer, so no upper bound).
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(requests)]
    for gap, wait in zip(gaps, SCHEDULE[1:4], strict=True):
        assert gap >= wait, (gaps, SCHEDULE)
    # One message id across every attempt, the same exact bytes, each one verifiable.
    assert {request.headers["webhook-id"] for request in requests} == {delivery["id"]}
    assert len({request.body for request in requests}) == 1
    for request in requests:
        verify(request, secret)
    payload = json.loads(requests[0].body)
    event = (await client.get(f"/api/v1/events/{delivery['event_id']}")).json()
    assert payload == event["payload"]


async def test_payment_events_reach_the_receiver_signed(
    client: httpx.AsyncClient, sink: WebhookSink, running_worker: Worker
) -> None:
    secret = await configure(client, sink.on("/ok", always(200)))
    order = (await client.post("/api/v1/orders", json={"amount": 50000})).json()
    payment = await client.post(
        "/api/v1/payments", json={"order_id": order["id"], "method": "upi", "vpa": "user@paytm"}
    )
    await sink.wait_for(3, "/ok")
    events = [json.loads(request.body)["event"] for request in sink.at("/ok")]
    assert sorted(events) == ["payment.created", "payment.pending", "payment.success"]
    for request in sink.at("/ok"):
        verify(request, secret)
        assert json.loads(request.body)["data"]["payment"]["id"] == payment.json()["id"]


async def test_down_receiver_fails_after_five_attempts_then_manual_retry_succeeds(
    client: httpx.AsyncClient, running_worker: Worker
) -> None:
    port = free_port()  # nothing listens there: every attempt is refused
    secret = await configure(client, f"http://127.0.0.1:{port}/hook")
    delivery = await send_test(client)

    failed = await settled(client, delivery["id"], "failed")
    assert failed["attempts"] == 5
    assert len(failed["attempt_log"]) == 5
    assert all(a["status_code"] is None and a["error"] for a in failed["attempt_log"])
    assert failed["response_code"] is None
    assert failed["next_retry_at"] is None

    async with WebhookSink(port=port) as revived:
        retried = await client.post(f"/api/v1/webhooks/{delivery['id']}/retry")
        assert retried.json()["status"] == "pending"
        done = await settled(client, delivery["id"], "success")
        assert done["attempts"] == 1
        assert len(revived.received) == 1
        verify(revived.received[0], secret)
        assert revived.received[0].headers["webhook-id"] == delivery["id"]


async def test_hanging_receiver_times_out_and_the_timeout_is_recorded(
    client: httpx.AsyncClient, sink: WebhookSink, running_worker: Worker
) -> None:
    await configure(client, sink.on("/hang", hang()))
    delivery = await send_test(client)

    async def attempted() -> bool:
        return bool((await detail(client, delivery["id"]))["attempt_log"])

    await wait_until(attempted, timeout=10)
    first = (await detail(client, delivery["id"]))["attempt_log"][0]
    assert first["error"] == f"timeout after {TIMEOUT:g} s"
    assert first["status_code"] is None
    assert first["duration_ms"] >= TIMEOUT * 1000 - 50


async def test_gone_receiver_disables_the_endpoint(
    client: httpx.AsyncClient, sink: WebhookSink, running_worker: Worker
) -> None:
    await configure(client, sink.on("/gone", always(410)))
    delivery = await send_test(client)

    failed = await settled(client, delivery["id"], "failed")
    assert failed["attempts"] == 1
    assert failed["response_code"] == 410
    endpoint = (await client.get(f"/api/v1/webhook-endpoints/{failed['endpoint_id']}")).json()
    assert endpoint["enabled"] is False
    assert endpoint["disabled_reason"] == "410 Gone from the endpoint"
    # A disabled endpoint is subscribed to nothing.
    after = (await client.post("/api/v1/webhooks/test")).json()
    assert after["deliveries"] == 0


async def test_retry_after_on_503_lengthens_the_wait(
    client: httpx.AsyncClient, sink: WebhookSink, running_worker: Worker
) -> None:
    throttled = always(503, headers={"Retry-After": "1"})

    def once_throttled(request: Received, count: int) -> Any:
        return throttled(request, count) if count == 0 else always(200)(request, count)

    await configure(client, sink.on("/busy", once_throttled))
    delivery = await send_test(client)
    await settled(client, delivery["id"], "success")
    first, second = sink.at("/busy")
    assert second.at - first.at >= 1.0  # Retry-After (1 s) beat the schedule's 0.2 s


async def test_rotation_signs_with_both_secrets(
    client: httpx.AsyncClient, sink: WebhookSink, running_worker: Worker
) -> None:
    old = await configure(client, sink.on("/rotating", always(200)))
    new = (await client.post("/api/v1/webhooks/regenerate-secret")).json()["webhook_secret"]
    delivery = await send_test(client)
    await settled(client, delivery["id"], "success")
    (request,) = sink.at("/rotating")
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    standardwebhooks.Webhook(old).verify(request.body, request.headers)
    verify(request, new)
