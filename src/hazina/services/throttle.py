"""Rate limits, counted in moving windows by the `limits` library: one `Limiter` per process.

The counts live in a `limits` async storage named by a URI: `memory://` keeps them in this process
(behind N processes the effective limit is N times larger); `redis://…` (or, when
HAZINA_RATE_LIMIT_STORAGE is left at `memory://`, HAZINA_REDIS_URL) shares them between
processes. When the shared storage fails, the limiter counts in this process instead (logged
once per outage) rather than refusing or failing the request: a limit is a guard, not a gate.
"""

import logging
import math
import time
from dataclasses import dataclass
from typing import Literal

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import ConfigurationError, StorageError
from limits.storage import storage_from_string
from limits.util import WindowStats

from hazina.domain.errors import RateLimited
from hazina.observability.metrics import count_rate_limit_refusal

log = logging.getLogger("hazina.throttle")
# A Redis that does not answer within this long is treated as down for that request.
REDIS_TIMEOUT_SECONDS = 0.5

Scope = Literal["order", "address"]

_REFUSALS: dict[Scope, str] = {
    "order": "Too many payment attempts for this order",
    "address": "Too many payment attempts from this address",
}


class ThrottleStorageError(ValueError):
    """HAZINA_RATE_LIMIT_STORAGE names no async storage that `limits` knows."""


