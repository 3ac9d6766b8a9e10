"""What settlement posts: a payment's charge when it succeeds, the proportional reversal when
its refunds take money back (or give it back, when a refund fails), and the release of pending
money once the provider's settlement delay has passed.

Called from services.settlement only, inside the transaction that changes the payment, so the
ledger can never disagree with the payments. A plain order's charge is one transfer of two
entries (clearing → the merchant's revenue) and one `release_balance` job.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import (
    LedgerAccount,
    LedgerEntry,
    LedgerSetting,
    LedgerTransfer,
    Order,
    Payment,
)
from hazina.db.queue import complete_current_job, enqueue
from hazina.domain.clock import utc_now
from hazina.domain.events import EventType
from hazina.domain.ledger import (
    CREDIT,
    AccountKind,
    Bucket,
    OrderTerms,
    Purpose,
    Split,
    reversal,
    share,
)
from hazina.domain.states import PaymentStatus
from hazina.services.events import record_event
from hazina.services.ledger.postings import Leg, NewTransfer, Ref, SystemAccount, post
from hazina.services.notifications.triggers import notify_earnings

log = logging.getLogger("hazina.ledger")

CHARGE = "charge"
REFUND = "refund"
REFUND_RESTORED = "refund_restored"
RELEASE = "release"
RELEASE_BALANCE = "release_balance"
# A release retries for days rather than leave money pending: each run is one small transaction.
RELEASE_MAX_ATTEMPTS = 100
# After its last attempt a release starts over this much later: money is never left pending.
RELEASE_RETRY_AFTER = timedelta(hours=6)
# How often a release waiting on a payment in review looks again.
RELEASE_REVIEW_RECHECK = timedelta(hours=1)


async def post_charge(
    session: AsyncSession, payment: Payment, order: Order, *, captured: int | None = None
) -> None:
    """A (locked) payment succeeded: what it received leaves clearing (or the customer's wallet,
    for a credit payment) and is shared between the creators, the platform fee and the merchant,
    pending until the provider settles; a top-up credits its wallet at once. A manual-capture
    payment is charged when captured, for the `captured` amount (services.captures)."""
    received = payment.amount if payment.amount_received is None else payment.amount_received
    if captured is not None:
        received = captured
    currency = payment.received_currency or payment.currency
    if received <= 0:
        return
    # Splits are in the order's currency: money that came in another one (accepted on review)
    # is the merchant's alone.
    terms = None
    if order.ledger_terms is not None and currency == order.currency:
        terms = OrderTerms.from_json(order.ledger_terms)
    from_wallet = payment.provider == CREDIT
    earnings: tuple[Split, ...] = ()
    if from_wallet:
        source = Leg(Ref(id=payment.provider_reference), Bucket.AVAILABLE, -received, guarded=True)
    else:
        clearing = SystemAccount(AccountKind.CLEARING, currency, payment.provider)
        source = Leg(Ref(system=clearing), Bucket.AVAILABLE, -received)
    if terms is not None and terms.purpose == Purpose.TOP_UP:
        bucket = Bucket.AVAILABLE
        legs = [source, Leg(Ref(id=terms.customer_account_id), bucket, received)]
    else:
        # Nothing to wait for when the money never left the ledger.
        bucket = Bucket.AVAILABLE if from_wallet else Bucket.PENDING
        shares = share(received, order.amount, terms)
        earnings = shares.creators
        legs = [
            source,
            *(Leg(Ref(id=part.account_id), bucket, part.amount) for part in shares.creators),
            Leg(Ref(system=SystemAccount(AccountKind.PLATFORM_FEE, currency)), bucket, shares.fee),
            Leg(Ref(system=SystemAccount(AccountKind.REVENUE, currency)), bucket, shares.remainder),
        ]
    pending = bucket == Bucket.PENDING
    charge = NewTransfer(
        merchant_id=payment.merchant_id,
        livemode=payment.livemode,
        kind=CHARGE,
        currency=currency,
        payment_id=payment.id,
        order_id=order.id,
        provider=payment.provider,
        released_at=None if pending else utc_now(),
    )
    if pending:
        await enqueue(
            session, RELEASE_BALANCE, {"transfer_id": charge.id}, max_attempts=RELEASE_MAX_ATTEMPTS
        )
    if earnings:  # creators are told in the charge's transaction; a plain order reads nothing
        await notify_earnings(session, payment, currency, earnings, pending=pending)
    # Last: the merchant's clearing and revenue rows, locked by posting until the commit, are
    # what every charge of the merchant waits for.
    await post(session, charge, legs)


async def has_charge(session: AsyncSession, payment_id: str) -> bool:
    """Whether the payment's money is already in the ledger (a payment that went to review
    after succeeding, then accepted, must not be counted twice)."""
    found = await session.scalar(
        select(LedgerTransfer.id).where(
            LedgerTransfer.payment_id == payment_id, LedgerTransfer.kind == CHARGE
        )
    )
    return found is not None


async def reverse_refund(
    session: AsyncSession, payment: Payment, refund_id: str, amount: int
) -> None:
    """Refunds of a (locked) payment took `amount` more back (or, negative, gave it back: a
    refund failed). Each share is reversed in proportion (domain.ledger.reversal), from pending
    if the charge is not released yet, else from available (a creator may go negative: the debt
    nets against later earnings); the platform fee stays with the merchant if it keeps fees on
    refunds; the merchant's revenue takes the rest. A payment never charged (refunded as a
    duplicate, or from review) has nothing to reverse."""
    charge = await session.scalar(
        select(LedgerTransfer)
        .where(LedgerTransfer.payment_id == payment.id, LedgerTransfer.kind == CHARGE)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if charge is None or amount == 0:
        return
    before, after = charge.reversed, charge.reversed + amount
    keep_fees = await _keeps_fees(session, payment.merchant_id)
    bucket = Bucket.PENDING if charge.released_at is None else Bucket.AVAILABLE
    parts = await session.execute(
        select(
            LedgerEntry.account_id, LedgerEntry.amount, LedgerAccount.kind, LedgerAccount.system_key
        )
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerEntry.transfer_id == charge.id)
    )
    legs: list[Leg] = []
    taken = 0
    for account_id, part, kind, key in parts:
        ref = Ref(id=account_id, key=key)
        if part < 0:  # the source: clearing, or the wallet that paid
            legs.append(Leg(ref, Bucket.AVAILABLE, amount))
            continue
        if kind == AccountKind.REVENUE or (kind == AccountKind.PLATFORM_FEE and keep_fees):
            continue
        # A top-up's wallet was credited available at once, whatever the charge's bucket.
        part_bucket = Bucket.AVAILABLE if kind == AccountKind.CUSTOMER else bucket
        taken_back = reversal(part, charge.amount, before, after)
        legs.append(Leg(ref, part_bucket, -taken_back))
        taken += taken_back
    revenue = SystemAccount(AccountKind.REVENUE, charge.currency)
    legs.append(Leg(Ref(system=revenue), bucket, taken - amount))
    await post(
        session,
        NewTransfer(
            merchant_id=payment.merchant_id,
            livemode=payment.livemode,
            kind=REFUND if amount > 0 else REFUND_RESTORED,
            currency=charge.currency,
            payment_id=payment.id,
            refund_id=refund_id,
            order_id=charge.order_id,
        ),
        legs,
    )
    await session.execute(
        update(LedgerTransfer).where(LedgerTransfer.id == charge.id).values(reversed=after)
    )


async def _keeps_fees(session: AsyncSession, merchant_id: uuid.UUID) -> bool:
    keep = await session.scalar(
        select(LedgerSetting.keep_fees_on_refunds).where(LedgerSetting.merchant_id == merchant_id)
    )
    return bool(keep)


async def release_charge(
    db: Database, transfer_id: str, delay_for: Callable[[str | None], timedelta]
) -> None:
    """The `release_balance` job: once the charge's provider settlement delay has passed, what
    its payment still holds in pending (net of refunds meanwhile) becomes available, with a
    `balance.available` event; before then, the job is rescheduled for that moment, and while
    the payment is in review, for a later look."""
    async with db.transaction() as session:
        await complete_current_job(session)
        charge = await session.get(
            LedgerTransfer, transfer_id, with_for_update=True, populate_existing=True
        )
        if charge is None or charge.released_at is not None:
            return
        now = utc_now()
        due = charge.created_at + delay_for(charge.provider)
        # A payment in review may be money already returned outside Hazina (refunded or
        # disputed at the provider): it stays pending, out of reach of payouts, until resolved.
        # Read without a lock: settlement locks the payment before the charge, so locking it
        # here, after the charge, could deadlock. A review that begins just after this read
        # finds the money available, and its resolution reverses it from there.
        in_review = (
            await session.scalar(select(Payment.status).where(Payment.id == charge.payment_id))
            == PaymentStatus.REVIEW
        )
        if due > now or in_review:
            await enqueue(
                session,
                RELEASE_BALANCE,
                {"transfer_id": transfer_id},
                max_attempts=RELEASE_MAX_ATTEMPTS,
                run_at=max(due, now + RELEASE_REVIEW_RECHECK) if in_review else due,
            )
            return
        held = await session.execute(
            select(LedgerEntry.account_id, LedgerAccount.system_key, func.sum(LedgerEntry.amount))
            .join(LedgerTransfer, LedgerTransfer.id == LedgerEntry.transfer_id)
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .where(
                LedgerTransfer.payment_id == charge.payment_id,
                LedgerTransfer.merchant_id == charge.merchant_id,
                LedgerEntry.bucket == Bucket.PENDING,
            )
            .group_by(LedgerEntry.account_id, LedgerAccount.system_key)
        )
        released: list[dict[str, Any]] = []
        legs: list[Leg] = []
        for account_id, key, net in held:
            if not net:
                continue
            ref = Ref(id=account_id, key=key)
            legs += [Leg(ref, Bucket.PENDING, -int(net)), Leg(ref, Bucket.AVAILABLE, int(net))]
            released.append({"account_id": account_id, "amount": int(net)})
        await session.execute(
            update(LedgerTransfer).where(LedgerTransfer.id == charge.id).values(released_at=now)
        )
        if not legs:  # refunded in full before it settled
            return
        posted = await post(
            session,
            NewTransfer(
                merchant_id=charge.merchant_id,
                livemode=charge.livemode,
                kind=RELEASE,
                currency=charge.currency,
                payment_id=charge.payment_id,
                order_id=charge.order_id,
            ),
            legs,
        )
        await record_event(
            session,
            charge.merchant_id,
            EventType.BALANCE_AVAILABLE,
            posted.id,
            {
                "transfer_id": posted.id,
                "payment_id": charge.payment_id,
                "order_id": charge.order_id,
                "currency": charge.currency,
                "accounts": sorted(released, key=lambda item: str(item["account_id"])),
            },
            livemode=charge.livemode,
        )


async def give_up_release(db: Database, transfer_id: str) -> None:
    """The `release_balance` job ran out of attempts: the charge's money would stay pending for
    good, unseen. Say so loudly, and start a fresh job later, so the release is retried rather
    than lost (a charge released meanwhile, or gone, needs nothing)."""
    async with db.transaction() as session:
        charge = await session.get(
            LedgerTransfer, transfer_id, with_for_update=True, populate_existing=True
        )
        if charge is None or charge.released_at is not None:
            return
        run_at = utc_now() + RELEASE_RETRY_AFTER
        log.error(
            "release of charge %s (payment %s) failed on every attempt; retrying from %s",
            transfer_id,
            charge.payment_id,
            run_at.isoformat(),
        )
        await enqueue(
            session,
            RELEASE_BALANCE,
            {"transfer_id": transfer_id},
            max_attempts=RELEASE_MAX_ATTEMPTS,
            run_at=run_at,
        )
