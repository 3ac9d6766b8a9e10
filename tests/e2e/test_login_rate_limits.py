"""Dashboard login limits across two `hazina serve` processes sharing one Redis (a private
redis-server): failures sent to either process add up, so the 6th attempt from one address at one
email is refused by both; with Redis stopped both keep logging people in, counting per process."""

import asyncio
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.private_redis import answers, private_redis
from tests.e2e.servers import HazinaProcess, Hub, open_hub
from tests.web.conftest import log_in

pytestmark = pytest.mark.slow
PER_PAIR = 5  # HAZINA_LOGIN_MAX_FAILURES's default
WRONG = "wrong-password"


@pytest.fixture(params=["sqlite", "postgres"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Hub]:
    async with open_hub(request.param, tmp_path) as hub:
        await hub.prepare()
        yield hub


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    with private_redis(tmp_path) as server:
        yield server


def browser(server: HazinaProcess) -> httpx.AsyncClient:
    """A visitor of one process (its session cookie is signed by that process's secret)."""
    assert server.url is not None
    return httpx.AsyncClient(base_url=server.url, timeout=30)


async def test_failures_on_either_process_add_up_and_redis_may_go(
    hub: Hub, redis_server: tuple[subprocess.Popen[bytes], str]
) -> None:
    redis, url = redis_server
    await hub.eventually(lambda: answers(url), within=30, what="redis-server")
    first = await hub.serve(HAZINA_REDIS_URL=url)
    second = await hub.serve(HAZINA_REDIS_URL=url)
    async with browser(first) as one, browser(second) as two:
        failed = [await log_in((one, two)[n % 2], password=WRONG) for n in range(PER_PAIR)]
        assert [response.status_code for response in failed] == [401] * PER_PAIR
        for client in (one, two):
            # The right password, refused all the same: the count is the two processes'.
            refused = await log_in(client)
            assert refused.status_code == 429, refused.text
            assert "Too many failed logins" in refused.text
            assert int(refused.headers["Retry-After"]) >= 1

        redis.terminate()
        await asyncio.to_thread(redis.wait, 10)
        # Each process counts alone now, from nothing: logins are served.
        assert (await log_in(one)).status_code == 303
        one.cookies.clear()
        for _ in range(PER_PAIR):
            assert (await log_in(one, password=WRONG)).status_code == 401
        assert (await log_in(one)).status_code == 429
        assert (await log_in(two)).status_code == 303  # the other process's count is its own
    hub.check_alive(first, second)
    for server in (first, second):
        assert server.output(100_000).count("rate-limit storage unreachable") == 1
