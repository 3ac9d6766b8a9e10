"""The payment-link limit across two `hazina serve` processes sharing one Redis (a private
redis-server on a free port, never the shared one): the 11th link within a minute is refused
on either process; with Redis stopped both keep serving, counting per process."""

import asyncio
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.e2e.private_redis import answers, private_redis
from tests.e2e.servers import Hub, api, open_hub

pytestmark = pytest.mark.slow
LINK = {"amount": 50000, "description": "Rate-limited"}


@pytest.fixture(params=["sqlite", "postgres"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Hub]:
    async with open_hub(request.param, tmp_path) as hub:
        await hub.prepare()
        yield hub


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    with private_redis(tmp_path) as server:
        yield server


async def test_the_eleventh_link_is_refused_on_either_process_and_redis_may_go(
    hub: Hub, redis_server: tuple[subprocess.Popen[bytes], str]
) -> None:
    redis, url = redis_server
    await hub.eventually(lambda: answers(url), within=30, what="redis-server")
    first = await hub.serve(HAZINA_REDIS_URL=url)
    second = await hub.serve(HAZINA_REDIS_URL=url)
    async with api(first) as one, api(second) as two:
        for client in (one, two):
            assert (await client.get("/health")).json()["redis"] == "connected"
        created = [
            await (one, two)[i % 2].post("/api/v1/payment-links", json=LINK) for i in range(10)
        ]
        assert [r.status_code for r in created] == [201] * 10, [r.text for r in created]
        assert [r.headers["RateLimit-Remaining"] for r in created] == [
            str(9 - i) for i in range(10)
        ]
        for client in (one, two):
            refused = await client.post("/api/v1/payment-links", json=LINK)
            assert refused.status_code == 429, refused.text
            assert refused.json()["error"]["code"] == "RATE_LIMIT_ERROR"
            assert int(refused.headers["Retry-After"]) >= 1
        assert (await one.get("/api/v1/payment-links")).json()["total"] == 10

        redis.terminate()
        await asyncio.to_thread(redis.wait, 10)
        for client in (one, two):
            health = await client.get("/health")
            assert health.status_code == 200
            assert health.json()["redis"] == "unreachable"
            # Served all the same, counted in each process now.
            served = await client.post("/api/v1/payment-links", json=LINK)
            assert served.status_code == 201, served.text
            assert (await client.get("/api/v1/payment-links")).status_code == 200
    hub.check_alive(first, second)
    for server in (first, second):
        # The outage is logged once per process, however many requests it met.
        assert server.output(100_000).count("rate-limit storage unreachable") == 1
