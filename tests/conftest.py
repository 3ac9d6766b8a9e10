"""Fixtures shared by every test directory.

`database_url` is parametrised over SQLite and PostgreSQL: a test that uses it (or anything built
on it: `db`, `container`, `client`) runs once on each.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from hazina.api.app import create_app
from hazina.bootstrap import Container, start
from hazina.config import Settings
from hazina.db.database import Database
from hazina.services.ports import SecretBox
from hazina.testing.sink import WebhookSink
from hazina.worker import Worker
from tests.databases import (
    migrated,
    postgres_database,
    postgres_reachable,
    require_postgres,
    sqlite_url,
    truncate_all,
)

TEST_KEY = "key_test_abc123"
TEST_SECRET = "secret_test_xyz789"
AUTH = {"X-Api-Key": TEST_KEY, "X-Api-Secret": TEST_SECRET}
# A fixed key ring, so tests never write a development key file into the working directory.
TEST_MASTER_KEYS = "test1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """One migrated database per backend per session; tests share it and empty it afterwards."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("sqlite"))
        db = await migrated(url)
        await db.dispose()
        yield url
        return
    require_postgres(await postgres_reachable())
    async with postgres_database() as url:
        db = await migrated(url)
        await db.dispose()
        yield url


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for tests: test mode with a short simulated delay, fast worker timings."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "test_mode": True,
        "test_processing_delay_ms": 10,
        "test_payment_success": True,
        "worker_poll_seconds": 0.05,
        "job_lease_seconds": 5,
        "job_retry_base_seconds": 0.05,
        "job_retry_cap_seconds": 0.2,
        # Tests change merchants behind the API's back; the cache has tests of its own.
        "auth_cache_seconds": 0,
        "master_keys": TEST_MASTER_KEYS,
        # Tests deliver to a sink on 127.0.0.1 and a random port: allowed explicitly, so a test
        # of production settings reaches it too; the guard's refusals have tests of their own.
        "webhook_allow_private": True,
        "webhook_ports": "1-65535",
        # Provider money becomes available at once: a release job waiting two days for Stripe
        # would never finish under tests.jobs.run_jobs_to_exhaustion. The delays have tests of
        # their own (tests/providers/stripe_provider/test_ledger_marketplace.py).
        "settlement_delay_stripe": 0,
        "settlement_delay_clickpesa": 0,
        "settlement_delay_default": 0,
    }
    values.update(overrides)
    if values.get("env") == "production":
        # Production refuses to start without one.
        values.setdefault("public_url", "https://hazina.example")
    return Settings.model_validate(values)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def container(settings: Settings) -> AsyncIterator[Container]:
    container = await start(settings)
    yield container
    await truncate_all(container.db)
    await container.close()


@pytest.fixture
def db(container: Container) -> Database:
    return container.db


@pytest.fixture
def vault(container: Container) -> SecretBox:
    """The container's key ring, which seals provider credentials and webhook secrets."""
    return container.providers.vault


@asynccontextmanager
async def http_client(
    container: Container, headers: dict[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP through the ASGI app of `container`."""
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://hazina.test", headers=headers
    ) as client:
        yield client


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP with the seeded test merchant's credentials."""
    async with http_client(container, AUTH) as authenticated:
        yield authenticated


@pytest.fixture
async def anonymous(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP without credentials, as the checkout page and the public endpoints see it."""
    async with http_client(container) as unauthenticated:
        yield unauthenticated


@pytest.fixture
async def sink() -> AsyncIterator[WebhookSink]:
    """A real HTTP receiver on a free local port, recording every webhook it is sent."""
    async with WebhookSink() as running:
        yield running


@pytest.fixture
def worker(container: Container) -> Worker:
    """A worker for the test to run (`await drain(worker)`); not started on its own."""
    return Worker.from_container(container)
