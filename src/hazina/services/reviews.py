"""Payments held for review, resolved by the merchant: keep the money (`accept`) or send back
everything received (`refund`). Each resolution is one transaction with its event and an
audit row."""

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from hazina.db.database import Database
from hazina.db.models import Order, Payment
from hazina.domain.errors import BadRequest, NotFound
from hazina.domain.states import PaymentStatus
from hazina.services import resources
from hazina.services.audit import record_audit
from hazina.services.registry import ProviderRegistry
from hazina.services.settlement import accept_reviewed, refund_reviewed


class Resolution(StrEnum):
    ACCEPT = "accept"
    REFUND = "refund"


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
        if resolution == Resolution.ACCEPT:
            await accept_reviewed(session, payment, order)
        elif not registry.can_refund(payment.provider):
            raise BadRequest(
                f"{payment.provider} has no refund API: return the money from the "
                f"{payment.provider} dashboard, then accept this payment to record it"
            )
        else:
            await refund_reviewed(session, payment)
        record_audit(
            session,
            actor=actor,
            action=f"payment.review_{resolution.value}ed",
            target=f"payment:{payment.id}",
            merchant_id=merchant_id,
            details={"review_reason": reason},
        )
        return resources.payment_detail(payment)