def async_storage(uri: str) -> Storage:
    """The async variant of a `limits` storage URI: `memory://` → `async+memory://`. Redis is
    spoken through redis-py (the client Hazina already uses), with short timeouts and errors
    raised as `StorageError`, so an unreachable server costs a request half a second at most."""
    async_uri = uri if uri.startswith("async+") else f"async+{uri}"
    try:
        if async_uri.startswith(("async+redis://", "async+rediss://")):
            return RedisStorage(
                async_uri,
                wrap_exceptions=True,
                implementation="redispy",
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
        storage = storage_from_string(async_uri)
    except ConfigurationError as exc:
        raise ThrottleStorageError(f"HAZINA_RATE_LIMIT_STORAGE: {exc}") from None
    if not isinstance(storage, Storage):  # pragma: no cover - async+ schemes are async storages
        raise ThrottleStorageError(f"HAZINA_RATE_LIMIT_STORAGE: {uri} is not an async storage")
    return storage


def storage_uri(rate_limit_storage: str, redis_url: str | None) -> str:
    """HAZINA_RATE_LIMIT_STORAGE when it names a shared storage; else Redis when HAZINA_REDIS_URL
    is set (every process then counts together); else this process's memory."""
    if rate_limit_storage == "memory://" and redis_url is not None:
        return redis_url
    return rate_limit_storage


class Limiter:
    """Moving windows in the configured storage, or in this process's memory while that storage
    is failing. Every limit in Hazina counts through one of these."""

    def __init__(self, storage: Storage) -> None:
        self._shared = MovingWindowRateLimiter(storage)
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._is_local = isinstance(storage, MemoryStorage)
        self._outage = False

    def _failed(self, error: Exception) -> None:
        if not self._outage:
            self._outage = True
            log.warning("rate-limit storage unreachable, counting in this process: %s", error)

    def _recovered(self) -> None:
        if self._outage:
            self._outage = False
            log.warning("rate-limit storage reachable again: counting in it")

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        if not self._is_local:
            try:
                taken = await self._shared.hit(item, *identifiers)
            except StorageError as error:
                self._failed(error)
            else:
                self._recovered()
                return taken
        return await self._local.hit(item, *identifiers)

    async def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        if not self._is_local:
            try:
                free = await self._shared.test(item, *identifiers)
            except StorageError as error:
                self._failed(error)
            else:
                self._recovered()
                return free
        return await self._local.test(item, *identifiers)

    async def clear(self, item: RateLimitItem, *identifiers: str) -> None:
        """Forget a window's hits wherever they were counted: in this process too, where hits
        made during an outage live."""
        await self._local.clear(item, *identifiers)
        if not self._is_local:
            try:
                await self._shared.clear(item, *identifiers)
            except StorageError as error:
                self._failed(error)
            else:
                self._recovered()

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        if not self._is_local and not self._outage:
            try:
                return await self._shared.get_window_stats(item, *identifiers)
            except StorageError as error:
                self._failed(error)
        return await self._local.get_window_stats(item, *identifiers)

    async def check_storage(self) -> bool:
        """Whether the shared storage answers now (True for memory)."""
        if self._is_local:
            return True
        try:
            return bool(await self._shared.storage.check())
        except StorageError:
            return False


@dataclass(frozen=True, slots=True)
class Quota:
    """What is left of a limit after a request it admitted (the `RateLimit-*` headers)."""

    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


class QuotaExceeded(RateLimited):
    """A 429 that also says the quota it hit."""

    def __init__(self, description: str, quota: Quota) -> None:
        super().__init__(description, retry_after=max(1, quota.reset_seconds))
        self.quota = quota


class KeyedLimit:
    """One limit per key (a merchant twin's payment-link creations): admits or refuses with
    the quota that is left, so every answer can carry `RateLimit-*` headers."""

    def __init__(self, limiter: Limiter, name: str, limit: str, refusal: str) -> None:
        self._limiter = limiter
        self._name = name
        self._items = parse_many(limit)
        self._refusal = refusal

    async def _quota(self, item: RateLimitItem, key: str) -> Quota:
        stats = await self._limiter.get_window_stats(item, self._name, key)
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        return Quota(item.amount, stats.remaining, reset)

    async def peek(self, key: str) -> Quota:
        """What is left, counting nothing: the headers of an answer that created nothing (an
        idempotent replay)."""
        quotas = [await self._quota(item, key) for item in self._items]
        return min(quotas, key=lambda quota: quota.remaining)

    async def admit(self, key: str) -> Quota:
        quotas: list[Quota] = []
        for item in self._items:
            taken = await self._limiter.hit(item, self._name, key)
            quota = await self._quota(item, key)
            if not taken:
                count_rate_limit_refusal(self._name)
                wait = max(1, quota.reset_seconds)
                unit = "second" if wait == 1 else "seconds"
                raise QuotaExceeded(f"{self._refusal}; try again in {wait} {unit}", quota)
            quotas.append(quota)
        # The tightest window is the one a client must watch.
        return min(quotas, key=lambda quota: quota.remaining)


class PaymentThrottle:
    """Anonymous payment attempts per order and per client address, each in its moving windows."""

    def __init__(self, limiter: Limiter, per_order: str, per_address: str) -> None:
        self._limiter = limiter
        self._limits: dict[Scope, list[RateLimitItem]] = {
            "order": parse_many(per_order),
            "address": parse_many(per_address),
        }

    async def admit(self, order_id: str, address: str) -> None:
        """Count one attempt, or raise RateLimited when a window is full.

        Every window is tested before any is hit, so a refused attempt uses up no other window.
        """
        identifiers: dict[Scope, str] = {"order": order_id, "address": address}
        checks = [
            (scope, item, identifiers[scope])
            for scope, items in self._limits.items()
            for item in items
        ]
        for scope, item, identifier in checks:
            if not await self._limiter.test(item, "public-payment", scope, identifier):
                raise await self._refusal(scope, item, identifier)
        for scope, item, identifier in checks:
            # A concurrent attempt may have taken the last slot since the test.
            if not await self._limiter.hit(item, "public-payment", scope, identifier):
                raise await self._refusal(scope, item, identifier)

    async def _refusal(self, scope: Scope, item: RateLimitItem, identifier: str) -> RateLimited:
        count_rate_limit_refusal(f"public_payment_{scope}")
        stats = await self._limiter.get_window_stats(item, "public-payment", scope, identifier)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        unit = "second" if wait == 1 else "seconds"
        return RateLimited(f"{_REFUSALS[scope]}; try again in {wait} {unit}", retry_after=wait)


class SampleThrottle:
    """How many rejected provider-hook bodies per source address are kept, in moving windows.

    A body that fails verification could come from anyone: a few per address are stored for
    debugging, the rest only counted, so a flood can neither fill the disk nor bury the
    merchant's real notifications. With `memory://` the windows and the count are per process.
    """

    def __init__(self, limiter: Limiter, per_address: str) -> None:
        self._limiter = limiter
        self._limits = parse_many(per_address)
        self.dropped = 0

    async def admit(self, address: str) -> bool:
        """Count one rejected body from `address`: whether it may be stored."""
        for item in self._limits:
            if not await self._limiter.hit(item, "rejected-sample", address):
                self.dropped += 1
                return False
        return True
