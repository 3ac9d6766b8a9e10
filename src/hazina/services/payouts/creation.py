"""Creating a payout (validated, quoted, reserved) and cancelling one still pending; reading them.

A create asks the provider's preview for its fee first, outside any transaction; then ONE
transaction writes the payout, reserves amount + fee on the account (a guarded debit: an account
that cannot cover it answers 400 and nothing is written), records `payout.created` and enqueues
the `process_payout` job that sends it. Concurrent creates against one balance can never
reserve more than it holds.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import LedgerAccount, Payout
from hazina.domain import ids
from hazina.domain.clock import utc_now
from hazina.domain.errors import BadRequest, Conflict, NotFound, ProviderError
from hazina.domain.events import EventType
from hazina.domain.payouts import (
    BankAccount,
    Destination,
    DestinationType,
    MobileMoney,
    PayoutStart,
    PayoutStatus,
    TransferType,
)
from hazina.domain.phones import normalise_phone
from hazina.domain.providers import ProviderAccess, ProviderFailure
from hazina.services.events import record_event
from hazina.services.idempotency import IdempotencyRequest, StoredResponse, respond_once
from hazina.services.lookups import OwnedLookup
from hazina.services.orders import MAXIMUM_AMOUNT
from hazina.services.pages import Page, fetch_page
from hazina.services.payouts import accounting
from hazina.services.payouts.context import CLICKPESA, SANDBOX, PayoutContext
from hazina.services.payouts.settlement import lock_payout, move, schedule_check
from hazina.services.payouts.views import payout_view
from hazina.services.provider_access import access_for_merchant

# Mobile numbers without their country code are read as Tanzanian: ClickPesa's country.
DEFAULT_PHONE_REGION = "TZ"
_BIC = re.compile(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?")
_ACCOUNT_NUMBER = re.compile(r"[A-Za-z0-9]{5,34}")
_PAYOUTS = OwnedLookup(Payout, "Payout")


@dataclass(frozen=True, slots=True)
class NewPayout:
    account_id: str
    amount: int
    currency: str
    destination: dict[str, Any]
    # None: ClickPesa where the merchant has an account (its own or the deployment's), else the
    # sandbox in test mode.
    provider: str | None = None

    def fingerprint_body(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "amount": self.amount,
            "currency": self.currency,
            "destination": self.destination,
            "provider": self.provider,
        }


def parse_destination(raw: dict[str, Any]) -> Destination:
    """The request's destination, checked and normalised; BadRequest names the field."""
    kind = raw.get("type")
    if kind == DestinationType.MOBILE_MONEY:
        phone = raw.get("phone")
        if not isinstance(phone, str):
            raise BadRequest("destination.phone is required for mobile_money")
        try:
            return MobileMoney(normalise_phone(phone, region=DEFAULT_PHONE_REGION))
        except ValueError as exc:
            raise BadRequest(f"destination.phone {exc}") from None
    if kind == DestinationType.BANK:
        number, name = raw.get("account_number"), raw.get("account_name")
        bic, transfer = raw.get("bic"), raw.get("transfer_type", TransferType.ACH.value)
        if not isinstance(number, str) or not _ACCOUNT_NUMBER.fullmatch(number):
            raise BadRequest("destination.account_number must be 5 to 34 letters or digits")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise BadRequest("destination.account_name is required (at most 100 characters)")
        if not isinstance(bic, str) or not _BIC.fullmatch(bic):
            raise BadRequest("destination.bic must be a BIC (8 or 11 letters and digits)")
        if transfer not in {t.value for t in TransferType}:
            raise BadRequest("destination.transfer_type must be ACH or RTGS")
        return BankAccount(number, name.strip(), bic, TransferType(transfer))
    raise BadRequest('destination.type must be "mobile_money" or "bank"')


async def provider_for(
    db: Database, context: PayoutContext, merchant_id: uuid.UUID, livemode: bool, asked: str | None
) -> tuple[str, ProviderAccess]:
    """The provider asked for; unnamed, ClickPesa where the merchant has an account of this
    mode (its own or the deployment's), else the sandbox in test mode."""
    if asked == SANDBOX:
        if livemode:
            raise BadRequest("The sandbox pays out in test mode only")
        return SANDBOX, ProviderAccess(SANDBOX, None, "test", {})
    provider = asked or CLICKPESA
    context.adapter(provider)
    try:
        async with db.read() as session:
            access = await access_for_merchant(
                session,
                context.providers.vault,
                context.providers.registry,
                merchant_id,
                provider,
                livemode=livemode,
            )
    except BadRequest:
        if asked is not None or livemode:
            raise
        return SANDBOX, ProviderAccess(SANDBOX, None, "test", {})
    return provider, access


