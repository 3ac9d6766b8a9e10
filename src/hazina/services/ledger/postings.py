"""Writing a transfer: its row, its entries, and each account's balance columns, all in the
caller's transaction. The one way entries are written.

Each account a transfer touches is changed by ONE conditional UPDATE that adds the transfer's
amounts to its bucket columns, filtered on the account's merchant and currency, and, for a
guarded debit, on the bucket still covering it (`available + delta >= 0`). PostgreSQL re-checks
that condition on the newest row version after waiting for a concurrent writer's lock, and
SQLite has one writer at a time, so concurrent spends can never overdraw an account.

Accounts are updated in one global order (system accounts by key, then sub-accounts by id), so
two transfers touching the same accounts lock them in the same order and cannot deadlock.

A merchant's system accounts (clearing, revenue) are the hottest rows in the database: every
charge of the merchant updates them, and holds their locks until it commits. So the UPDATEs come
as late as they can (after the transfer row), and callers post as the last write of their
transaction where they can (services.settlement, a charge), so one payment's commit waits for
the previous one's UPDATE-to-COMMIT stretch only, not for its whole transaction.
"""

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, Update, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.models import LedgerAccount, LedgerEntry, LedgerTransfer
from hazina.db.statements import fresh_id, insert_unless_exists
from hazina.domain import ids
from hazina.domain.clock import utc_now
from hazina.domain.errors import BadRequest
from hazina.domain.ledger import AccountKind, Bucket

_accounts = cast(Table, LedgerAccount.__table__)
_transfers = cast(Table, LedgerTransfer.__table__)
_entries = cast(Table, LedgerEntry.__table__)
_INSERT_TRANSFER = insert(_transfers)
_INSERT_ENTRY = insert(_entries)


class InsufficientFunds(BadRequest):
    """A guarded debit found the account's bucket short: nothing was written."""


@dataclass(frozen=True, slots=True)
class SystemAccount:
    """One of the merchant's own accounts, created the first time money reaches it."""

    kind: AccountKind
    currency: str
    provider: str | None = None

    @property
    def key(self) -> str:
        parts = [self.kind.value, self.provider, self.currency]
        return ":".join(part for part in parts if part is not None)


@dataclass(frozen=True, slots=True)
class Ref:
    """An account by id (with its system key, if it is a system account, for the lock order),
    or a system account by what it is (created if missing; its id comes back from the UPDATE)."""

    id: str | None = None
    key: str | None = None
    system: SystemAccount | None = None

    @property
    def order(self) -> tuple[int, str]:
        key = self.system.key if self.system is not None else self.key
        return (1, cast(str, self.id)) if key is None else (0, key)


@dataclass(frozen=True, slots=True)
class Leg:
    """A signed amount on one bucket of one account: credits positive, debits negative.
    `guarded`: the bucket must still cover the debit, or the transfer is refused."""

    account: Ref
    bucket: Bucket
    amount: int
    guarded: bool = False


def _new_transfer_id() -> str:
    # Not looked up first: a transfer is on every payment's settlement, and two of 62^16 random
    # ids colliding is not worth a round trip; the primary key would refuse it anyway.
    return ids.new_id(ids.LEDGER_TRANSFER)


@dataclass(frozen=True, slots=True)
class NewTransfer:
    """`id` is known before the transfer is posted, so what names it (a job) can be written
    first and the balance rows locked last."""

    merchant_id: uuid.UUID
    livemode: bool
    kind: str
    currency: str
    status: str = "posted"
    payment_id: str | None = None
    refund_id: str | None = None
    order_id: str | None = None
    pending_id: str | None = None
    destination_account_id: str | None = None
    provider: str | None = None
    released_at: datetime | None = None
    description: str | None = None
    id: str = field(default_factory=_new_transfer_id)


@dataclass(frozen=True, slots=True)
class Posted:
    id: str
    # The id each leg's account turned out to have, in leg order.
    account_ids: tuple[str, ...]
    created_at: datetime


_BUCKETS = (Bucket.PENDING, Bucket.AVAILABLE, Bucket.RESERVED)


@functools.cache
def _balance_update(by_key: bool, guarded: frozenset[Bucket]) -> Update:
    """Add the deltas to one account's buckets, refusing (no row) if a guarded bucket would go
    below zero. Built once per shape."""
    statement = update(_accounts).where(
        _accounts.c.merchant_id == bindparam("b_merchant_id"),
        _accounts.c.currency == bindparam("b_currency"),
    )
    if by_key:
        statement = statement.where(_accounts.c.system_key == bindparam("b_system_key"))
    else:
        statement = statement.where(_accounts.c.id == bindparam("b_account_id"))
    for bucket in guarded:
        column = _accounts.c[bucket.value]
        statement = statement.where(column + bindparam(f"d_{bucket.value}") >= 0)
    values: dict[str, Any] = {
        bucket.value: _accounts.c[bucket.value] + bindparam(f"d_{bucket.value}")
        for bucket in _BUCKETS
    }
    values["updated_at"] = bindparam("now")
    return statement.values(values).returning(_accounts.c.id)


