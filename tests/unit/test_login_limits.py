"""LoginLimits over the Limiter: in memory, in a shared Redis, and while Redis is unreachable
(counted in the process, where a right password's clearing must reach too)."""

import secrets

import pytest

from hazina.domain.errors import RateLimited
from hazina.services.login_limits import LoginLimits
from hazina.services.throttle import Limiter, async_storage
from tests.e2e.servers import free_port
from tests.redis_server import REDIS_URL, require_redis

EMAIL = "owner@example.com"


def limits(limiter: Limiter) -> LoginLimits:
    return LoginLimits(limiter, per_pair=3, per_address=5, window_seconds=60)


async def _refuses_and_forgives(login: LoginLimits) -> None:
    """Three attempts at one email, the fourth refused with the window's wait; a right password
    clears the pair only, so the address's window refuses once it holds five."""
    address = f"10.0.0.{secrets.randbelow(250)}-{secrets.token_hex(4)}"
    for _ in range(3):
        await login.admit(EMAIL, address)
    with pytest.raises(RateLimited) as refused:
        await login.admit(EMAIL.upper(), address)  # the same email, however it is typed
    assert 0 < refused.value.retry_after <= 60
    await login.forgive(EMAIL, address)
    await login.admit(EMAIL, address)
    await login.admit("other@example.com", address)  # five at this address
    with pytest.raises(RateLimited):
        await login.admit("third@example.com", address)


async def test_in_memory() -> None:
    await _refuses_and_forgives(limits(Limiter(async_storage("memory://"))))


async def test_in_redis() -> None:
    await require_redis()
    await _refuses_and_forgives(limits(Limiter(async_storage(REDIS_URL))))


async def test_with_redis_unreachable() -> None:
    # A port nothing listens on: every call to the storage fails, the process counts alone.
    limiter = Limiter(async_storage(f"redis://127.0.0.1:{free_port()}/0"))
    await _refuses_and_forgives(limits(limiter))
