"""Refunds: returning money against a successful payment, partially and many times over.

The refundable balance lives on the payment (`amount_refunded`, pending + processed refunds) and
is reserved by ONE conditional UPDATE that only matches while `amount_refunded + x <= amount`.
PostgreSQL re-checks that condition on the latest row version after waiting for a concurrent
reservation's row lock, and SQLite runs one writer at a time, so concurrent refunds can never
promise more than the payment took — without a read-then-write race.
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import Payment, Refund
from hazina.db.queue import complete_current_job
from hazina.domain.clock import utc_now
from hazina.domain.errors import BadRequest, HazinaError, NotFound
from hazina.domain.ledger import CREDIT
from hazina.domain.providers import (
    ProviderAccess,
    ProviderEventKind,
    ProviderFailure,
    RefundStart,
    own_report,
)
from hazina.domain.states import PaymentStatus, RefundStatus
from hazina.services import resources
from hazina.services.idempotency import IdempotencyRequest, StoredResponse, respond_once
from hazina.services.lookups import OwnedLookup
from hazina.services.pages import Page, fetch_page
from hazina.services.ports import PaymentProvider, SimulatedProcessor
from hazina.services.provider_access import access_for_payment
from hazina.services.provider_payments import ProviderContext
from hazina.services.reconciliation import schedule_refund_reconciliation
from hazina.services.registry import SANDBOX, ProviderRegistry

# The job kind lives beside `add_refund`, which enqueues it; re-exported for the worker.
from hazina.services.settlement import PROCESS_REFUND as PROCESS_REFUND
from hazina.services.settlement import (
    Scope,
    add_refund,
    apply_report,
    settle_refund,
)

log = logging.getLogger("hazina.refunds")

EXCEEDS_AVAILABLE = "Refund amount exceeds available amount"
NOT_REFUNDABLE = "Payment not in refundable state: only successful payments can be refunded"
NOT_CAPTURED = "Payment not in refundable state: it is authorised but not captured"
# Amounts are BIGINT columns; a larger number cannot fit any payment and would overflow the SQL.
MAX_MINOR_UNITS = 2**63 - 1
MAX_REASON_LENGTH = 1000


@dataclass(frozen=True, slots=True)
class NewRefund:
    amount: int
    reason: str | None = None

    def fingerprint_body(self) -> dict[str, Any]:
        return {"amount": self.amount, "reason": self.reason}


def validate_refund(new: NewRefund) -> None:
    if new.amount <= 0:
        raise BadRequest("amount must be a positive integer")
    if new.reason is not None and len(new.reason) > MAX_REASON_LENGTH:
        raise BadRequest(f"reason must be at most {MAX_REASON_LENGTH} characters")


async def _reserve(
    session: AsyncSession, merchant_id: uuid.UUID, payment_id: str, amount: int
) -> bool:
    """Add `amount` to the payment's refunded total if it still fits; False if it does not."""
    if amount > MAX_MINOR_UNITS:
        return False
    reserved = await session.execute(
        update(Payment)
        .where(
            Payment.id == payment_id,
            Payment.merchant_id == merchant_id,
            Payment.status == PaymentStatus.SUCCESS,
            # Money only authorised (manual capture, not captured) cannot be sent back.
            or_(Payment.capture_method != "manual", Payment.captured.is_(True)),
            # What was captured (a partial manual capture), else what the provider reported
            # receiving when that differs (a payment under review).
            Payment.amount_refunded + amount
            <= func.coalesce(Payment.amount_captured, Payment.amount_received, Payment.amount),
        )
        .values(amount_refunded=Payment.amount_refunded + amount, updated_at=utc_now())
        .execution_options(synchronize_session=False)
    )
    return bool(reserved.rowcount)  # type: ignore[attr-defined]


async def _refusal(session: AsyncSession, merchant_id: uuid.UUID, payment_id: str) -> HazinaError:
    """Why a reservation matched no row: no such payment, wrong state, or not enough left."""
    found = (
        await session.execute(
            select(Payment.status, Payment.capture_method, Payment.captured).where(
                Payment.id == payment_id, Payment.merchant_id == merchant_id
            )
        )
    ).first()
    if found is None:
        return NotFound("Payment not found")
    status, capture_method, captured = found
    if status != PaymentStatus.SUCCESS:
        return BadRequest(NOT_REFUNDABLE)
    if capture_method == "manual" and not captured:
        return BadRequest(NOT_CAPTURED)
    return BadRequest(EXCEEDS_AVAILABLE)


