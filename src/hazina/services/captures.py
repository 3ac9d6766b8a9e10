"""Capturing payments: `POST /api/v1/payments/{id}/capture`, and authorisations that expire.

A payment is captured once. The sandbox and providers that capture on success (automatic
capture) have nothing to take at the provider: capturing marks the payment captured, as the
gateway contract says. A manual-capture payment (`"capture": false` at creation) was only
authorised: capturing asks its provider to take the money, outside any transaction (the
provider call must not hold SQLite's only writer), with an idempotency key derived from the
payment, so a retry or a concurrent capture never takes it twice. Capturing a captured payment
answers the same 200 and asks the provider nothing.
"""

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import Order, Payment
from hazina.domain.clock import utc_now
from hazina.domain.errors import BadRequest, NotFound, ProviderError
from hazina.domain.events import EventType
from hazina.domain.providers import CaptureStart, ProviderAccess, ProviderEvent, ProviderFailure
from hazina.domain.states import PaymentStatus
from hazina.services import resources
from hazina.services.events import record_event
from hazina.services.ledger.charges import has_charge, post_charge
from hazina.services.ports import SecretBox
from hazina.services.provider_access import access_for_payment
from hazina.services.registry import SANDBOX, ProviderRegistry

AUTOMATIC = "automatic"
MANUAL = "manual"
NOT_CAPTURABLE = "Payment not in capturable state"
AUTHORIZATION_EXPIRED = (
    "Payment not in capturable state: its authorisation expired before it was captured"
)


async def capture_payment(
    db: Database,
    registry: ProviderRegistry,
    vault: SecretBox,
    merchant_id: uuid.UUID,
    payment_id: str,
    amount: int,
) -> dict[str, Any]:
    """Capture `amount` of a successful payment; capturing again answers the same 200.

    Automatic capture settled the whole payment, so a smaller amount captures it as a whole
    (the contract leaves partial capture open and recommends a 200); a manual-capture payment
    captures exactly `amount` at its provider and releases the rest. A larger amount is refused.
    """
    if amount <= 0:
        raise BadRequest("amount must be a positive integer")
    async with db.read() as session:
        payment = await _find(session, merchant_id, payment_id)
        _check_capturable(payment, amount)
        if payment.captured:
            return resources.payment_detail(payment)
        manual = payment.capture_method == MANUAL
        if manual:
            access = await access_for_payment(session, vault, registry, payment)
    captured = payment.amount
    if manual:
        captured = await _capture_at_provider(registry, access, payment, amount)
    return await _mark_captured(db, payment_id, captured)


async def _find(session: AsyncSession, merchant_id: uuid.UUID, payment_id: str) -> Payment:
    payment = await session.scalar(
        select(Payment).where(Payment.id == payment_id, Payment.merchant_id == merchant_id)
    )
    if payment is None:
        raise NotFound("Payment not found")
    return payment


def _check_capturable(payment: Payment, amount: int) -> None:
    if payment.status != PaymentStatus.SUCCESS:
        raise BadRequest(NOT_CAPTURABLE)
    if amount > payment.amount:
        raise BadRequest("Capture amount exceeds payment amount")
    if payment.authorization_expired_at is not None:
        raise BadRequest(AUTHORIZATION_EXPIRED)


async def _capture_at_provider(
    registry: ProviderRegistry, access: ProviderAccess, payment: Payment, amount: int
) -> int:
    adapter = registry.get(payment.provider)
    capture = CaptureStart(
        payment_id=payment.id,
        provider_reference=payment.provider_reference,
        provider_payment_reference=payment.provider_payment_reference,
        amount=amount,
        currency=payment.currency,
    )
    try:
        return await adapter.capture(access, capture)
    except ProviderFailure as exc:
        if exc.retryable:
            raise ProviderError(f"{exc.description} The payment was not captured.") from exc
        raise BadRequest(exc.description) from exc


async def _mark_captured(db: Database, payment_id: str, amount: int) -> dict[str, Any]:
    async with db.transaction() as session:
        # Conditional, so two concurrent captures touch the row (and updated_at) once; the
        # update also locks the row for the charge below.
        marked = await session.execute(
            update(Payment)
            .where(Payment.id == payment_id, Payment.captured.is_(False))
            .values(captured=True, amount_captured=amount, updated_at=utc_now())
            .execution_options(synchronize_session=False)
        )
        payment = await session.get_one(Payment, payment_id, populate_existing=True)
        if marked.rowcount and payment.capture_method == MANUAL:  # type: ignore[attr-defined]
            # An authorisation enters the ledger when (and for what) it is captured: one that
            # expires uncaptured never does, and a partial capture counts only what was taken.
            order = await session.get_one(Order, payment.order_id)
            if not await has_charge(session, payment.id):
                await post_charge(session, payment, order, captured=amount)
        return resources.payment_detail(payment)


def captured_on_success(payment: Payment) -> bool:
    """Whether a success report means the money was captured too. A manual-capture payment
    was only authorised; the gateway contract's sandbox payments stay uncaptured until the
    merchant captures them (`"captured": false` in the contract's examples)."""
    return payment.provider != SANDBOX and payment.capture_method == AUTOMATIC


async def expire_authorization(
    session: AsyncSession, payment: Payment, event: ProviderEvent
) -> bool:
    """The provider released a manual-capture authorisation uncaptured: the payment shows
    when, and `payment.authorization_expired` tells the merchant, once. Its status stays
    `success` (statuses never move backwards), but it can no longer be captured or refunded.
    False when there was nothing to expire (captured, automatic, or expired already)."""
    now = event.occurred_at or utc_now()
    expired = await session.execute(
        update(Payment)
        .where(
            Payment.id == payment.id,
            Payment.capture_method == MANUAL,
            Payment.captured.is_(False),
            Payment.authorization_expired_at.is_(None),
        )
        .values(authorization_expired_at=now, updated_at=utc_now())
        .execution_options(synchronize_session=False)
    )
    if not expired.rowcount:  # type: ignore[attr-defined]
        return False
    await session.refresh(payment)
    await record_event(
        session,
        payment.merchant_id,
        EventType.PAYMENT_AUTHORIZATION_EXPIRED,
        payment.id,
        resources.payment_event_data(payment),
        livemode=payment.livemode,
    )
    return True
