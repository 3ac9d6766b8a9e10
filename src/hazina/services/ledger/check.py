"""`hazina ledger check`: recompute every balance from its entries and every transfer's sum,
check the ledger against the payments, and name the first thing broken. Run nightly by the
janitor; each outcome is stored (`ledger_checks`) so /health shows the latest whichever process
answers."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import LedgerAccount, LedgerCheck, LedgerEntry, LedgerTransfer, Payment
from hazina.domain.clock import iso_z, utc_now
from hazina.domain.ledger import Bucket
from hazina.domain.states import PaymentStatus
from hazina.services.captures import MANUAL
from hazina.services.ledger.charges import CHARGE, REFUND, REFUND_RESTORED

log = logging.getLogger("hazina.ledger")


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    accounts: int
    transfers: int
    # The first broken account (or transfer) and how, when not ok.
    problem: str | None
    checked_at: datetime


def _bucket_sum(bucket: Bucket) -> Any:
    return func.coalesce(
        func.sum(case((LedgerEntry.bucket == bucket.value, LedgerEntry.amount), else_=0)), 0
    )


async def check_ledger(db: Database) -> CheckResult:
    """Every account's three balance columns equal to its entries' sums per bucket, every
    entry in its account's and its transfer's currency, every transfer summing to zero, then
    the ledger against the payments. The first account broken (by id) is named, then the first
    transfer, then the first payment."""
    sums = (
        select(
            LedgerEntry.account_id.label("account_id"),
            _bucket_sum(Bucket.PENDING).label("pending"),
            _bucket_sum(Bucket.AVAILABLE).label("available"),
            _bucket_sum(Bucket.RESERVED).label("reserved"),
        )
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    pending = func.coalesce(sums.c.pending, 0)
    available = func.coalesce(sums.c.available, 0)
    reserved = func.coalesce(sums.c.reserved, 0)
    async with db.read() as session:
        accounts = int(await session.scalar(select(func.count()).select_from(LedgerAccount)) or 0)
        transfers = int(await session.scalar(select(func.count()).select_from(LedgerTransfer)) or 0)
        broken = (
            await session.execute(
                select(
                    LedgerAccount.id,
                    LedgerAccount.pending,
                    LedgerAccount.available,
                    LedgerAccount.reserved,
                    pending,
                    available,
                    reserved,
                )
                .outerjoin(sums, sums.c.account_id == LedgerAccount.id)
                .where(
                    or_(
                        LedgerAccount.pending != pending,
                        LedgerAccount.available != available,
                        LedgerAccount.reserved != reserved,
                    )
                )
                .order_by(LedgerAccount.id)
                .limit(1)
            )
        ).first()
        problem = None
        if broken is not None:
            account_id, *columns = broken
            problem = (
                f"account {account_id}: balances (pending, available, reserved) "
                f"{tuple(columns[:3])} but its entries sum to {tuple(columns[3:])}"
            )
        if problem is None:
            mixed = await session.scalar(
                select(LedgerEntry.account_id)
                .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
                .join(LedgerTransfer, LedgerTransfer.id == LedgerEntry.transfer_id)
                .where(
                    or_(
                        LedgerEntry.currency != LedgerAccount.currency,
                        LedgerEntry.currency != LedgerTransfer.currency,
                    )
                )
                .order_by(LedgerEntry.account_id)
                .limit(1)
            )
            if mixed is not None:
                problem = f"account {mixed}: an entry in another currency"
        if problem is None:
            unbalanced = (
                await session.execute(
                    select(LedgerEntry.transfer_id, func.sum(LedgerEntry.amount))
                    .group_by(LedgerEntry.transfer_id)
                    .having(func.sum(LedgerEntry.amount) != 0)
                    .order_by(LedgerEntry.transfer_id)
                    .limit(1)
                )
            ).first()
            if unbalanced is not None:
                problem = f"transfer {unbalanced[0]}: entries sum to {unbalanced[1]}, not zero"
        if problem is None:
            problem = await _against_payments(session)
    return CheckResult(problem is None, accounts, transfers, problem, utc_now())


async def _against_payments(session: AsyncSession) -> str | None:
    """The ledger against the payments, one aggregating query each, naming the first payment
    (by id) that disagrees: a counted payment without its charge, a charge on a payment that
    does not count, or refund transfers that do not add up to the payment's refunds."""
    # What settlement counts: captured money. An authorisation is charged when captured.
    counted = or_(Payment.capture_method != MANUAL, Payment.captured.is_(True))
    # Payments from before a merchant's ledger began (its first account) were never charged.
    began = (
        select(
            LedgerAccount.merchant_id.label("merchant_id"),
            func.min(LedgerAccount.created_at).label("at"),
        )
        .group_by(LedgerAccount.merchant_id)
        .subquery()
    )
    charged = exists().where(LedgerTransfer.payment_id == Payment.id, LedgerTransfer.kind == CHARGE)
    uncharged = await session.scalar(
        select(Payment.id)
        .join(began, began.c.merchant_id == Payment.merchant_id)
        .where(
            Payment.status == PaymentStatus.SUCCESS,
            Payment.created_at >= began.c.at,
            counted,
            func.coalesce(Payment.amount_received, Payment.amount) > 0,
            ~charged,
        )
        .order_by(Payment.id)
        .limit(1)
    )
    if uncharged is not None:
        return f"payment {uncharged}: succeeded and counted, but the ledger has no charge for it"
    # A payment charged before it went to review (over-refunded, a refund unconfirmed) keeps
    # its charge while a human decides.
    kept = (PaymentStatus.SUCCESS, PaymentStatus.REFUNDED, PaymentStatus.REVIEW)
    stray = (
        await session.execute(
            select(Payment.id, Payment.status, Payment.capture_method, Payment.captured)
            .join(LedgerTransfer, LedgerTransfer.payment_id == Payment.id)
            .where(LedgerTransfer.kind == CHARGE, or_(Payment.status.not_in(kept), ~counted))
            .order_by(Payment.id)
            .limit(1)
        )
    ).first()
    if stray is not None:
        payment_id, status, method, captured = stray
        return (
            f"payment {payment_id}: charged, but it is {status} "
            f"(capture {method}, captured {captured})"
        )
    # Each refund (pending or processed: the payment's amount_refunded) was reversed when it
    # was made and restored if it failed, so their net is exactly amount_refunded, and the
    # charge's running total (`reversed`) says the same.
    net = func.sum(
        case(
            (LedgerTransfer.kind == REFUND, LedgerTransfer.amount),
            else_=-LedgerTransfer.amount,
        )
    )
    reversals = (
        select(LedgerTransfer.payment_id.label("payment_id"), net.label("net"))
        .where(LedgerTransfer.kind.in_((REFUND, REFUND_RESTORED)))
        .group_by(LedgerTransfer.payment_id)
        .subquery()
    )
    reversed_total = func.coalesce(reversals.c.net, 0)
    off = (
        await session.execute(
            select(Payment.id, Payment.amount_refunded, reversed_total, LedgerTransfer.reversed)
            .join(
                LedgerTransfer,
                and_(LedgerTransfer.payment_id == Payment.id, LedgerTransfer.kind == CHARGE),
            )
            .outerjoin(reversals, reversals.c.payment_id == Payment.id)
            .where(
                or_(
                    reversed_total != Payment.amount_refunded,
                    reversed_total != LedgerTransfer.reversed,
                )
            )
            .order_by(Payment.id)
            .limit(1)
        )
    ).first()
    if off is not None:
        payment_id, refunded, net_reversed, on_charge = off
        return (
            f"payment {payment_id}: refunds of {refunded}, but its refund transfers reverse "
            f"{net_reversed} (its charge records {on_charge})"
        )
    return None


