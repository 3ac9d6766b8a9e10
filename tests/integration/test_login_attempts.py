"""The login attempt counters: slots in fixed windows, in the database and in Redis."""

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from hazina.db.database import Database
from hazina.services.login_attempts import (
    AttemptCounter,
    DatabaseAttemptCounter,
    RedisAttemptCounter,
)
from tests.redis_server import REDIS_URL, require_redis


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def redis_counter() -> AsyncIterator[RedisAttemptCounter]:
    await require_redis()
    client = Redis.from_url(REDIS_URL)
    prefix = f"hazina:test:{secrets.token_hex(8)}:"
    yield RedisAttemptCounter(client, prefix=prefix)
    await client.delete(prefix + "k", prefix + "other")
    await client.aclose()


async def _fills_and_frees(counter: AttemptCounter) -> None:
    for _ in range(3):
        assert await counter.take("k", 3, 60) is None
    wait = await counter.take("k", 3, 60)
    assert wait is not None
    assert 0 < wait <= 60
    assert await counter.take("other", 3, 60) is None  # each key counts alone
    await counter.give_back("k")
    assert await counter.take("k", 3, 60) is None
    assert await counter.take("k", 3, 60) is not None
    await counter.clear("k")
    for _ in range(3):
        assert await counter.take("k", 3, 60) is None


async def test_the_database_counter_takes_gives_back_and_clears(db: Database) -> None:
    await _fills_and_frees(DatabaseAttemptCounter(db))


async def test_the_redis_counter_takes_gives_back_and_clears(
    redis_counter: RedisAttemptCounter,
) -> None:
    await _fills_and_frees(redis_counter)


async def test_a_full_window_frees_itself_when_it_ends(db: Database) -> None:
    clock = Clock()
    counter = DatabaseAttemptCounter(db, clock)
    for _ in range(2):
        assert await counter.take("k", 2, 60) is None
        clock.now += timedelta(seconds=10)
    assert await counter.take("k", 2, 60) == 40  # the window started with the first slot
    clock.now += timedelta(seconds=40)
    assert await counter.take("k", 2, 60) is None  # a new window, its first slot
    assert await counter.take("k", 2, 60) is None
    assert await counter.take("k", 2, 60) == 60
