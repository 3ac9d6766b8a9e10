"""Fixtures of the integration tests: a database before any migration ran, and a hub whose
only provider is the tests' own (tests.acme), with an HTTP client on it."""

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from hazina.bootstrap import Container
from hazina.db.database import Database
from hazina.services.registry import ProviderRegistry
from tests.acme import DEFAULT_ACCESS, AcmeProvider
from tests.conftest import AUTH, http_client
from tests.databases import postgres_database, postgres_reachable, require_postgres, sqlite_url


@pytest.fixture(params=["sqlite", "postgres"])
async def fresh_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database, not yet migrated, of each kind."""
    if request.param == "sqlite":
        db = Database(sqlite_url(tmp_path))
        yield db
        await db.dispose()
        return
    require_postgres(await postgres_reachable())
    async with postgres_database() as url:
        db = Database(url)
        yield db
        await db.dispose()


@pytest.fixture
def acme() -> AcmeProvider:
    return AcmeProvider()


@pytest.fixture
def hub(container: Container, acme: AcmeProvider) -> Container:
    registry = ProviderRegistry(adapters={"acme": acme}, defaults={"acme": DEFAULT_ACCESS})
    providers = dataclasses.replace(container.providers, registry=registry)
    return dataclasses.replace(container, providers=providers)


@pytest.fixture
async def api(hub: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(hub, AUTH) as client:
        yield client
