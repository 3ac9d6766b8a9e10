"""The Redis server the Redis-backed tests use: HAZINA_TEST_REDIS_URL (default: the local one).

Unreachable Redis is a visible skip locally and a failure in CI (CI=true), like PostgreSQL.
"""

import os

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from tests.databases import IN_CI

REDIS_URL = os.environ.get("HAZINA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def require_redis() -> None:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        await client.ping()
    except (OSError, RedisError) as exc:
        reason = f"Redis at {REDIS_URL} unreachable: {exc}"
        if IN_CI:
            pytest.fail(reason + " (CI requires Redis)", pytrace=False)
        pytest.skip(reason)
    finally:
        await client.aclose()
