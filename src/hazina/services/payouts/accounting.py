"""What a payout does on the ledger, in the caller's transaction, through the ledger's two-phase
holds (services.ledger.holds) and its one way of writing entries (postings).

- reserve (created): amount + fee move from the account's `available` to its `reserved` in a
  pending transfer whose destination is the provider's clearing account; an account that cannot
  cover it refuses (a guarded debit), and nothing is written.
- post (paid): the hold is posted to clearing, then the fee's part of it is moved to the
  provider's payout-fees account, so clearing is reduced by what the recipient got and the fees
  are an expense of their own.
- void (failed, canceled): the hold returns to `available`.
- give back (refunded, reversed after paid): one reversing transfer credits `available` again.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.models import Payout
from hazina.domain.ledger import AccountKind, Bucket
from hazina.services.ledger import holds
from hazina.services.ledger.postings import Leg, NewTransfer, Ref, SystemAccount, post

FEE = "payout_fee"
RETURN = "payout_return"


def _clearing(payout: Payout) -> SystemAccount:
    return SystemAccount(AccountKind.CLEARING, payout.currency, payout.provider)


def _fees(payout: Payout) -> SystemAccount:
    return SystemAccount(AccountKind.PAYOUT_FEES, payout.currency, payout.provider)


def _transfer(payout: Payout, kind: str) -> NewTransfer:
    return NewTransfer(
        merchant_id=payout.merchant_id,
        livemode=payout.livemode,
        kind=kind,
        currency=payout.currency,
        description=f"Payout {payout.id}",
    )


async def reserve(session: AsyncSession, payout: Payout) -> str:
    """Hold the amount and fee; raises InsufficientFunds (a 400) when the account's available
    balance cannot cover them. Answers the pending transfer's id."""
    return await holds.reserve(
        session,
        holds.Hold(
            merchant_id=payout.merchant_id,
            livemode=payout.livemode,
            account_id=payout.account_id,
            currency=payout.currency,
            amount=payout.amount + payout.fee,
            destination=_clearing(payout),
            description=f"Payout {payout.id}",
        ),
    )


async def post_reservation(session: AsyncSession, payout: Payout) -> None:
    assert payout.reservation_id is not None
    await holds.post_pending(session, payout.merchant_id, payout.reservation_id)
    await post(
        session,
        _transfer(payout, FEE),
        [
            Leg(Ref(system=_clearing(payout)), Bucket.AVAILABLE, -payout.fee),
            Leg(Ref(system=_fees(payout)), Bucket.AVAILABLE, payout.fee),
        ],
    )


async def void_reservation(session: AsyncSession, payout: Payout) -> None:
    assert payout.reservation_id is not None
    await holds.void_pending(session, payout.merchant_id, payout.reservation_id)


async def give_back(session: AsyncSession, payout: Payout) -> None:
    """The money came back after it was paid: credited to the account once (the payout's state
    machine allows one return per payout)."""
    await post(
        session,
        _transfer(payout, RETURN),
        [
            Leg(Ref(id=payout.account_id), Bucket.AVAILABLE, payout.amount + payout.fee),
            Leg(Ref(system=_clearing(payout)), Bucket.AVAILABLE, -payout.amount),
            Leg(Ref(system=_fees(payout)), Bucket.AVAILABLE, -payout.fee),
        ],
    )
