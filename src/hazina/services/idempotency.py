"""Idempotent creates: one key, one resource, one response replayed byte for byte.

The key row is inserted in the same transaction as the resource it guards. A concurrent request
with the same key waits on that insert (PostgreSQL) or on the write lock (SQLite), then finds the
committed row and replays it: two requests can never both create. A create that fails rolls its
key back with it, so a corrected retry is processed anew.
"""

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import IdempotencyKey
from hazina.db.prepared import Prepared, Row
from hazina.db.statements import insert_unless_exists
from hazina.domain.clock import utc_now
from hazina.domain.errors import BadRequest, Conflict
from hazina.services.resources import render

MAX_KEY_LENGTH = 255
_keys = cast(Table, IdempotencyKey.__table__)
_STORED = Prepared(
    select(_keys).where(
        _keys.c.merchant_id == bindparam("merchant_id"), _keys.c.key == bindparam("key")
    )
)

Create = Callable[[AsyncSession], Awaitable[tuple[int, dict[str, Any]]]]
# Stores the final response inside the caller's transaction.
StoreResponse = Callable[[AsyncSession, int, dict[str, Any]], Awaitable[None]]
# Runs after `create` committed (e.g. a provider call), then writes its own transaction, in
# which it calls the StoreResponse it was given.
Finish = Callable[[dict[str, Any], StoreResponse], Awaitable[tuple[int, dict[str, Any]]]]
# Runs once it is known that the request is not a stored replay, before anything is claimed:
# a rate limit counts (or refuses) only requests that may create.
Admit = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class IdempotencyRequest:
    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: bytes
    replayed: bool = False


def idempotency_request(
    key: str | None, route: str, body: dict[str, Any], *, public: bool = False
) -> IdempotencyRequest | None:
    """Validate the header and fingerprint the request it came with (route + canonical body).

    Keys sent to public (unauthenticated) endpoints live in a namespace of their own: an anonymous
    caller who guesses a merchant's key must not be able to block or read the merchant's request.
    """
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    if "\x00" in key:
        raise BadRequest("Idempotency-Key must not contain NUL characters")
    canonical = json.dumps([route, body], sort_keys=True, separators=(",", ":"))
    scoped = f"public:{key}" if public else key
    return IdempotencyRequest(
        key=scoped, fingerprint=hashlib.sha256(canonical.encode()).hexdigest()
    )


async def respond_once(
    db: Database,
    merchant_id: uuid.UUID,
    request: IdempotencyRequest | None,
    ttl: timedelta,
    create: Create,
    finish: Finish | None = None,
    abandoned_after: timedelta | None = None,
    admit: Admit | None = None,
) -> StoredResponse:
    """Run `create` once per key. With `finish`, the key stays claimed (concurrent duplicates
    get 409 "in progress", as Stripe answers) until `finish` stores the response; if `finish`
    raises, the claim is released so a retry is processed anew. A claim older than
    `abandoned_after` was left by a process that died mid-request: the key is processed anew.
    `admit` runs after the replay read, so a stored replay is answered without it."""
    if finish is not None:
        return await _respond_in_two_steps(
            db, merchant_id, request, ttl, create, finish, abandoned_after, admit
        )
    return await _claim(db, merchant_id, request, ttl, create, store_response=True, admit=admit)


async def stored_answer(
    db: Database, merchant_id: uuid.UUID, request: IdempotencyRequest | None
) -> StoredResponse | None:
    """The answer stored for this very request (same key, same body, finished, not expired), or
    None: for a request whose validation depends on the day, such as a card's expiry month, so
    a replay still gets what the first request got."""
    if request is None:
        return None
    stored = await db.fetch_one(_STORED, {"merchant_id": merchant_id, "key": request.key})
    if stored is None or not _replayable(stored) or stored.request_hash != request.fingerprint:
        return None
    return _replay_stored(stored, request)


def _replayable(stored: Row) -> bool:
    """A finished answer still within its key's lifetime."""
    return bool(stored.status_code) and stored.expires_at > utc_now()


