"""The ClickPesa fake in-process (httpx.ASGITransport) with a clock the test moves."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from starlette.applications import Starlette

from hazina.domain.providers import ProviderAccess
from hazina.providers.clickpesa import ClickPesaProvider
from hazina.testing.clickpesa_fake import FakeClickPesa, create_clickpesa_fake

ROOT = "/third-parties"
BASE = "http://clickpesa.test" + ROOT
CLIENT_ID = "IDtestclient"
API_KEY = "SKtestapikey1234"
CHECKSUM_KEY = "CHKtestchecksumkey"


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake_app(clock: Clock) -> Starlette:
    return create_clickpesa_fake(clock=clock)


@pytest.fixture
def fake(fake_app: Starlette) -> FakeClickPesa:
    state: FakeClickPesa = fake_app.state.clickpesa
    return state


@pytest.fixture
async def control(fake_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the fake, for its API and its /_control/ calls."""
    transport = httpx.ASGITransport(app=fake_app, root_path=ROOT)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


@pytest.fixture
async def provider(fake_app: Starlette, clock: Clock) -> AsyncIterator[ClickPesaProvider]:
    adapter = ClickPesaProvider(
        BASE, 5.0, clock, transport=httpx.ASGITransport(app=fake_app, root_path=ROOT)
    )
    yield adapter
    await adapter.aclose()


async def register(
    control: httpx.AsyncClient, *, checksum_key: str | None = None, webhook_url: str | None = None
) -> None:
    response = await control.post(
        "/_control/clients",
        json={
            "client_id": CLIENT_ID,
            "api_key": API_KEY,
            "checksum_key": checksum_key,
            "webhook_url": webhook_url,
        },
    )
    assert response.status_code == 201


def access(checksum_key: str | None = None, api_key: str = API_KEY) -> ProviderAccess:
    secrets = {"client_id": CLIENT_ID, "api_key": api_key}
    if checksum_key is not None:
        secrets["checksum_key"] = checksum_key
    return ProviderAccess("clickpesa", "pa_0123456789abcdef", "test", secrets)