async def record_check(db: Database) -> CheckResult:
    """Check, store the outcome, and log it (an error when broken)."""
    result = await check_ledger(db)
    async with db.transaction() as session:
        await session.execute(
            insert(LedgerCheck).values(
                ok=result.ok,
                accounts=result.accounts,
                transfers=result.transfers,
                problem=result.problem,
                checked_at=result.checked_at,
            )
        )
    if result.ok:
        log.info(
            "ledger check passed: %d accounts, %d transfers", result.accounts, result.transfers
        )
    else:
        log.error("ledger check FAILED: %s", result.problem)
    return result


async def check_if_due(db: Database, every: timedelta) -> CheckResult | None:
    """The janitor's nightly check: run it if the last one is older than `every`."""
    async with db.read() as session:
        last = await session.scalar(
            select(LedgerCheck.checked_at).order_by(LedgerCheck.checked_at.desc()).limit(1)
        )
    if last is not None and last > utc_now() - every:
        return None
    return await record_check(db)


async def last_check(db: Database) -> dict[str, Any] | None:
    """The latest outcome, as /health shows it; None before the first check."""
    async with db.read() as session:
        latest = await session.scalar(
            select(LedgerCheck).order_by(LedgerCheck.checked_at.desc(), LedgerCheck.id.desc())
        )
    if latest is None:
        return None
    return {"ok": latest.ok, "problem": latest.problem, "checked_at": iso_z(latest.checked_at)}
