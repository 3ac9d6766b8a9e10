"""Dashboard users: people who log in to a merchant's dashboard with an email and a password.

Passwords are hashed with argon2id (argon2-cffi's defaults). Hashing is deliberately slow, so it
runs in a thread, off the event loop. An unknown email costs one verification too, against a
fixed hash, so response time does not tell which emails exist.
"""

import asyncio
import functools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from hazina.db.database import Database
from hazina.db.models import DashboardUser, Merchant
from hazina.domain.clock import utc_now
from hazina.domain.errors import AuthenticationFailed, BadRequest, Conflict
from hazina.services.audit import record_audit

MIN_PASSWORD_LENGTH = 8
INVALID_LOGIN = "Invalid email or password"
_hasher = PasswordHasher()
_ABSENT_USER_HASH = _hasher.hash("no such dashboard user")


@dataclass(frozen=True, slots=True)
class DashboardIdentity:
    user_id: uuid.UUID
    email: str
    # The twin of the mode the dashboard shows: every page scopes its rows by it.
    merchant_id: uuid.UUID
    merchant_name: str
    api_key: str
    livemode: bool


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    return await asyncio.to_thread(_hasher.hash, password)


async def _matches(password_hash: str, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


# The development seed hashes the same configured password at every start (and the tests start
# hundreds of times): one hash per process is as good, since each start only needs *a* hash.
_seed_hash = functools.lru_cache(maxsize=4)(_hasher.hash)


async def create_dashboard_user(
    db: Database, merchant_id: uuid.UUID, email: str, password: str, *, actor: str
) -> uuid.UUID:
    return await _insert_user(db, merchant_id, email, await hash_password(password), actor)


async def _insert_user(
    db: Database, merchant_id: uuid.UUID, email: str, password_hash: str, actor: str
) -> uuid.UUID:
    try:
        async with db.transaction() as session:
            user = DashboardUser(
                merchant_id=merchant_id,
                email=normalise_email(email),
                password_hash=password_hash,
                is_active=True,
            )
            session.add(user)
            await session.flush()
            record_audit(
                session,
                actor=actor,
                action="dashboard_user.created",
                target=f"dashboard_user:{user.id}",
                merchant_id=merchant_id,
                details={"email": user.email},
            )
    except IntegrityError:
        raise Conflict(f"A dashboard user with email {email} already exists") from None
    return user.id


async def seed_dashboard_user(
    db: Database, merchant_id: uuid.UUID, email: str, password: str
) -> bool:
    """The test merchant's login, added to a database seeded before logins existed too."""
    async with db.read() as session:
        exists = await session.scalar(
            select(DashboardUser.id).where(DashboardUser.email == normalise_email(email))
        )
    if exists is not None:
        return False
    password_hash = await asyncio.to_thread(_seed_hash, password)
    try:
        await _insert_user(db, merchant_id, email, password_hash, "system:seed")
    except Conflict:
        return False  # another process seeded it first
    return True


_IDENTITY = select(DashboardUser, Merchant).join(Merchant, Merchant.id == DashboardUser.merchant_id)
# A user belongs to its account's test twin; the session's mode picks the twin shown.
_home = aliased(Merchant)
_IN_MODE = (
    select(DashboardUser, Merchant)
    .join(_home, _home.id == DashboardUser.merchant_id)
    .join(Merchant, Merchant.account_id == _home.account_id)
)


def _identity(user: DashboardUser, merchant: Merchant) -> DashboardIdentity:
    return DashboardIdentity(
        user.id, user.email, merchant.id, merchant.name, merchant.api_key, merchant.livemode
    )


async def log_in(db: Database, email: str, password: str) -> DashboardIdentity:
    """The user with this email and password, if both it and its merchant are active."""
    async with db.read() as session:
        row = (
            await session.execute(_IDENTITY.where(DashboardUser.email == normalise_email(email)))
        ).first()
    matches = await _matches(row[0].password_hash if row else _ABSENT_USER_HASH, password)
    if row is None or not matches:
        raise AuthenticationFailed(INVALID_LOGIN)
    user, merchant = row
    if not (user.is_active and merchant.is_active):
        raise AuthenticationFailed(INVALID_LOGIN)
    async with db.transaction() as session:
        values: dict[str, object] = {"last_login_at": utc_now()}
        if _hasher.check_needs_rehash(user.password_hash):
            values["password_hash"] = await asyncio.to_thread(_hasher.hash, password)
        await session.execute(
            update(DashboardUser)
            .where(DashboardUser.id == user.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return _identity(user, merchant)


async def find_dashboard_user(
    db: Database, user_id: uuid.UUID, *, livemode: bool = False
) -> DashboardIdentity | None:
    """The session's user seeing its account's twin of that mode, or None once it (or its
    merchant) has been deactivated."""
    async with db.read() as session:
        row = (
            await session.execute(
                _IN_MODE.where(
                    DashboardUser.id == user_id,
                    Merchant.livemode.is_(livemode),
                    DashboardUser.is_active.is_(True),
                    Merchant.is_active.is_(True),
                )
            )
        ).first()
    return None if row is None else _identity(*row)


class LoginThrottle:
    """Failed logins per (email, client address) in a sliding window, held in this process.

    In-process by design: one `hazina serve` sees all of its own attempts. Behind a load balancer
    each process counts separately, so the effective limit is multiplied by the process count.
    """

    def __init__(
        self,
        max_failures: int,
        window_seconds: float,
        *,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._failures: dict[tuple[str, str], list[float]] = {}

    def _recent(self, key: tuple[str, str]) -> list[float]:
        horizon = self._clock() - self.window_seconds
        recent = [moment for moment in self._failures.get(key, []) if moment > horizon]
        if recent:
            self._failures[key] = recent
        else:
            self._failures.pop(key, None)
        return recent

    def retry_after(self, email: str, address: str) -> float | None:
        """Seconds until another attempt is allowed, or None if one is allowed now."""
        recent = self._recent((normalise_email(email), address))
        if len(recent) < self.max_failures:
            return None
        return max(recent[0] + self.window_seconds - self._clock(), 1.0)

    def record_failure(self, email: str, address: str) -> None:
        key = (normalise_email(email), address)
        if key not in self._failures and len(self._failures) >= self.max_entries:
            del self._failures[next(iter(self._failures))]  # the oldest key
        self._failures.setdefault(key, []).append(self._clock())

    def reset(self, email: str, address: str) -> None:
        self._failures.pop((normalise_email(email), address), None)
