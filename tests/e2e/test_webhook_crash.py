"""A standalone `hazina worker` killed with SIGKILL mid-batch loses no delivery.

The receiver answers slowly, so the killed worker has requests in flight whose outcome it never
recorded. A second worker takes the jobs over once their leases lapse and re-sends them under
the same `webhook-id` with the same bytes: every delivery ends `success` (at least once).
"""

import signal
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from hazina.testing.sink import WebhookSink, slow
from tests.e2e.servers import Hub

DELIVERIES = 30
CONCURRENCY = 8
# On top of servers.DEFAULT_ENV, whose HAZINA_MASTER_KEYS is the ring the `client` fixture's
# container sealed the endpoint's secret with: the workers must open it to sign.
WORKER_ENV = {
    "HAZINA_JOB_LEASE_SECONDS": "2",
    "HAZINA_WORKER_POLL_SECONDS": "0.05",
    "HAZINA_WEBHOOK_RETRY_SCHEDULE": "[0, 0.2, 0.4, 0.6, 0.8]",
    "HAZINA_WEBHOOK_TIMEOUT_SECONDS": "2",
    "TEST_PROCESSING_DELAY": "10",
}


@pytest.mark.slow
async def test_sigkill_mid_batch_loses_nothing(
    client: httpx.AsyncClient, sink: WebhookSink, database_url: str, tmp_path: Path
) -> None:
    url = sink.on("/crash", slow(0.3))
    assert (await client.put("/api/v1/webhooks/config", json={"webhook_url": url})).is_success
    for _ in range(DELIVERIES):
        assert (await client.post("/api/v1/webhooks/test")).json()["deliveries"] == 1
    listed = await client.get("/api/v1/webhooks", params={"limit": 100})
    delivery_ids = {item["id"] for item in listed.json()["data"]}
    assert len(delivery_ids) == DELIVERIES

    hub = Hub(tmp_path, database_url)
    try:
        first = hub.worker("first-worker", CONCURRENCY, **WORKER_ENV)

        async def ten_arrived() -> bool:
            return len(sink.at("/crash")) >= 10

        await hub.eventually(ten_arrived, within=30, what="the first worker delivers")
        first.kill()  # SIGKILL: requests in flight, their outcome never recorded
        arrived_before_kill = len(sink.at("/crash"))

        second = hub.worker("second-worker", CONCURRENCY, **WORKER_ENV)

        async def all_succeeded() -> bool:
            page = await client.get("/api/v1/webhooks", params={"status": "success", "limit": 1})
            return bool(page.json()["total"] == DELIVERIES)

        await hub.eventually(all_succeeded, within=60, what="every delivery succeeds")
        second.signal(signal.SIGTERM)
        assert await second.exit_code(within=15) == 0, hub.report()
    finally:
        hub.kill_all()

    assert first.popen.returncode == -signal.SIGKILL
    assert arrived_before_kill < DELIVERIES  # the kill really came mid-batch
    by_id: dict[str, list[bytes]] = defaultdict(list)
    for request in sink.at("/crash"):
        by_id[request.headers["webhook-id"]].append(request.body)
    assert set(by_id) == delivery_ids  # none lost, nothing unknown
    # Requests in flight at the kill were sent again, under the same id with the same bytes.
    resent = {webhook_id for webhook_id, bodies in by_id.items() if len(bodies) > 1}
    assert resent, hub.report()
    assert all(len(set(bodies)) == 1 for bodies in by_id.values())
    for webhook_id in resent:
        detail = (await client.get(f"/api/v1/webhooks/{webhook_id}")).json()
        assert detail["status"] == "success"
        # The killed attempt was never recorded: the log shows only the completed one.
        assert detail["attempts"] == 1