async def post(session: AsyncSession, new: NewTransfer, legs: Sequence[Leg]) -> Posted:
    """Write one transfer of `legs` (summing to zero) and move the balances it changes."""
    legs = [leg for leg in legs if leg.amount != 0]
    if sum(leg.amount for leg in legs) != 0:
        raise ValueError(f"a {new.kind} transfer's entries must sum to zero")
    now = utc_now()
    transfer_id = new.id
    # The transfer row first: the balance rows stay locked from their UPDATE to the commit.
    await session.execute(
        _INSERT_TRANSFER,
        {
            "id": transfer_id,
            "merchant_id": new.merchant_id,
            "livemode": new.livemode,
            "kind": new.kind,
            "status": new.status,
            "currency": new.currency,
            "amount": sum(leg.amount for leg in legs if leg.amount > 0),
            "payment_id": new.payment_id,
            "refund_id": new.refund_id,
            "order_id": new.order_id,
            "pending_id": new.pending_id,
            "destination_account_id": new.destination_account_id,
            "provider": new.provider,
            "reversed": 0,
            "released_at": new.released_at,
            "description": new.description,
            "created_at": now,
        },
    )
    ids_by_ref: dict[Ref, str] = {}
    for ref in sorted({leg.account for leg in legs}, key=lambda ref: ref.order):
        mine = [leg for leg in legs if leg.account == ref]
        ids_by_ref[ref] = await _move(session, new, ref, mine, now)
    if legs:
        await session.execute(
            _INSERT_ENTRY,
            [
                {
                    "transfer_id": transfer_id,
                    "account_id": ids_by_ref[leg.account],
                    "merchant_id": new.merchant_id,
                    "currency": new.currency,
                    "bucket": leg.bucket.value,
                    "amount": leg.amount,
                    "created_at": now,
                }
                for leg in legs
            ],
        )
    return Posted(transfer_id, tuple(ids_by_ref[leg.account] for leg in legs), now)


async def _move(
    session: AsyncSession, new: NewTransfer, ref: Ref, legs: Sequence[Leg], now: datetime
) -> str:
    deltas = {
        bucket: sum(leg.amount for leg in legs if leg.bucket == bucket) for bucket in _BUCKETS
    }
    guarded = frozenset(leg.bucket for leg in legs if leg.guarded and deltas[leg.bucket] < 0)
    params: dict[str, Any] = {
        "b_merchant_id": new.merchant_id,
        "b_currency": new.currency,
        "now": now,
        **{f"d_{bucket.value}": delta for bucket, delta in deltas.items()},
    }
    if ref.system is None:
        statement = _balance_update(False, guarded)
        found = await session.scalar(statement, params | {"b_account_id": ref.id})
        if found is None:
            raise await _refusal(session, new, cast(str, ref.id))
        return str(found)
    statement = _balance_update(True, guarded)
    params["b_system_key"] = ref.system.key
    found = await session.scalar(statement, params)
    if found is None:
        await _create_system_account(session, new, ref.system, now)
        found = await session.scalar(statement, params)
    if found is None:
        raise InsufficientFunds(f"The {ref.system.kind.value} account cannot cover this")
    return str(found)


async def system_account_id(
    session: AsyncSession, merchant_id: uuid.UUID, livemode: bool, system: SystemAccount
) -> str:
    """The id of one of the merchant's system accounts, created if it does not exist yet."""
    query = select(LedgerAccount.id).where(
        LedgerAccount.merchant_id == merchant_id, LedgerAccount.system_key == system.key
    )
    found = await session.scalar(query)
    if found is None:
        owner = NewTransfer(merchant_id, livemode, "", system.currency)
        await _create_system_account(session, owner, system, utc_now())
        found = await session.scalar(query)
    return cast(str, found)


async def _create_system_account(
    session: AsyncSession, new: NewTransfer, system: SystemAccount, now: datetime
) -> None:
    """Create it with zero balances unless a concurrent transaction just did (it then waits
    for that one, and the retried UPDATE finds its row)."""
    await insert_unless_exists(
        session,
        LedgerAccount,
        {
            "id": await fresh_id(session, LedgerAccount, ids.LEDGER_ACCOUNT),
            "merchant_id": new.merchant_id,
            "livemode": new.livemode,
            "kind": system.kind.value,
            "currency": system.currency,
            "system_key": system.key,
            "name": system.key,
            "reference": None,
            "notes": None,
            "pending": 0,
            "available": 0,
            "reserved": 0,
            "created_at": now,
            "updated_at": now,
        },
    )


async def _refusal(session: AsyncSession, new: NewTransfer, account_id: str) -> BadRequest:
    """Why a sub-account's UPDATE matched nothing: not this merchant's (or mode's), another
    currency, or short of funds."""
    account = await session.get(LedgerAccount, account_id)
    if account is None or account.merchant_id != new.merchant_id:
        return BadRequest(f"Unknown account: {account_id}")
    if account.currency != new.currency:
        return BadRequest(f"Account {account_id} holds {account.currency}, not {new.currency}")
    return InsufficientFunds(f"Insufficient funds in account {account_id}")
