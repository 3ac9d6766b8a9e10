"""A standalone `hazina worker` killed with SIGKILL mid-batch loses no delivery.

The receiver answers slowly, so the killed worker has requests in flight whose outcome it never
recorded. A second worker takes the jobs over once their leases lapse and re-sends them under
the same `webhook-id` with the same bytes: every delivery ends `success` (at least once).
"""

import asyncio
import os
import signal
import sys
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from hazina.testing.sink import WebhookSink, slow
from tests.waiting import wait_until

DELIVERIES = 30
HAZINA = str(Path(sys.executable).with_name("hazina"))


async def start_worker(database_url: str, log: Path) -> asyncio.subprocess.Process:
    env = os.environ | {
        "HAZINA_DATABASE_URL": database_url,
        "HAZINA_ENV": "development",
        "HAZINA_WORKER_CONCURRENCY": "8",
        "HAZINA_JOB_LEASE_SECONDS": "2",
        "HAZINA_WORKER_POLL_SECONDS": "0.05",
        "HAZINA_WEBHOOK_RETRY_SCHEDULE": "[0, 0.2, 0.4, 0.6, 0.8]",
        "HAZINA_WEBHOOK_TIMEOUT_SECONDS": "2",
        "TEST_MODE": "true",
        "TEST_PROCESSING_DELAY": "10",
    }
    with log.open("ab") as output:
        return await asyncio.create_subprocess_exec(
            HAZINA, "worker", env=env, stdout=output, stderr=output
        )


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

    log = tmp_path / "workers.log"
    first = await start_worker(database_url, log)
    try:
        await sink.wait_for(10, "/crash", within=30)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    arrived_before_kill = len(sink.at("/crash"))

    second = await start_worker(database_url, log)
    try:

        async def all_succeeded() -> bool:
            page = await client.get("/api/v1/webhooks", params={"status": "success", "limit": 1})
            return bool(page.json()["total"] == DELIVERIES)

        await wait_until(all_succeeded, timeout=60, interval=0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        await second.wait()

    assert first.returncode == -signal.SIGKILL
    assert arrived_before_kill < DELIVERIES  # the kill really came mid-batch
    by_id: dict[str, list[bytes]] = defaultdict(list)
    for request in sink.at("/crash"):
        by_id[request.headers["webhook-id"]].append(request.body)
    assert set(by_id) == delivery_ids  # none lost, nothing unknown
    # Requests in flight at the kill were sent again, under the same id with the same bytes.
    resent = {webhook_id for webhook_id, bodies in by_id.items() if len(bodies) > 1}
    assert resent, log.read_text()
    assert all(len(set(bodies)) == 1 for bodies in by_id.values())
    for webhook_id in resent:
        detail = (await client.get(f"/api/v1/webhooks/{webhook_id}")).json()
        assert detail["status"] == "success"
        # The killed attempt was never recorded: the log shows only the completed one.
        assert detail["attempts"] == 1
