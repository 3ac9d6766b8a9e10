"""Payment-link creation is limited per merchant twin (HAZINA_PAYMENT_LINK_LIMIT), with the
`RateLimit-*` headers on every answer and `Retry-After` on the refusal; a shared storage that
stops answering falls back to counting in the process."""

import logging

import httpx
import pytest
from limits import parse

from hazina.bootstrap import Container, start
from hazina.config import Settings
from hazina.services.throttle import Limiter, async_storage, storage_uri
from tests.conftest import AUTH, http_client, make_settings
from tests.databases import truncate_all
from tests.e2e.servers import free_port
from tests.factories import other_merchant_headers
from tests.redis_server import REDIS_URL, require_redis


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, payment_link_limit="3/minute")


async def test_the_fourth_link_in_a_minute_is_refused(
    client: httpx.AsyncClient, container: Container
) -> None:
    for remaining in (2, 1, 0):
        response = await client.post("/api/v1/payment-links", json={"amount": 50000})
        assert response.status_code == 201, response.text
        assert response.headers["RateLimit-Limit"] == "3"
        assert response.headers["RateLimit-Remaining"] == str(remaining)
        assert 0 < int(response.headers["RateLimit-Reset"]) <= 60
    refused = await client.post("/api/v1/payment-links", json={"amount": 50000})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "RATE_LIMIT_ERROR"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert (await client.get("/api/v1/payment-links")).json()["total"] == 3
    # Another merchant has a count of its own.
    async with http_client(container, await other_merchant_headers(container)) as other:
        allowed = await other.post("/api/v1/payment-links", json={"amount": 50000})
        assert allowed.status_code == 201


async def test_a_replay_is_answered_before_the_limit_counts(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "link-retry"}
    first = await client.post("/api/v1/payment-links", json={"amount": 50000}, headers=headers)
    assert first.status_code == 201, first.text
    for _ in range(2):  # the rest of the minute's quota
        assert (
            await client.post("/api/v1/payment-links", json={"amount": 50000})
        ).status_code == 201
    # The client retries its key: the stored 201, with the quota as it stands, not a 429.
    for _ in range(2):
        again = await client.post("/api/v1/payment-links", json={"amount": 50000}, headers=headers)
        assert again.status_code == 201, again.text
        assert again.content == first.content
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.headers["RateLimit-Remaining"] == "0"
    refused = await client.post("/api/v1/payment-links", json={"amount": 50000})
    assert refused.status_code == 429
    assert (await client.get("/api/v1/payment-links")).json()["total"] == 3


def test_redis_url_shares_the_counts_unless_a_storage_is_named() -> None:
    assert storage_uri("memory://", None) == "memory://"
    assert storage_uri("memory://", "redis://r:6379/0") == "redis://r:6379/0"
    assert storage_uri("redis://other:6379", "redis://r:6379/0") == "redis://other:6379"


async def test_an_unreachable_redis_counts_in_the_process_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A port nothing listens on: every call to the storage fails at once.
    limiter = Limiter(async_storage(f"redis://127.0.0.1:{free_port()}/0"))
    item = parse("2/minute")
    with caplog.at_level(logging.WARNING, logger="hazina.throttle"):
        results = [await limiter.hit(item, "test", "key") for _ in range(3)]
    assert results == [True, True, False]  # still limited, per process
    assert not await limiter.check_storage()
    outages = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(outages) == 1


async def test_health_says_whether_redis_answers(database_url: str) -> None:
    await require_redis()
    nothing = f"redis://127.0.0.1:{free_port()}/0"
    for url, expected in (
        (None, "not_configured"),
        (REDIS_URL, "connected"),
        (nothing, "unreachable"),
    ):
        container = await start(make_settings(database_url, redis_url=url))
        try:
            async with http_client(container, AUTH) as client:
                health = await client.get("/health")
                assert health.status_code == 200
                assert health.json()["redis"] == expected
                # Redis away or not: links are created and limited all the same.
                created = await client.post("/api/v1/payment-links", json={"amount": 50000})
                assert created.status_code == 201, created.text
                assert created.headers["RateLimit-Limit"] == "10"
        finally:
            await truncate_all(container.db)
            await container.close()
