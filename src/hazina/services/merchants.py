"""Merchants: creation with API credentials, authentication, the contract's seeded test merchant.

A merchant account is two twin rows sharing `account_id`: test mode and live mode, each with its
own key pair (`key_test_…`/`secret_test_…`, `key_live_…`/`secret_live_…`). A key authenticates
as its twin, and every merchant-owned row belongs to one twin, so modes never mix.
"""

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import DashboardUser, Merchant, WebhookEndpoint
from hazina.db.statements import fresh_id
from hazina.domain import ids
from hazina.domain.clock import utc_now
from hazina.domain.errors import AuthenticationFailed, Conflict, NotFound
from hazina.services.audit import record_audit
from hazina.services.dashboard_users import normalise_email
from hazina.services.passwords import hash_password
from hazina.services.ports import SecretBox
from hazina.services.webhook_endpoints import new_primary_endpoint

TEST_MERCHANT_ID = uuid.UUID("550e8400-e29b-41d4-a716-446655440000")
TEST_MERCHANT_NAME = "Test Merchant"
# Compared against when no merchant matches the key, so both paths cost the same.
_ABSENT_SECRET_HASH = hashlib.sha256(b"no such merchant").hexdigest()


@dataclass(frozen=True, slots=True)
class MerchantIdentity:
    """One twin: `id` scopes every row of its mode; `account_id` is shared by both twins."""

    id: uuid.UUID
    name: str
    email: str
    api_key: str
    created_at: datetime
    account_id: uuid.UUID
    livemode: bool

    @property
    def mode(self) -> str:
        return mode_name(self.livemode)


@dataclass(frozen=True, slots=True)
class NewCredentials:
    """Shown once, at creation: Hazina keeps only the secrets' hashes. `merchant` and
    `api_secret` are the test twin's; `live_merchant` and `live_api_secret` the live twin's."""

    merchant: MerchantIdentity
    api_secret: str
    live_merchant: MerchantIdentity
    live_api_secret: str


def mode_name(livemode: bool) -> str:
    return "live" if livemode else "test"


def _new_key(livemode: bool) -> str:
    return f"key_{mode_name(livemode)}_" + secrets.token_urlsafe(18)


def _new_secret(livemode: bool) -> str:
    return f"secret_{mode_name(livemode)}_" + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _identity(merchant: Merchant) -> MerchantIdentity:
    return MerchantIdentity(
        id=merchant.id,
        name=merchant.name,
        email=merchant.email,
        api_key=merchant.api_key,
        created_at=merchant.created_at,
        account_id=merchant.account_id,
        livemode=merchant.livemode,
    )


async def create_merchant(
    db: Database,
    vault: SecretBox,
    *,
    name: str,
    email: str,
    actor: str,
    merchant_id: uuid.UUID | None = None,
    api_key: str | None = None,
    api_secret: str | None = None,
    webhook_secret: str | None = None,
    owner_password: str | None = None,
) -> NewCredentials:
    """Create both twins of a merchant account. `merchant_id`, `api_key`, `api_secret` and
    `webhook_secret` are the test twin's (the contract's seeded merchant fixes them); the live
    twin's are always generated. With `owner_password`, the owner's dashboard login (the
    merchant's email) is created in the same transaction: a merchant never exists half-made."""
    account_id = merchant_id or uuid.uuid4()
    test = _Twin(account_id, False, api_key or _new_key(False), api_secret or _new_secret(False))
    live = _Twin(uuid.uuid4(), True, _new_key(True), _new_secret(True))
    password_hash = None if owner_password is None else await hash_password(owner_password)
    try:
        async with db.transaction() as session:
            rows = [
                await _insert_twin(session, vault, twin, account_id, name, email, actor, secret)
                for twin, secret in ((test, webhook_secret), (live, None))
            ]
            if password_hash is not None:
                session.add(
                    DashboardUser(
                        merchant_id=account_id,
                        email=normalise_email(email),
                        password_hash=password_hash,
                        is_active=True,
                    )
                )
    except IntegrityError:
        # The unique indexes on email and api_key decide, races included.
        raise Conflict(f"A merchant with email {email} already exists") from None
    return NewCredentials(_identity(rows[0]), test.secret, _identity(rows[1]), live.secret)


@dataclass(frozen=True, slots=True)
class _Twin:
    id: uuid.UUID
    livemode: bool
    key: str
    secret: str


async def _insert_twin(
    session: AsyncSession,
    vault: SecretBox,
    twin: _Twin,
    account_id: uuid.UUID,
    name: str,
    email: str,
    actor: str,
    webhook_secret: str | None,
) -> Merchant:
    merchant = Merchant(
        id=twin.id,
        account_id=account_id,
        livemode=twin.livemode,
        name=name,
        email=email,
        api_key=twin.key,
        api_secret_hash=hash_secret(twin.secret),
        is_active=True,
    )
    session.add(merchant)
    await session.flush()
    # Every twin has a primary webhook endpoint (the contract's webhook_url and
    # webhook_secret), unconfigured until a URL is set.
    endpoint_id = await fresh_id(session, WebhookEndpoint, ids.WEBHOOK_ENDPOINT)
    session.add(new_primary_endpoint(vault, endpoint_id, merchant.id, webhook_secret))
    record_audit(
        session,
        actor=actor,
        action="api_key.created",
        target=f"merchant:{merchant.id}",
        merchant_id=merchant.id,
        details={"api_key": twin.key},
    )
    return merchant


