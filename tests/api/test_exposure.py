"""What a deployment shows the world: the API's documentation and the contract's test-support
endpoint are there in development, gone in production, and each follows its explicit setting."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from hazina.bootstrap import start
from tests.conftest import http_client, make_settings
from tests.databases import truncate_all

DOCS = ("/docs", "/redoc", "/openapi.json")
JOB_STATUS = "/api/v1/test/jobs/status"
NOT_FOUND = {"error": {"code": "NOT_FOUND_ERROR", "description": "Not found"}}
PRODUCTION = {"env": "production", "session_secret": "p" * 32}


@asynccontextmanager
async def serving(database_url: str, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    container = await start(make_settings(database_url, **settings))
    try:
        async with http_client(container) as client:
            yield client
    finally:
        await truncate_all(container.db)
        await container.close()


async def statuses(client: httpx.AsyncClient, *paths: str) -> list[int]:
    return [(await client.get(path)).status_code for path in paths]


async def test_development_serves_the_docs_and_the_job_status(database_url: str) -> None:
    async with serving(database_url) as client:
        assert await statuses(client, *DOCS, JOB_STATUS) == [200, 200, 200, 200]
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "Hazina"


async def test_production_hides_them_in_the_error_envelope(database_url: str) -> None:
    async with serving(database_url, **PRODUCTION) as client:
        for path in (*DOCS, JOB_STATUS):
            response = await client.get(path)
            assert (path, response.status_code, response.json()) == (path, 404, NOT_FOUND)


async def test_production_serves_them_when_enabled(database_url: str) -> None:
    enabled = PRODUCTION | {"api_docs": True, "test_endpoints": True}
    async with serving(database_url, **enabled) as client:
        assert await statuses(client, *DOCS, JOB_STATUS) == [200, 200, 200, 200]


@pytest.mark.parametrize(
    ("setting", "hidden"), [("api_docs", DOCS), ("test_endpoints", (JOB_STATUS,))]
)
async def test_development_hides_each_when_disabled(
    database_url: str, setting: str, hidden: tuple[str, ...]
) -> None:
    async with serving(database_url, **{setting: False}) as client:
        assert await statuses(client, *hidden) == [404] * len(hidden)
        shown = [path for path in (*DOCS, JOB_STATUS) if path not in hidden]
        assert await statuses(client, *shown) == [200] * len(shown)