async def _claim(
    db: Database,
    merchant_id: uuid.UUID,
    request: IdempotencyRequest | None,
    ttl: timedelta,
    create: Create,
    *,
    store_response: bool,
    abandoned_after: timedelta | None = None,
    admit: Admit | None = None,
) -> StoredResponse:
    """Replay a stored response, or claim the key and create in one transaction. Without
    `store_response` the claim keeps its placeholder for the second step to fill."""
    stored = None
    if request is not None:
        # Replays are answered by one prepared read: on SQLite they never queue for the writer.
        stored = await db.fetch_one(_STORED, {"merchant_id": merchant_id, "key": request.key})
        if stored is not None and _replayable(stored):
            return _replay_stored(stored, request)
    if admit is not None:
        await admit()

    async with db.transaction() as session:
        if request is None:
            status_code, body = await create(session)
            return StoredResponse(status_code, render(body))

        now = utc_now()
        scope = (IdempotencyKey.merchant_id == merchant_id, IdempotencyKey.key == request.key)
        # A key the read above did not find (the usual case) is claimed straight away: one
        # committed meanwhile is fresh, so the claim's conflict replays it. A key it found
        # (in progress, expired or abandoned) is read again under the transaction.
        existing = None
        if stored is not None:
            existing = await session.get(IdempotencyKey, (merchant_id, request.key))
        abandoned = (
            existing is not None
            and existing.status_code == 0
            and abandoned_after is not None
            and existing.created_at <= now - abandoned_after
        )
        if existing is not None and existing.expires_at > now and not abandoned:
            return _replay_stored(existing, request)
        if existing is not None:
            # Expired or abandoned; the condition again, in case another request replaced it.
            stale = IdempotencyKey.expires_at <= now
            if abandoned_after is not None:
                stale |= (IdempotencyKey.status_code == 0) & (
                    IdempotencyKey.created_at <= now - abandoned_after
                )
            await session.execute(delete(IdempotencyKey).where(*scope, stale))
        claimed = await insert_unless_exists(
            session,
            IdempotencyKey,
            {
                "merchant_id": merchant_id,
                "key": request.key,
                "request_hash": request.fingerprint,
                "status_code": 0,
                "response_body": "",
                "created_at": now,
                "expires_at": now + ttl,
            },
        )
        if not claimed:
            return await _replay(session, merchant_id, request)

        status_code, body = await create(session)
        rendered = render(body)
        if store_response:
            await _store(session, merchant_id, request, status_code, rendered)
        return StoredResponse(status_code, rendered)


async def _respond_in_two_steps(
    db: Database,
    merchant_id: uuid.UUID,
    request: IdempotencyRequest | None,
    ttl: timedelta,
    create: Create,
    finish: Finish,
    abandoned_after: timedelta | None,
    admit: Admit | None,
) -> StoredResponse:
    claimed: list[bool] = []

    async def claim_and_create(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        claimed.append(True)
        return await create(session)

    first = await _claim(
        db,
        merchant_id,
        request,
        ttl,
        claim_and_create,
        store_response=False,
        abandoned_after=abandoned_after,
        admit=admit,
    )
    if not claimed:
        return first  # a replay

    async def store(session: AsyncSession, status_code: int, body: dict[str, Any]) -> None:
        if request is not None:
            await _store(session, merchant_id, request, status_code, render(body))

    try:
        status_code, body = await finish(json.loads(first.body), store)
    except BaseException:
        if request is not None:
            async with db.transaction() as session:
                await session.execute(
                    delete(IdempotencyKey).where(
                        IdempotencyKey.merchant_id == merchant_id,
                        IdempotencyKey.key == request.key,
                        IdempotencyKey.status_code == 0,
                    )
                )
        raise
    return StoredResponse(status_code, render(body))


async def _store(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    request: IdempotencyRequest,
    status_code: int,
    rendered: bytes,
) -> None:
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.merchant_id == merchant_id, IdempotencyKey.key == request.key)
        .values(status_code=status_code, response_body=rendered.decode())
        .execution_options(synchronize_session=False)
    )


async def _replay(
    session: AsyncSession, merchant_id: uuid.UUID, request: IdempotencyRequest
) -> StoredResponse:
    # Another transaction committed this key after our first look (or replaced an expired one).
    stored = await session.get_one(
        IdempotencyKey, (merchant_id, request.key), populate_existing=True
    )
    return _replay_stored(stored, request)


def _replay_stored(stored: IdempotencyKey | Row, request: IdempotencyRequest) -> StoredResponse:
    if stored.request_hash != request.fingerprint:
        raise Conflict("Idempotency-Key was already used with a different request")
    if stored.status_code == 0:
        # Only reachable if another transaction's placeholder is visible, which the isolation
        # above rules out; answered as "in flight" rather than trusted.
        raise Conflict("A request with this Idempotency-Key is still in progress")
    return StoredResponse(stored.status_code, stored.response_body.encode(), replayed=True)