@dataclass(frozen=True, slots=True)
class _Verified:
    secret_hash: str
    identity: MerchantIdentity
    expires_at: float


class CredentialCache:
    """API credentials verified recently, so most requests authenticate without a query.

    Only successful checks are remembered, by key with the secret's hash, and the presented secret
    is still compared on every hit. Deactivating a merchant or replacing its secret therefore
    reaches every process within `ttl_seconds` (0 turns the cache off).
    """

    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, _Verified] = {}

    def lookup(self, api_key: str) -> _Verified | None:
        entry = self._entries.get(api_key)
        if entry is None or entry.expires_at <= self._clock():
            return None
        return entry

    def forget(self, api_key: str) -> None:
        """Drop a key at once, in this process (others drop it within `ttl_seconds`)."""
        self._entries.pop(api_key, None)

    def remember(self, api_key: str, secret_hash: str, identity: MerchantIdentity) -> None:
        if self.ttl_seconds <= 0:
            return
        if len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]  # the oldest insertion
        expires_at = self._clock() + self.ttl_seconds
        self._entries[api_key] = _Verified(secret_hash, identity, expires_at)


async def authenticate(
    db: Database, api_key: str | None, api_secret: str | None, cache: CredentialCache
) -> MerchantIdentity:
    """Match an active merchant by key, then its secret's hash in constant time."""
    if not api_key or not api_secret:
        raise AuthenticationFailed("Invalid API credentials")
    presented = hash_secret(api_secret)
    recent = cache.lookup(api_key)
    if recent is not None and hmac.compare_digest(recent.secret_hash, presented):
        return recent.identity
    async with db.read() as session:
        merchant = await session.scalar(
            select(Merchant).where(Merchant.api_key == api_key, Merchant.is_active.is_(True))
        )
    expected = merchant.api_secret_hash if merchant else _ABSENT_SECRET_HASH
    if not hmac.compare_digest(expected, presented) or merchant is None:
        raise AuthenticationFailed("Invalid API credentials")
    identity = _identity(merchant)
    cache.remember(api_key, merchant.api_secret_hash, identity)
    return identity


async def roll_api_secret(
    db: Database, merchant_id: uuid.UUID, *, actor: str, cache: CredentialCache
) -> str:
    """Replace the merchant's API secret; the new one is returned once and only its hash is kept.
    The old secret stops working at once here and within the cache's TTL in other processes."""
    async with db.transaction() as session:
        merchant = await session.get(Merchant, merchant_id)
        if merchant is None:
            raise NotFound("Merchant not found")
        secret = _new_secret(merchant.livemode)
        merchant.api_secret_hash = hash_secret(secret)
        merchant.updated_at = utc_now()
        record_audit(
            session,
            actor=actor,
            action="api_secret.rolled",
            target=f"merchant:{merchant.id}",
            merchant_id=merchant.id,
            details={"api_key": merchant.api_key},
        )
        api_key = merchant.api_key
    cache.forget(api_key)
    return secret


async def list_merchants(db: Database) -> list[MerchantIdentity]:
    """Every twin, each account's test twin first."""
    async with db.read() as session:
        merchants = await session.scalars(
            select(Merchant).order_by(Merchant.created_at, Merchant.account_id, Merchant.livemode)
        )
        return [_identity(merchant) for merchant in merchants]


async def find_merchant_by_email(
    db: Database, email: str, *, livemode: bool = False
) -> MerchantIdentity | None:
    """The twin of that mode of the account registered with `email`."""
    async with db.read() as session:
        merchant = await session.scalar(
            select(Merchant).where(Merchant.email == email, Merchant.livemode.is_(livemode))
        )
    return _identity(merchant) if merchant else None


async def find_twin(db: Database, account_id: uuid.UUID, *, livemode: bool) -> MerchantIdentity:
    async with db.read() as session:
        merchant = await session.scalar(
            select(Merchant).where(
                Merchant.account_id == account_id, Merchant.livemode.is_(livemode)
            )
        )
    if merchant is None:
        raise NotFound("Merchant not found")
    return _identity(merchant)


async def deactivate_published_test_merchant(db: Database, api_key: str) -> bool:
    """Production refuses the contract's published test credentials, even if a database seeded
    in development is reused: the account holding them, both twins, is deactivated (and
    audited)."""
    async with db.transaction() as session:
        holder = await session.scalar(
            select(Merchant).where(Merchant.api_key == api_key, Merchant.is_active.is_(True))
        )
        if holder is None:
            return False
        twins = await session.scalars(
            select(Merchant).where(Merchant.account_id == holder.account_id)
        )
        for merchant in twins:
            merchant.is_active = False
            record_audit(
                session,
                actor="system:production",
                action="merchant.deactivated",
                target=f"merchant:{merchant.id}",
                merchant_id=merchant.id,
                details={"reason": "published test credentials"},
            )
    return True


async def seed_test_merchant(
    db: Database,
    vault: SecretBox,
    *,
    email: str,
    api_key: str,
    api_secret: str,
    webhook_secret: str | None = None,
) -> bool:
    """Insert the contract's test merchant unless its email exists; True if it was inserted."""
    if await find_merchant_by_email(db, email) is not None:
        return False
    try:
        await create_merchant(
            db,
            vault,
            name=TEST_MERCHANT_NAME,
            email=email,
            actor="system:seed",
            merchant_id=TEST_MERCHANT_ID,
            api_key=api_key,
            api_secret=api_secret,
            webhook_secret=webhook_secret,
        )
    except Conflict:
        return False  # another process seeded it first
    return True
