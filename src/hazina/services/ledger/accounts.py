"""Ledger accounts: the sub-accounts a merchant creates (creators, customer wallets) and reading
any of its accounts with their balances."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import LedgerAccount
from hazina.db.statements import fresh_id
from hazina.domain import ids
from hazina.domain.clock import utc_now
from hazina.domain.currencies import is_currency
from hazina.domain.errors import BadRequest, NotFound
from hazina.domain.events import EventType
from hazina.domain.ledger import SUB_ACCOUNT_KINDS, AccountKind, OrderTerms
from hazina.services.events import record_event
from hazina.services.idempotency import IdempotencyRequest, StoredResponse, respond_once
from hazina.services.ledger.views import account_view
from hazina.services.pages import Page, fetch_page

# The merchant's own accounts, whose sums `GET /api/v1/balance` shows.
OWN_KINDS = (AccountKind.REVENUE, AccountKind.PLATFORM_FEE)


@dataclass(frozen=True, slots=True)
class NewAccount:
    kind: str
    currency: str
    name: str | None = None
    reference: str | None = None
    notes: dict[str, Any] | None = None

    def fingerprint_body(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "currency": self.currency,
            "name": self.name,
            "reference": self.reference,
            "notes": self.notes,
        }


def _validate(new: NewAccount) -> AccountKind:
    kinds = ", ".join(kind.value for kind in SUB_ACCOUNT_KINDS)
    if new.kind not in {kind.value for kind in SUB_ACCOUNT_KINDS}:
        raise BadRequest(f"kind must be one of: {kinds}")
    if not is_currency(new.currency):
        raise BadRequest("currency must be an active ISO 4217 code in capitals, such as USD")
    return AccountKind(new.kind)


async def create_account(
    db: Database,
    merchant_id: uuid.UUID,
    new: NewAccount,
    idempotency: IdempotencyRequest | None,
    ttl: timedelta,
    *,
    livemode: bool,
) -> StoredResponse:
    """A creator or customer sub-account, with its `account.created` event."""
    kind = _validate(new)

    async def insert(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        now = utc_now()
        account = LedgerAccount(
            id=await fresh_id(session, LedgerAccount, ids.LEDGER_ACCOUNT),
            merchant_id=merchant_id,
            livemode=livemode,
            kind=kind.value,
            currency=new.currency,
            name=new.name,
            reference=new.reference,
            notes=new.notes,
            pending=0,
            available=0,
            reserved=0,
            created_at=now,
            updated_at=now,
        )
        session.add(account)
        await session.flush()
        view = account_view(account)
        await record_event(
            session, merchant_id, EventType.ACCOUNT_CREATED, account.id, view, livemode=livemode
        )
        return 201, view

    return await respond_once(db, merchant_id, idempotency, ttl, insert)


async def load_account(
    session: AsyncSession, merchant_id: uuid.UUID, account_id: str
) -> LedgerAccount:
    account = await session.scalar(
        select(LedgerAccount).where(
            LedgerAccount.id == account_id, LedgerAccount.merchant_id == merchant_id
        )
    )
    if account is None:
        raise NotFound("Account not found")
    return account


async def get_account(db: Database, merchant_id: uuid.UUID, account_id: str) -> dict[str, Any]:
    async with db.read() as session:
        return account_view(await load_account(session, merchant_id, account_id))


async def list_accounts(
    db: Database, merchant_id: uuid.UUID, kind: str | None, limit: int, offset: int
) -> Page:
    filters = [LedgerAccount.merchant_id == merchant_id]
    if kind is not None:
        filters.append(LedgerAccount.kind == kind)
    async with db.read() as session:
        return await fetch_page(
            session,
            LedgerAccount,
            filters,
            [LedgerAccount.created_at.desc(), LedgerAccount.id.desc()],
            account_view,
            limit,
            offset,
        )


async def get_balance(db: Database, merchant_id: uuid.UUID, *, livemode: bool) -> dict[str, Any]:
    """The merchant's own money per currency (revenue and platform fees), and every system
    account (clearing per provider, payouts in transit) with its balances."""
    async with db.read() as session:
        accounts = list(
            await session.scalars(
                select(LedgerAccount)
                .where(
                    LedgerAccount.merchant_id == merchant_id,
                    LedgerAccount.system_key.is_not(None),
                )
                .order_by(LedgerAccount.system_key)
            )
        )
    totals: dict[str, dict[str, int]] = {}
    for account in accounts:
        if account.kind in OWN_KINDS:
            total = totals.setdefault(
                account.currency, {"pending": 0, "available": 0, "reserved": 0}
            )
            total["pending"] += account.pending
            total["available"] += account.available
            total["reserved"] += account.reserved
    return {
        "object": "balance",
        "livemode": livemode,
        **{
            bucket: [
                {"currency": currency, "amount": total[bucket]}
                for currency, total in sorted(totals.items())
            ]
            for bucket in ("available", "pending", "reserved")
        },
        "accounts": [account_view(account) for account in accounts],
    }


async def check_order_accounts(
    session: AsyncSession, merchant_id: uuid.UUID, terms: OrderTerms, currency: str
) -> None:
    """An order's splits name creator accounts, and a top-up a customer account, of this
    merchant and mode, in the order's currency: else a clear 400 and no order."""
    wanted = {split.account_id: AccountKind.CREATOR for split in terms.splits}
    if terms.customer_account_id is not None:
        wanted[terms.customer_account_id] = AccountKind.CUSTOMER
    if not wanted:
        return
    found = {
        account.id: account
        for account in await session.scalars(
            select(LedgerAccount).where(
                LedgerAccount.merchant_id == merchant_id, LedgerAccount.id.in_(list(wanted))
            )
        )
    }
    for account_id, kind in wanted.items():
        account = found.get(account_id)
        if account is None:
            raise BadRequest(f"Unknown account: {account_id}")
        if account.kind != kind:
            use = (
                "splits go to creator accounts"
                if kind == AccountKind.CREATOR
                else ("a top-up credits a customer account")
            )
            raise BadRequest(f"Account {account_id} is a {account.kind} account: {use}")
        if account.currency != currency:
            raise BadRequest(
                f"Account {account_id} holds {account.currency}, not the order's {currency}"
            )
