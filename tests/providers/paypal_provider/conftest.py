"""The PayPal fake in-process (httpx.ASGITransport), an adapter pointed at it, and a client."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from starlette.applications import Starlette

from hazina.domain.providers import ProviderAccess
from hazina.providers.paypal import PayPalProvider
from hazina.providers.paypal_signatures import CertificateStore
from hazina.testing.paypal_fake import create_paypal_fake
from hazina.testing.paypal_state import FakePayPal

# https, on a host the certificate store allows: the fake's cert URL is built from it.
BASE = "https://api-m.paypal.test"
CLIENT_ID = "AZtestclient"
CLIENT_SECRET = "EBtestsecret"
WEBHOOK_ID = "1JE4291016473214C"


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake_app() -> Starlette:
    return create_paypal_fake(token_lifetime_seconds=3600)


@pytest.fixture
def fake(fake_app: Starlette) -> FakePayPal:
    state: FakePayPal = fake_app.state.fake
    return state


@pytest.fixture
async def control(fake_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        registered = await client.post(
            "/_control/clients",
            json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "webhook_id": WEBHOOK_ID},
        )
        assert registered.status_code == 201
        yield client


@pytest.fixture
async def provider(
    fake_app: Starlette, clock: Clock, control: httpx.AsyncClient
) -> AsyncIterator[PayPalProvider]:
    transport = httpx.ASGITransport(app=fake_app)
    certificates = CertificateStore(["paypal.test"], 5.0, transport=transport)
    adapter = PayPalProvider(BASE, 5.0, certificates, clock, transport=transport)
    yield adapter
    await adapter.aclose()


@pytest.fixture
def access() -> ProviderAccess:
    secrets = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "webhook_id": WEBHOOK_ID}
    return ProviderAccess("paypal", "pa_test", "test", secrets)
