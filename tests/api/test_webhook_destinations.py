"""The SSRF guard in a running deployment: a webhook to a receiver on this machine is delivered
only where private targets are allowed explicitly, and refused (sending nothing) where not."""

import httpx
import pytest

from hazina.config import Settings
from hazina.testing.sink import WebhookSink
from hazina.worker import Worker
from tests.conftest import make_settings
from tests.waiting import drain


async def send_test_event(client: httpx.AsyncClient, worker: Worker, url: str) -> dict[str, object]:
    """Point the primary endpoint at `url`, send a test event, deliver it: its one delivery."""
    configured = await client.put("/api/v1/webhooks/config", json={"webhook_url": url})
    assert configured.status_code == 200
    assert (await client.post("/api/v1/webhooks/test")).status_code == 200
    await drain(worker)
    [delivery] = (await client.get("/api/v1/webhooks")).json()["data"]
    detail: dict[str, object] = (await client.get(f"/api/v1/webhooks/{delivery['id']}")).json()
    return detail


class TestPrivateTargetsRefused:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        # Development, bound to loopback, with the explicit setting turned off; one attempt.
        return make_settings(
            database_url, webhook_allow_private=False, webhook_retry_schedule_override=[0]
        )

    async def test_a_loopback_receiver_gets_nothing(
        self, client: httpx.AsyncClient, worker: Worker, sink: WebhookSink
    ) -> None:
        delivery = await send_test_event(client, worker, sink.url("/hooks"))
        assert delivery["status"] == "failed"
        attempts = delivery["attempt_log"]
        assert isinstance(attempts, list)
        assert [(attempt["status_code"], attempt["error"]) for attempt in attempts] == [
            (None, "refused: 127.0.0.1 resolves to 127.0.0.1, which is not allowed")
        ]
        assert sink.received == []


class TestPrivateTargetsAllowed:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return make_settings(
            database_url, webhook_allow_private=True, webhook_retry_schedule_override=[0]
        )

    async def test_a_loopback_receiver_gets_the_event(
        self, client: httpx.AsyncClient, worker: Worker, sink: WebhookSink
    ) -> None:
        delivery = await send_test_event(client, worker, sink.url("/hooks"))
        assert delivery["status"] == "success"
        assert [request.path for request in sink.received] == ["/hooks"]
