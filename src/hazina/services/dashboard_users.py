"""Dashboard users: people who log in to a merchant's dashboard with an email and a password.

Passwords are argon2id hashes (services/passwords.py). An unknown email costs one verification
too, against a fixed hash, so response time does not tell which emails exist. How many attempts
are allowed is services/login_limits.py's business, before anything here runs.
"""

import asyncio
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from hazina.db.database import Database
from hazina.db.models import DashboardUser, Merchant
from hazina.domain.clock import utc_now
from hazina.domain.errors import AuthenticationFailed, Conflict
from hazina.services.audit import record_audit
from hazina.services.passwords import (
    ABSENT_USER_HASH,
    PasswordChecks,
    hash_password,
    needs_rehash,
    seed_hash,
)

INVALID_LOGIN = "Invalid email or password"


@dataclass(frozen=True, slots=True)
class DashboardIdentity:
    user_id: uuid.UUID
    email: str
    # The twin of the mode the dashboard shows: every page scopes its rows by it.
    merchant_id: uuid.UUID
    merchant_name: str
    api_key: str
    livemode: bool
    # The user's session version when this was read: a session holding another one has ended.
    session_version: int


def normalise_email(email: str) -> str:
    return email.strip().lower()


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
    password_hash = await asyncio.to_thread(seed_hash, password)
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
        user.id,
        user.email,
        merchant.id,
        merchant.name,
        merchant.api_key,
        merchant.livemode,
        user.session_version,
    )


async def log_in(
    db: Database, checks: PasswordChecks, email: str, password: str
) -> DashboardIdentity:
    """The user with this email and password, if both it and its merchant are active."""
    async with db.read() as session:
        row = (
            await session.execute(_IDENTITY.where(DashboardUser.email == normalise_email(email)))
        ).first()
    matches = await checks.matches(row[0].password_hash if row else ABSENT_USER_HASH, password)
    if row is None or not matches:
        raise AuthenticationFailed(INVALID_LOGIN)
    user, merchant = row
    if not (user.is_active and merchant.is_active):
        raise AuthenticationFailed(INVALID_LOGIN)
    values: dict[str, object] = {"last_login_at": utc_now()}
    if needs_rehash(user.password_hash):
        values["password_hash"] = await checks.hash(password)
    async with db.transaction() as session:
        await session.execute(
            update(DashboardUser)
            .where(DashboardUser.id == user.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return _identity(user, merchant)


async def find_dashboard_user(
    db: Database, user_id: uuid.UUID, session_version: int, *, livemode: bool = False
) -> DashboardIdentity | None:
    """The session's user seeing its account's twin of that mode, or None once it (or its
    merchant) has been deactivated, or once the session's version has been ended."""
    async with db.read() as session:
        row = (
            await session.execute(
                _IN_MODE.where(
                    DashboardUser.id == user_id,
                    DashboardUser.session_version == session_version,
                    Merchant.livemode.is_(livemode),
                    DashboardUser.is_active.is_(True),
                    Merchant.is_active.is_(True),
                )
            )
        ).first()
    return None if row is None else _identity(*row)


async def end_sessions(db: Database, user_id: uuid.UUID, session_version: int) -> None:
    """Log out every session of the user (`/logout`). Only a current session can: one that has
    already ended cannot end the user's newer ones."""
    async with db.transaction() as session:
        await session.execute(
            update(DashboardUser)
            .where(DashboardUser.id == user_id, DashboardUser.session_version == session_version)
            .values(session_version=DashboardUser.session_version + 1)
            .execution_options(synchronize_session=False)
        )


async def change_password(
    db: Database, checks: PasswordChecks, user: DashboardIdentity, current: str, new: str
) -> int:
    """Replace the user's password when `current` is right, ending every other session with one
    version bump; audited. Returns the new session version, for the session that asked."""
    async with db.read() as session:
        stored = await session.get_one(DashboardUser, user.user_id)
    if not await checks.matches(stored.password_hash, current):
        raise AuthenticationFailed("The current password is not right")
    new_hash = await checks.hash(new)
    async with db.transaction() as session:
        version = await session.scalar(
            update(DashboardUser)
            .where(
                DashboardUser.id == user.user_id,
                DashboardUser.session_version == user.session_version,
            )
            .values(password_hash=new_hash, session_version=DashboardUser.session_version + 1)
            .returning(DashboardUser.session_version)
            .execution_options(synchronize_session=False)
        )
        if version is None:
            raise Conflict("This session has ended: log in again")
        record_audit(
            session,
            actor=f"dashboard_user:{user.user_id}",
            action="dashboard_user.password_changed",
            target=f"dashboard_user:{user.user_id}",
            merchant_id=stored.merchant_id,
        )
    return version
