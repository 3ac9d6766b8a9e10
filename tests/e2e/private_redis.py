"""A Redis server of a test's own, which the test may stop at will.

The shared server (tests/redis_server.py) serves every other test; stopping it would break them.
This one listens on 127.0.0.1 and a free port, saves nothing, and is killed at the end.
"""

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from tests.e2e.servers import free_port


@contextmanager
def private_redis(directory: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A running `redis-server` and its URL; it may not answer yet (see `answers`)."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process, f"redis://127.0.0.1:{port}/0"
    finally:
        process.kill()
        process.wait(timeout=10)


async def answers(url: str) -> bool:
    client = Redis.from_url(url, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()