async def create_refund(
    db: Database,
    registry: ProviderRegistry,
    merchant_id: uuid.UUID,
    payment_id: str,
    new: NewRefund,
    idempotency: IdempotencyRequest | None,
    ttl: timedelta,
    max_attempts: int,
) -> StoredResponse:
    """Reserve the amount, write the refund `pending`, its event and its job: one transaction."""
    validate_refund(new)

    async def insert(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        if not await _reserve(session, merchant_id, payment_id, new.amount):
            raise await _refusal(session, merchant_id, payment_id)
        payment = await session.get_one(Payment, payment_id)
        if not registry.can_refund(payment.provider):
            raise BadRequest(
                f"{payment.provider} has no refund API: refund this payment from the "
                f"{payment.provider} dashboard, then record it with the customer"
            )
        refund = await add_refund(session, payment, new.amount, new.reason, max_attempts)
        return 201, resources.refund_created(refund)

    return await respond_once(db, merchant_id, idempotency, ttl, insert)


REFUNDS = OwnedLookup(Refund, "Refund")


async def get_refund(db: Database, merchant_id: uuid.UUID, refund_id: str) -> dict[str, Any]:
    return resources.refund_detail(await REFUNDS.load(db, merchant_id, refund_id))


async def list_refunds(
    db: Database, merchant_id: uuid.UUID, payment_id: str, limit: int, offset: int
) -> Page:
    """A payment's refunds, newest first; 404 if the payment is not this merchant's."""
    async with db.read() as session:
        payment = await session.scalar(
            select(Payment.id).where(Payment.id == payment_id, Payment.merchant_id == merchant_id)
        )
        if payment is None:
            raise NotFound("Payment not found")
        return await fetch_page(
            session,
            Refund,
            [Refund.payment_id == payment_id, Refund.merchant_id == merchant_id],
            [Refund.created_at.desc(), Refund.id.desc()],
            resources.refund_detail,
            limit,
            offset,
        )


async def process_refund(
    db: Database, processor: SimulatedProcessor, providers: ProviderContext, refund_id: str
) -> None:
    """The `process_refund` job. Safe to run twice: only a `pending` refund is processed.

    The contract's job first checks that the payment is `success` and not over-refunded; here
    that was guaranteed when the amount was reserved, and a successful payment never changes
    state again, so there is nothing left to re-check.
    """
    async with db.read() as session:
        refund = await session.get(Refund, refund_id)
        if refund is None or refund.status != RefundStatus.PENDING:
            return
        payment = await session.get_one(Payment, refund.payment_id)
        # Hazina settles its own: the sandbox's, and a credit payment's (#14 ledger: its
        # wallet is credited back by settlement's refund reversal).
        own = payment.provider in (SANDBOX, CREDIT)
        if not own:
            access = await access_for_payment(session, providers.vault, providers.registry, payment)
    if not own:
        adapter = providers.registry.get(payment.provider)
        await _refund_at_provider(db, adapter, access, refund, providers.reconcile_schedule)
        return
    if payment.provider == SANDBOX:
        await processor.settle_refund()
    # The sandbox's answer is a provider report, settled on the one path every provider's
    # takes; its receipt makes a second run of this job a duplicate.
    report = own_report(
        ProviderEventKind.REFUND_SUCCEEDED, "sandbox-refund", payment.id, refund_id=refund.id
    )
    async with db.transaction() as session:
        await complete_current_job(session)
        scope = Scope(payment.provider, payment.merchant_id, None, refundable=True)
        await apply_report(session, scope, report, None)


async def _refund_at_provider(
    db: Database,
    adapter: PaymentProvider,
    access: ProviderAccess,
    refund: Refund,
    reconcile_schedule: Sequence[float],
) -> None:
    """Ask the provider (with the refund id as its idempotency key, so a rerun asks once).
    A confirmed refund is processed now; an accepted one waits for the provider's webhook,
    with status queries scheduled in case it never comes; a refused one fails and its amount
    becomes refundable again. Unreachable: the job retries, and gives up in the end."""
    async with db.read() as session:
        payment = await session.get_one(Payment, refund.payment_id)
    start = RefundStart(
        refund_id=refund.id,
        payment_id=payment.id,
        provider_reference=payment.provider_reference,
        provider_payment_reference=payment.provider_payment_reference,
        amount=refund.amount,
        currency=payment.currency,
        reason=refund.reason,
    )
    refusal: str | None = None
    try:
        started = await adapter.refund(access, start)
    except ProviderFailure as exc:
        if exc.retryable:
            raise
        log.warning("refund %s refused by %s: %s", refund.id, adapter.name, exc.description)
        started, refusal = None, exc.description
    async with db.transaction() as session:
        await complete_current_job(session)
        # Payment before refund, the order settlement locks them in: never a deadlock.
        locked_payment = await session.get_one(
            Payment, refund.payment_id, with_for_update=True, populate_existing=True
        )
        current = await session.get_one(
            Refund, refund.id, with_for_update=True, populate_existing=True
        )
        if current.status != RefundStatus.PENDING:
            return
        if started is None:
            await settle_refund(session, current, locked_payment, succeeded=False, reason=refusal)
            return
        current.provider_reference = started.provider_refund_reference
        current.updated_at = utc_now()
        if started.succeeded:
            await settle_refund(session, current, locked_payment, succeeded=True)
        else:
            await schedule_refund_reconciliation(session, current.id, reconcile_schedule)
