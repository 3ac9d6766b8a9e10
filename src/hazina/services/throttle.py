"""Rate limits on anonymous requests, counted in moving windows by the `limits` library.

The counts live in a `limits` async storage named by a URI: `memory://` keeps them in this process
(behind N processes the effective limit is N times larger); `redis://…` and the other storages
`limits` knows share them between processes.
"""

import math
import time
from typing import Literal

from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import ConfigurationError
from limits.storage import storage_from_string

from hazina.domain.errors import RateLimited
from hazina.observability.metrics import count_rate_limit_refusal

Scope = Literal["order", "address"]

_REFUSALS: dict[Scope, str] = {
    "order": "Too many payment attempts for this order",
    "address": "Too many payment attempts from this address",
}


class ThrottleStorageError(ValueError):
    """HAZINA_RATE_LIMIT_STORAGE names no async storage that `limits` knows."""


def async_storage(uri: str) -> Storage:
    """The async variant of a `limits` storage URI: `memory://` → `async+memory://`."""
    async_uri = uri if uri.startswith("async+") else f"async+{uri}"
    try:
        storage = storage_from_string(async_uri)
    except ConfigurationError as exc:
        raise ThrottleStorageError(f"HAZINA_RATE_LIMIT_STORAGE: {exc}") from None
    if not isinstance(storage, Storage):  # pragma: no cover - async+ schemes are async storages
        raise ThrottleStorageError(f"HAZINA_RATE_LIMIT_STORAGE: {uri} is not an async storage")
    return storage


class PaymentThrottle:
    """Anonymous payment attempts per order and per client address, each in its moving windows."""

    def __init__(self, storage: Storage, per_order: str, per_address: str) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
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

    def __init__(self, storage: Storage, per_address: str) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._limits = parse_many(per_address)
        self.dropped = 0

    async def admit(self, address: str) -> bool:
        """Count one rejected body from `address`: whether it may be stored."""
        for item in self._limits:
            if not await self._limiter.hit(item, "rejected-sample", address):
                self.dropped += 1
                return False
        return True
