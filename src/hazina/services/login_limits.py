"""Dashboard login attempts, counted in moving windows by the shared `Limiter` (services/throttle).

Every attempt is counted *before* its password is checked: however many guesses arrive at
once, no more than the limit of them ever reach argon2 (counting after the check would let
every concurrent guess through). A right password clears its (email, address) window, so a
user who mistyped a few times is not locked out by those typos later.

Scopes: the (email, client address) pair, whose limit stops one client guessing one account's
password; and the client address alone, whose larger limit bounds every attempt from one client,
successful ones included, whatever the email. There is deliberately no limit on an email alone:
anyone could then lock anyone out. Identifiers are hashed, so the storage (Redis) holds no email
or address.
"""

import hashlib
import math
import time
from typing import Literal

from limits import RateLimitItem, RateLimitItemPerSecond

from hazina.domain.errors import RateLimited
from hazina.observability.metrics import count_rate_limit_refusal
from hazina.services.dashboard_users import normalise_email
from hazina.services.throttle import Limiter

Scope = Literal["pair", "address"]
NAMESPACE = "login"


def _identifier(*parts: str) -> str:
    """A fixed-length identifier that shows no email or address."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class LoginLimits:
    """Login attempts allowed per (email, address) and per address in one moving window."""

    def __init__(
        self, limiter: Limiter, *, per_pair: int, per_address: int, window_seconds: int
    ) -> None:
        self._limiter = limiter
        self._items: dict[Scope, RateLimitItem] = {
            "pair": RateLimitItemPerSecond(per_pair, window_seconds, namespace=NAMESPACE),
            "address": RateLimitItemPerSecond(per_address, window_seconds, namespace=NAMESPACE),
        }

    async def admit(self, email: str, address: str) -> None:
        """Count this attempt in both windows before its password is checked, or raise
        RateLimited. Both are tested before either is hit, so a refusal seen in time counts in
        neither; the pair is hit first, so a burst at one account never eats the address's
        larger allowance beyond the pair's limit."""
        identifiers: dict[Scope, str] = {
            "pair": _identifier(normalise_email(email), address),
            "address": _identifier(address),
        }
        for scope, item in self._items.items():
            if not await self._limiter.test(item, scope, identifiers[scope]):
                raise await self._refusal(item, scope, identifiers[scope])
        for scope, item in self._items.items():
            # A concurrent attempt may have taken the last slot since the test.
            if not await self._limiter.hit(item, scope, identifiers[scope]):
                raise await self._refusal(item, scope, identifiers[scope])

    async def forgive(self, email: str, address: str) -> None:
        """The password was right: the pair's earlier failures are forgotten. The address's
        window keeps this attempt: it bounds everything one client tries."""
        pair = _identifier(normalise_email(email), address)
        await self._limiter.clear(self._items["pair"], "pair", pair)

    async def _refusal(self, item: RateLimitItem, scope: Scope, identifier: str) -> RateLimited:
        count_rate_limit_refusal("login")
        stats = await self._limiter.get_window_stats(item, scope, identifier)
        seconds = max(1, math.ceil(stats.reset_time - time.time()))
        return RateLimited(f"Too many failed logins; try again in {seconds} seconds", seconds)
