"""Payments held for review, resolved by the merchant: keep the money (`accept`), send back
everything received (`refund`), or record that it already went back outside Hazina
(`refunded_elsewhere`: the provider reported it refunded or disputed, or the merchant returned
it from the provider's dashboard). Each resolution is one transaction with its event and an
audit row.

A payment held because a refund's outcome is unknown (`refund_unconfirmed`: a provider that
cannot be asked about refunds) is resolved once the merchant has looked at the provider:
`accept` says its pending refunds went back (processed), `refund` that they did not (failed,
their amounts released) and sends back everything the payment still holds, `refunded_elsewhere`
that they, and the rest, went back."""

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import Order, Payment, Refund
from hazina.domain.errors import BadRequest, NotFound
from hazina.domain.settlement import ReviewReason
from hazina.domain.states import PaymentStatus, RefundStatus
from hazina.services import resources
from hazina.services.audit import record_audit
from hazina.services.registry import ProviderRegistry
from hazina.services.settlement import (
    accept_reviewed,
    refund_reviewed,
    refunded_elsewhere_reviewed,
    settle_refund,
)

# Why a refund held for review failed: the merchant found the money never reached the customer.
NOT_RETURNED = "Not returned: the merchant found it unpaid at the provider"


class Resolution(StrEnum):
    ACCEPT = "accept"
    REFUND = "refund"
    REFUNDED_ELSEWHERE = "refunded_elsewhere"


_AUDITED = {
    Resolution.ACCEPT: "payment.review_accepted",
    Resolution.REFUND: "payment.review_refunded",
    Resolution.REFUNDED_ELSEWHERE: "payment.review_refunded_elsewhere",
}


async def resolve_review(
    db: Database,
    registry: ProviderRegistry,
    merchant_id: uuid.UUID,
    payment_id: str,
    resolution: Resolution,
    *,
    actor: str,
) -> dict[str, Any]:
    async with db.transaction() as session:
        found = (
            await session.execute(
                select(Payment, Order)
                .join(Order, Order.id == Payment.order_id)
                .where(Payment.id == payment_id, Payment.merchant_id == merchant_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).first()
        if found is None:
            raise NotFound("Payment not found")
        payment, order = found
        if payment.status != PaymentStatus.REVIEW:
            raise BadRequest(f"Payment is not awaiting review: its status is {payment.status}")
        reason = payment.review_reason
        if reason == ReviewReason.REFUND_UNCONFIRMED:
            # Refunded elsewhere: the money went back, these refunds' included.
            returned = resolution != Resolution.REFUND
            await _settle_held_refunds(session, payment, returned=returned)
        if resolution == Resolution.ACCEPT:
            await accept_reviewed(session, payment, order)
        elif resolution == Resolution.REFUNDED_ELSEWHERE:
            await refunded_elsewhere_reviewed(session, payment)
        elif not registry.can_refund(payment.provider):
            raise BadRequest(
                f"{payment.provider} has no refund API: return the money from the "
                f"{payment.provider} dashboard, then resolve this payment as "
                f"{Resolution.REFUNDED_ELSEWHERE.value} to record it"
            )
        else:
            await refund_reviewed(session, payment)
        record_audit(
            session,
            actor=actor,
            action=_AUDITED[resolution],
            target=f"payment:{payment.id}",
            merchant_id=merchant_id,
            details={"review_reason": reason},
        )
        return resources.payment_detail(payment)


async def _settle_held_refunds(session: AsyncSession, payment: Payment, *, returned: bool) -> None:
    """Settle the (locked) payment's pending refunds as the merchant found them at the
    provider; a failed one's amount is refundable again."""
    held = await session.scalars(
        select(Refund)
        .where(Refund.payment_id == payment.id, Refund.status == RefundStatus.PENDING)
        .order_by(Refund.created_at, Refund.id)
        .with_for_update()
    )
    for refund in list(held):
        reason = None if returned else NOT_RETURNED
        await settle_refund(session, refund, payment, succeeded=returned, reason=reason)
    # A failure subtracts in SQL; what follows reads the total.
    await session.refresh(payment, ["amount_refunded"])
