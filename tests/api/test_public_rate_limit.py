"""The checkout's anonymous payment creation is rate-limited per order and per client address."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from hazina.api.app import create_app
from hazina.bootstrap import Container
from hazina.config import Settings
from hazina.db.database import Database
from hazina.db.models import Payment
from hazina.services.throttle import ThrottleStorageError, async_storage
from tests.conftest import AUTH, make_settings

PUBLIC = "/api/v1/payments/public"
CUSTOMER = "198.51.100.7"
NEIGHBOUR = "203.0.113.9"

Connect = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        public_payment_limit_per_order="2/minute",
        public_payment_limit_per_address="3/minute",
    )


@pytest.fixture
def connect(container: Container) -> Connect:
    """Anonymous HTTP clients of one app, each from the client address it is given."""
    app = create_app(container)

    @asynccontextmanager
    async def from_address(address: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(address, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://hazina.test") as c:
            yield c

    return from_address


async def new_order(client: httpx.AsyncClient) -> str:
    response = await client.post("/api/v1/orders", json={"amount": 50000, "currency": "INR"})
    assert response.status_code == 201, response.text
    order_id: str = response.json()["id"]
    return order_id


async def attempt(client: httpx.AsyncClient, order_id: str) -> httpx.Response:
    return await client.post(PUBLIC, json={"order_id": order_id, "method": "upi", "vpa": "a@b"})


async def payment_count(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Payment)) or 0)


def assert_limited(response: httpx.Response, what: str) -> None:
    assert response.status_code == 429, response.text
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= 60
    unit = "second" if wait == 1 else "seconds"
    description = f"Too many payment attempts {what}; try again in {wait} {unit}"
    assert response.json() == {"error": {"code": "RATE_LIMIT_ERROR", "description": description}}


async def test_attempts_beyond_the_order_limit_are_refused_and_write_nothing(
    client: httpx.AsyncClient, connect: Connect, db: Database
) -> None:
    order_id = await new_order(client)
    async with connect(CUSTOMER) as customer:
        first = await attempt(customer, order_id)
        assert first.status_code == 201, first.text
        assert (await attempt(customer, order_id)).status_code != 429
        written = await payment_count(db)
        assert_limited(await attempt(customer, order_id), "for this order")
        assert await payment_count(db) == written
        # Another order from the same address is unaffected (its third attempt: under 3/minute).
        assert (await attempt(customer, await new_order(client))).status_code == 201
    # The order's limit holds whatever address the attempt comes from.
    async with connect(NEIGHBOUR) as neighbour:
        assert_limited(await attempt(neighbour, order_id), "for this order")


async def test_attempts_beyond_the_address_limit_are_refused_across_orders(
    client: httpx.AsyncClient, connect: Connect, db: Database
) -> None:
    orders = [await new_order(client) for _ in range(4)]
    async with connect(CUSTOMER) as customer:
        for order_id in orders[:3]:
            assert (await attempt(customer, order_id)).status_code == 201
        written = await payment_count(db)
        assert_limited(await attempt(customer, orders[3]), "from this address")
        assert await payment_count(db) == written
    # Another address is unaffected, and the refused attempt used up nothing of the order's.
    async with connect(NEIGHBOUR) as neighbour:
        assert (await attempt(neighbour, orders[3])).status_code == 201
        assert (await attempt(neighbour, orders[3])).status_code != 429
        assert_limited(await attempt(neighbour, orders[3]), "for this order")


async def test_a_malformed_request_is_refused_before_it_counts(
    client: httpx.AsyncClient, connect: Connect
) -> None:
    order_id = await new_order(client)
    async with connect(CUSTOMER) as customer:
        for _ in range(5):
            malformed = await customer.post(PUBLIC, json={"order_id": order_id})
            assert malformed.status_code == 400
        assert (await attempt(customer, order_id)).status_code == 201


async def test_the_authenticated_route_is_not_limited(
    client: httpx.AsyncClient, connect: Connect
) -> None:
    order_id = await new_order(client)
    async with connect(CUSTOMER) as customer:
        for _ in range(2):
            assert (await attempt(customer, order_id)).status_code != 429
        assert_limited(await attempt(customer, order_id), "for this order")
        # The merchant's own call, from the same address, on the same order, as often as it likes.
        for _ in range(4):
            body = {"order_id": order_id, "method": "upi", "vpa": "a@b"}
            merchant = await customer.post("/api/v1/payments", json=body, headers=AUTH)
            assert merchant.status_code != 429, merchant.text


def test_defaults() -> None:
    settings = Settings.model_validate({})
    assert settings.public_payment_limit_per_order == "10/minute"
    assert settings.public_payment_limit_per_address == "30/minute"
    assert settings.rate_limit_storage == "memory://"


@pytest.mark.parametrize("limit", ["often", "0/minute", ""])
def test_a_malformed_limit_is_refused_at_start(limit: str) -> None:
    with pytest.raises(ValidationError, match=r"HAZINA_PUBLIC_PAYMENT_LIMIT_PER_ORDER|rate limit"):
        Settings.model_validate({"HAZINA_PUBLIC_PAYMENT_LIMIT_PER_ORDER": limit})


def test_an_unknown_storage_is_refused() -> None:
    with pytest.raises(ThrottleStorageError, match="HAZINA_RATE_LIMIT_STORAGE"):
        async_storage("carrier-pigeon://loft")
