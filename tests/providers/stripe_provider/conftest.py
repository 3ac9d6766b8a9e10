"""A Stripe fake served over real HTTP: the adapter talks through the `stripe` package's own
httpx client, which cannot be handed an ASGI transport."""

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from hazina.domain.providers import PaymentStart, ProviderAccess
from hazina.providers.stripe import StripeProvider
from hazina.testing.stripe_fake import create_stripe_fake

SECRET_KEY = "sk_test_hazina4242"
WEBHOOK_SECRET = "whsec_test_secret"
ACCESS = ProviderAccess(
    "stripe",
    "pa_test0000000001",
    "test",
    {"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET},
)


@dataclass
class StripeServer:
    app: Starlette
    url: str
    http: httpx.AsyncClient  # to the fake; Stripe's calls need `auth()`

    async def control(self, path: str, **payload: Any) -> dict[str, Any]:
        response = await self.http.post(f"/_control/{path}", json=payload)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        params = {"type": event_type} if event_type else {}
        response = await self.http.get("/_control/events", params=params)
        data: list[dict[str, Any]] = response.json()["data"]
        return data


def auth(key: str = SECRET_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def payment_start(payment_id: str = "pay_abcdefgh12345678", amount: int = 2500) -> PaymentStart:
    return PaymentStart(
        payment_id=payment_id,
        order_id="order_abcdefgh12345678",
        amount=amount,
        currency="USD",
        description="Order order_abcdefgh12345678",
        success_url="http://hazina.test/checkout/success",
        cancel_url="http://hazina.test/checkout/cancel",
        customer_email="buyer@example.com",
    )


@pytest.fixture
async def stripe_server() -> AsyncIterator[StripeServer]:
    app = create_stripe_fake()
    # A socket already listening queues connections until uvicorn accepts them: no start-up wait.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
        fake = StripeServer(app, url, http)
        await fake.control("webhook_endpoints", api_key=SECRET_KEY, url=None, secret=WEBHOOK_SECRET)
        yield fake
    server.should_exit = True
    await task
    sock.close()


@pytest.fixture
async def provider(stripe_server: StripeServer) -> AsyncIterator[StripeProvider]:
    adapter = StripeProvider(stripe_server.url, timeout_seconds=5, max_network_retries=0)
    yield adapter
    await adapter.aclose()
