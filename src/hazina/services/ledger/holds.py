"""Two-phase transfers (TigerBeetle's pending → post / void), for money that must be set aside
before it is known whether it leaves: a payout reserves a creator's available balance, then
posts it to its destination once the money went, or voids it to give it back.

`reserve` is a guarded debit: it never overdraws the account, however many run at once
(postings). Each call takes the caller's transaction; the pending transfer's row is locked by
`post_pending` / `void_pending`, so a hold is settled exactly once.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.models import LedgerAccount, LedgerEntry, LedgerTransfer
from hazina.domain.errors import BadRequest, NotFound
from hazina.domain.ledger import Bucket
from hazina.services.ledger.postings import (
    Leg,
    NewTransfer,
    Ref,
    SystemAccount,
    post,
    system_account_id,
)

RESERVE = "reserve"
POST = "post"
VOID = "void"
PENDING = "pending"
POSTED = "posted"
VOIDED = "voided"


@dataclass(frozen=True, slots=True)
class Hold:
    merchant_id: uuid.UUID
    livemode: bool
    account_id: str
    currency: str
    amount: int
    # Where the money goes when posted: a system account (payouts in transit) or an account id.
    destination: SystemAccount | str
    description: str | None = None


async def reserve(session: AsyncSession, hold: Hold) -> str:
    """Move `amount` of the account's available balance to reserved, in a pending transfer;
    refused with InsufficientFunds (400) if available does not cover it. Answers its id."""
    if hold.amount <= 0:
        raise BadRequest("amount must be a positive integer")
    destination = await _destination_id(session, hold)
    account = Ref(id=hold.account_id)
    posted = await post(
        session,
        NewTransfer(
            merchant_id=hold.merchant_id,
            livemode=hold.livemode,
            kind=RESERVE,
            currency=hold.currency,
            status=PENDING,
            destination_account_id=destination,
            description=hold.description,
        ),
        [
            Leg(account, Bucket.AVAILABLE, -hold.amount, guarded=True),
            Leg(account, Bucket.RESERVED, hold.amount),
        ],
    )
    return posted.id


async def _destination_id(session: AsyncSession, hold: Hold) -> str:
    if isinstance(hold.destination, SystemAccount):
        return await system_account_id(session, hold.merchant_id, hold.livemode, hold.destination)
    found = await session.scalar(
        select(LedgerAccount.id).where(
            LedgerAccount.id == hold.destination,
            LedgerAccount.merchant_id == hold.merchant_id,
            LedgerAccount.currency == hold.currency,
        )
    )
    if found is None:
        raise BadRequest(f"Unknown {hold.currency} account: {hold.destination}")
    return found


async def post_pending(session: AsyncSession, merchant_id: uuid.UUID, pending_id: str) -> str:
    """The reserved money leaves the account for the hold's destination (available there).
    Idempotent: posting a posted hold answers the transfer that posted it."""
    return await _settle(session, merchant_id, pending_id, POST)


async def void_pending(session: AsyncSession, merchant_id: uuid.UUID, pending_id: str) -> str:
    """The reserved money goes back to the account's available balance. Idempotent."""
    return await _settle(session, merchant_id, pending_id, VOID)


async def _settle(session: AsyncSession, merchant_id: uuid.UUID, pending_id: str, kind: str) -> str:
    hold = await session.scalar(
        select(LedgerTransfer)
        .where(
            LedgerTransfer.id == pending_id,
            LedgerTransfer.merchant_id == merchant_id,
            LedgerTransfer.kind == RESERVE,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if hold is None:
        raise NotFound("Pending transfer not found")
    wanted = POSTED if kind == POST else VOIDED
    if hold.status != PENDING:
        done = await session.scalar(
            select(LedgerTransfer.id).where(
                LedgerTransfer.pending_id == pending_id, LedgerTransfer.kind == kind
            )
        )
        if hold.status != wanted or done is None:
            raise BadRequest(f"Pending transfer {pending_id} is already {hold.status}")
        return done
    source_id = await session.scalar(
        select(LedgerEntry.account_id).where(
            LedgerEntry.transfer_id == pending_id, LedgerEntry.bucket == Bucket.RESERVED
        )
    )
    source = Ref(id=source_id)
    if kind == POST:
        key = await session.scalar(
            select(LedgerAccount.system_key).where(LedgerAccount.id == hold.destination_account_id)
        )
        to = Leg(Ref(id=hold.destination_account_id, key=key), Bucket.AVAILABLE, hold.amount)
    else:
        to = Leg(source, Bucket.AVAILABLE, hold.amount)
    posted = await post(
        session,
        NewTransfer(
            merchant_id=merchant_id,
            livemode=hold.livemode,
            kind=kind,
            currency=hold.currency,
            pending_id=pending_id,
            destination_account_id=hold.destination_account_id,
        ),
        [Leg(source, Bucket.RESERVED, -hold.amount), to],
    )
    await session.execute(
        update(LedgerTransfer).where(LedgerTransfer.id == pending_id).values(status=wanted)
    )
    return posted.id