async def quote(
    db: Database,
    context: PayoutContext,
    merchant_id: uuid.UUID,
    livemode: bool,
    asked: str | None,
    start: PayoutStart,
) -> tuple[str, ProviderAccess, int]:
    """The provider that would send it, through which account, and the fee it charges (its
    preview, outside any transaction); a destination it refuses is a 400."""
    provider, access = await provider_for(db, context, merchant_id, livemode, asked)
    return provider, access, await fee_of(context, provider, access, start)


async def fee_of(
    context: PayoutContext, provider: str, access: ProviderAccess, start: PayoutStart
) -> int:
    """What `provider` charges for `start`; a destination or an amount it refuses (ClickPesa:
    a bank it does not pay to, cents) is a 400 naming it."""
    adapter = context.adapter(provider)
    try:
        if isinstance(start.destination, BankAccount):
            banks = await adapter.banks(access)
            if banks and start.destination.bic not in {bank.bic for bank in banks}:
                raise BadRequest(
                    f"destination.bic {start.destination.bic} is not a bank {provider} pays to"
                )
        return (await adapter.preview(access, start)).fee
    except ProviderFailure as exc:
        if exc.retryable:
            raise ProviderError(exc.description) from exc
        raise BadRequest(exc.description) from exc


async def create_payout(
    db: Database,
    context: PayoutContext,
    merchant_id: uuid.UUID,
    livemode: bool,
    new: NewPayout,
    idempotency: IdempotencyRequest | None,
    ttl: timedelta,
    *,
    source: str = "api",
) -> StoredResponse:
    """`source`: `api` (the merchant asked) or `schedule` (the account's payout schedule)."""
    if not 0 < new.amount <= MAXIMUM_AMOUNT:
        raise BadRequest(f"amount must be a positive integer of at most {MAXIMUM_AMOUNT}")
    destination = parse_destination(new.destination)
    payout_id = ids.new_id(ids.PAYOUT)
    start = PayoutStart(payout_id, new.amount, new.currency, destination)
    provider, access, fee = await quote(db, context, merchant_id, livemode, new.provider, start)
    if new.amount + fee > MAXIMUM_AMOUNT:
        raise BadRequest("amount and its fee are more than any account can hold")

    async def insert(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        account = await session.get(LedgerAccount, new.account_id)
        if account is None or account.merchant_id != merchant_id:
            raise BadRequest(f"Unknown account: {new.account_id}")
        if account.system_key is not None:
            raise BadRequest("Payouts are made from creator or customer accounts")
        if account.currency != new.currency:
            raise BadRequest(f"Account {account.id} holds {account.currency}, not {new.currency}")
        now = utc_now()
        payout = Payout(
            id=payout_id,
            merchant_id=merchant_id,
            livemode=livemode,
            account_id=account.id,
            amount=new.amount,
            fee=fee,
            currency=new.currency,
            destination=destination.to_json(),
            provider=provider,
            provider_account_id=access.account_id,
            status=PayoutStatus.PENDING.value,
            source=source,
            created_at=now,
            updated_at=now,
        )
        payout.reservation_id = await accounting.reserve(session, payout)
        session.add(payout)
        await session.flush()
        view = payout_view(payout)
        await record_event(
            session, merchant_id, EventType.PAYOUT_CREATED, payout.id, view, livemode=livemode
        )
        await schedule_check(session, payout.id, 0.0, 0)
        return 201, view

    return await respond_once(db, merchant_id, idempotency, ttl, insert)


async def cancel_payout(db: Database, merchant_id: uuid.UUID, payout_id: str) -> dict[str, Any]:
    """Only before it was sent: once its provider may have it, the provider decides."""
    async with db.transaction() as session:
        payout = await lock_payout(session, payout_id)
        if payout is None or payout.merchant_id != merchant_id:
            raise NotFound("Payout not found")
        if payout.status != PayoutStatus.PENDING or payout.submitted_at is not None:
            raise Conflict(f"Payout {payout_id} is {payout.status} and can no longer be canceled")
        await move(session, payout, PayoutStatus.CANCELED, "Canceled by the merchant")
        return payout_view(payout)


async def get_payout(db: Database, merchant_id: uuid.UUID, payout_id: str) -> dict[str, Any]:
    return payout_view(await _PAYOUTS.load(db, merchant_id, payout_id))


async def list_payouts(
    db: Database,
    merchant_id: uuid.UUID,
    limit: int,
    offset: int,
    *,
    account_id: str | None = None,
    status: str | None = None,
) -> Page:
    filters = [Payout.merchant_id == merchant_id]
    if account_id is not None:
        filters.append(Payout.account_id == account_id)
    if status is not None:
        filters.append(Payout.status == status)
    async with db.read() as session:
        return await fetch_page(
            session,
            Payout,
            filters,
            [Payout.created_at.desc(), Payout.id.desc()],
            payout_view,
            limit,
            offset,
        )
