"""Failed dashboard logins, counted where every process sees them: the database, or Redis.

A login takes a slot in each of its scopes *before* its password is checked, and a login that
succeeds gives them back. So however many guesses arrive at once, no more than the limit of them
ever reach a password check (counting after the check lets every concurrent guess through).

Scopes: the (email, client address) pair, whose limit stops one client guessing one account's
password; and the client address alone, whose larger limit stops one client trying many
accounts. There is deliberately no limit on an email alone: anyone could then lock anyone out.
Counts live in fixed windows that start with a scope's first failure.
"""

import hashlib
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal, Protocol

from redis.asyncio import Redis
from sqlalchemy import case, delete, or_, update

from hazina.db.database import Database
from hazina.db.models import LoginAttempt
from hazina.db.statements import upsert_where
from hazina.domain.clock import utc_now
from hazina.domain.errors import RateLimited
from hazina.observability.metrics import count_rate_limit_refusal
from hazina.services.dashboard_users import normalise_email

Scope = Literal["pair", "address"]


class AttemptCounter(Protocol):
    async def take(self, key: str, limit: int, window_seconds: float) -> float | None:
        """Take a slot: None if one was free, else the seconds until the window ends."""
        ...

    async def give_back(self, key: str) -> None:
        """Return one slot taken in the current window."""
        ...

    async def clear(self, key: str) -> None:
        """Forget every slot taken."""
        ...


class DatabaseAttemptCounter:
    """Counts in `login_attempts`: one conditional upsert takes a slot atomically on both
    SQLite and PostgreSQL, so concurrent takes from any number of processes never overshoot."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def take(self, key: str, limit: int, window_seconds: float) -> float | None:
        now = self._clock()
        fresh_expiry = now + timedelta(seconds=window_seconds)
        row = LoginAttempt.__table__.c
        expired = row.expires_at <= now
        async with self._db.transaction() as session:
            taken = await upsert_where(
                session,
                LoginAttempt,
                {"key": key, "count": 1, "expires_at": fresh_expiry},
                {
                    "count": case((expired, 1), else_=row.count + 1),
                    "expires_at": case((expired, fresh_expiry), else_=row.expires_at),
                },
                or_(expired, row.count < limit),
            )
            if taken:
                return None
            attempt = await session.get_one(LoginAttempt, key)
            return (attempt.expires_at - now).total_seconds()

    async def give_back(self, key: str) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(LoginAttempt)
                .where(
                    LoginAttempt.key == key,
                    LoginAttempt.count > 0,
                    LoginAttempt.expires_at > self._clock(),
                )
                .values(count=LoginAttempt.count - 1)
                .execution_options(synchronize_session=False)
            )

    async def clear(self, key: str) -> None:
        async with self._db.transaction() as session:
            await session.execute(delete(LoginAttempt).where(LoginAttempt.key == key))


# Each script runs atomically in Redis; the window starts with the first slot taken (PEXPIRE).
_TAKE = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then
  return math.max(redis.call('PTTL', KEYS[1]), 1)
end
if redis.call('INCR', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_GIVE_BACK = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then
  redis.call('DECR', KEYS[1])
end
return 0
"""


class RedisAttemptCounter:
    """Counts in Redis (`HAZINA_REDIS_URL`): one expiring integer per key, changed by scripts."""

    def __init__(self, client: Redis, prefix: str = "hazina:login:") -> None:
        self._client = client
        self._prefix = prefix
        self._take = client.register_script(_TAKE)
        self._give_back = client.register_script(_GIVE_BACK)

    async def take(self, key: str, limit: int, window_seconds: float) -> float | None:
        window_ms = max(1, math.ceil(window_seconds * 1000))
        wait_ms = int(await self._take(keys=[self._prefix + key], args=[limit, window_ms]))
        return None if wait_ms == 0 else wait_ms / 1000

    async def give_back(self, key: str) -> None:
        await self._give_back(keys=[self._prefix + key])

    async def clear(self, key: str) -> None:
        await self._client.delete(self._prefix + key)


def _key(scope: Scope, *parts: str) -> str:
    """A fixed-length key that stores no email or address."""
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    return f"{scope}:{digest}"


class LoginLimits:
    """Failed logins allowed per (email, address) and per address in a window."""

    def __init__(
        self, counter: AttemptCounter, *, per_pair: int, per_address: int, window_seconds: float
    ) -> None:
        self._counter = counter
        self._per_pair = per_pair
        self._per_address = per_address
        self._window = window_seconds

    async def admit(self, email: str, address: str) -> None:
        """Take this attempt's slots before its password is checked, or raise RateLimited."""
        pair = _key("pair", normalise_email(email), address)
        wait = await self._counter.take(pair, self._per_pair, self._window)
        if wait is None:
            wait = await self._counter.take(
                _key("address", address), self._per_address, self._window
            )
            if wait is None:
                return
            await self._counter.give_back(pair)  # refused, so it was no attempt on this pair
        seconds = max(1, math.ceil(wait))
        count_rate_limit_refusal("login")
        raise RateLimited(f"Too many failed logins; try again in {seconds} seconds", seconds)

    async def forgive(self, email: str, address: str) -> None:
        """The password was right: the pair's failures are forgotten and the address's slot
        returned, so successful logins never use up an address's allowance."""
        await self._counter.clear(_key("pair", normalise_email(email), address))
        await self._counter.give_back(_key("address", address))
