"""The Paynow fake in-process (httpx.ASGITransport); status updates it sends are recorded."""

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from hazina.domain.providers import ProviderAccess
from hazina.providers.paynow import PaynowProvider
from hazina.testing.paynow_fake import FakeIntegration, FakePaynow, create_paynow_fake

BASE = "http://paynow.test"
INTEGRATION_ID = "1201"
INTEGRATION_KEY = "3e9fed89-60e1-4ce5-ab6e-6b1eb2d4f977"
AUTH_EMAIL = "merchant@example.co.zw"


class Recorder:
    """Stands in for Hazina's /hooks/paynow: keeps every status update's bytes, answers 200."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.content)
        return httpx.Response(200)


@pytest.fixture
def ipns() -> Recorder:
    return Recorder()


@pytest.fixture
def fake_app(ipns: Recorder) -> Starlette:
    return create_paynow_fake(
        time_scale=0.0,
        ipn_transport=httpx.MockTransport(ipns),
        integrations=(FakeIntegration(INTEGRATION_ID, INTEGRATION_KEY, AUTH_EMAIL),),
    )


@pytest.fixture
def fake(fake_app: Starlette) -> FakePaynow:
    state: FakePaynow = fake_app.state.paynow
    return state


@pytest.fixture
async def control(fake_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


@pytest.fixture
async def provider(fake_app: Starlette) -> AsyncIterator[PaynowProvider]:
    adapter = PaynowProvider(BASE, 5.0, transport=httpx.ASGITransport(app=fake_app))
    yield adapter
    await adapter.aclose()


@pytest.fixture
def access() -> ProviderAccess:
    secrets = {
        "integration_id": INTEGRATION_ID,
        "integration_key": INTEGRATION_KEY,
        "auth_email": AUTH_EMAIL,
    }
    return ProviderAccess("paynow", "pa_test", "test", secrets)
